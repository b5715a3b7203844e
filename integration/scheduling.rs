//! How the kernel runs the container process (runtime-spec 1.2):
//! linux.personality, process.scheduler, process.ioPriority and
//! process.execCPUAffinity, for the init and for `exec`, and 1.3's
//! linux.memoryPolicy (the init's). runc 1.1.5 predates all five, so
//! these are rt-only.

use crate::common::*;

fn skip(test: &str) -> bool {
    skip_rt_only(
        test,
        "runc 1.1.5 predates runtime-spec 1.2's scheduling fields",
    )
}

#[test]
fn personality_linux32_changes_the_machine_name() {
    if skip("scheduling::personality") {
        return;
    }
    let ctx = TestCtx::new("scheduling::personality");
    let mut b = ctx.bundle();
    b.set("/linux/personality", json!({"domain": "LINUX32"}))
        .sh("uname -m");
    let out = ctx.output_of(&mut b, "pers32");
    assert_eq!(out.trim(), "i686");
    let mut plain = ctx.bundle();
    plain.sh("uname -m");
    assert_eq!(ctx.output_of(&mut plain, "pers64").trim(), "x86_64");
}

/// SCHED_BATCH with nice 7: /proc/self/stat's nice (field 19) and policy
/// (field 41) of a child of the container process, which inherits both.
#[test]
fn scheduler_policy_and_nice_reach_the_process_and_exec() {
    if skip("scheduling::scheduler") {
        return;
    }
    let ctx = TestCtx::new("scheduling::scheduler");
    let mut b = ctx.bundle();
    b.set(
        "/process/scheduler",
        json!({"policy": "SCHED_BATCH", "nice": 7}),
    )
    .sh("cut -d' ' -f19,41 /proc/self/stat");
    assert_eq!(ctx.output_of(&mut b, "sched").trim(), "7 3");

    let mut running = ctx.bundle();
    running.args(&["sleep", "1000"]);
    let id = ctx.id("schedexec");
    ctx.create(&mut running, &id).ok();
    ctx.start(&id).ok();
    let process = json!({
        "args": ["cut", "-d", " ", "-f41", "/proc/self/stat"],
        "cwd": "/",
        "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
        "user": {"uid": 0, "gid": 0},
        "scheduler": {"policy": "SCHED_IDLE"}
    });
    let pfile = ctx.dir.join("process.json");
    std::fs::write(&pfile, process.to_string()).unwrap();
    let out = ctx.rt(&["exec", "--process", path(&pfile), &id]);
    ctx.delete_force(&id).ok();
    ctx.assert_nothing_left(&id);
    // SCHED_IDLE is policy 5.
    assert_eq!(out.ok().stdout.trim(), "5");
}

#[test]
fn io_priority_class_and_level() {
    if skip("scheduling::ioprio") {
        return;
    }
    let ctx = TestCtx::new("scheduling::ioprio");
    let mut b = ctx.bundle();
    b.set(
        "/process/ioPriority",
        json!({"class": "IOPRIO_CLASS_BE", "priority": 6}),
    )
    .sh("ionice -p $$");
    assert_eq!(
        ctx.output_of(&mut b, "ioprio").trim(),
        "best-effort: prio 6"
    );
}

#[test]
fn exec_cpu_affinity_final_is_the_process_affinity() {
    if skip("scheduling::affinity") {
        return;
    }
    let ctx = TestCtx::new("scheduling::affinity");
    let mut b = ctx.bundle();
    b.set(
        "/process/execCPUAffinity",
        json!({"initial": "0", "final": "1"}),
    )
    .sh("grep Cpus_allowed_list /proc/self/status");
    let out = ctx.output_of(&mut b, "affinity");
    assert_eq!(out.split_whitespace().last(), Some("1"), "{out}");
}

#[test]
fn bad_scheduling_fields_name_the_field_and_leave_nothing() {
    if skip("scheduling::bad") {
        return;
    }
    let ctx = TestCtx::new("scheduling::bad");
    for (pointer, value, field) in [
        (
            "/process/ioPriority",
            json!({"class": "IOPRIO_CLASS_RT", "priority": 9}),
            "process.ioPriority.priority",
        ),
        (
            "/process/scheduler",
            json!({"policy": "SCHED_FIFO", "priority": 200}),
            "process.scheduler.priority",
        ),
        (
            "/process/scheduler",
            json!({"policy": "SCHED_OTHER", "nice": 40}),
            "process.scheduler.nice",
        ),
        (
            "/process/execCPUAffinity",
            json!({"final": "2-1"}),
            "process.execCPUAffinity",
        ),
    ] {
        let mut b = ctx.bundle();
        b.set(pointer, value);
        b.save();
        let id = ctx.id("badsched");
        let out = ctx.rt(&["create", "-b", path(&b.dir), &id]);
        out.fails_with(1);
        out.stderr_has(field);
        ctx.assert_nothing_left(&id);
    }
}

/// The LINUX domain is the native one: x86_64, also after an exec'd shell.
#[test]
fn personality_linux_keeps_the_native_machine_name() {
    if skip("scheduling::personality_linux") {
        return;
    }
    let ctx = TestCtx::new("scheduling::personality_linux");
    let mut b = ctx.bundle();
    b.set("/linux/personality", json!({"domain": "LINUX"}))
        .sh("uname -m");
    assert_eq!(ctx.output_of(&mut b, "perslinux").trim(), "x86_64");
}

/// The policy of the task shows in every mapping of /proc/self/numa_maps
/// that has none of its own (the kernel's mpol_to_str words).
fn numa_policy_of(ctx: &TestCtx, policy: Value, label: &str) -> String {
    let mut b = ctx.bundle();
    b.set("/linux/memoryPolicy", policy)
        .sh("head -n1 /proc/self/numa_maps");
    let out = ctx.output_of(&mut b, label);
    out.split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

/// linux.memoryPolicy (runtime-spec 1.3) is the container process's NUMA
/// policy: mode, nodes and flags as set_mempolicy(2) took them. The host
/// has node 0 only.
#[test]
fn memory_policy_reaches_the_process() {
    if skip("scheduling::memory_policy") {
        return;
    }
    let ctx = TestCtx::new("scheduling::memory_policy");
    assert_eq!(
        numa_policy_of(
            &ctx,
            json!({"mode": "MPOL_INTERLEAVE", "nodes": "0"}),
            "mpolil"
        ),
        "interleave:0"
    );
    assert_eq!(
        numa_policy_of(
            &ctx,
            json!({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]}),
            "mpolbind"
        ),
        "bind=static:0"
    );
    assert_eq!(
        numa_policy_of(&ctx, json!({"mode": "MPOL_LOCAL"}), "mpollocal"),
        "local"
    );
    assert_eq!(
        numa_policy_of(&ctx, json!({"mode": "MPOL_DEFAULT"}), "mpoldef"),
        "default"
    );
}

/// A policy the config gets wrong (checked at create) or the host cannot
/// give (a node it lacks: set_mempolicy's EINVAL in the init) fails create
/// with status 1, naming the field, and leaves nothing.
#[test]
fn bad_memory_policy_names_the_field_and_leaves_nothing() {
    if skip("scheduling::memory_policy_bad") {
        return;
    }
    let ctx = TestCtx::new("scheduling::memory_policy_bad");
    for (policy, says) in [
        (
            json!({"mode": "MPOL_BIND"}),
            "linux.memoryPolicy.nodes: MPOL_BIND needs nodes",
        ),
        (json!({"mode": "MPOL_NOPE"}), "linux.memoryPolicy"),
        (
            json!({"mode": "MPOL_INTERLEAVE", "nodes": "0-x"}),
            "linux.memoryPolicy.nodes",
        ),
        (
            json!({"mode": "MPOL_BIND", "nodes": "0",
                   "flags": ["MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES"]}),
            "linux.memoryPolicy.flags",
        ),
        (
            json!({"mode": "MPOL_BIND", "nodes": "7"}),
            "linux.memoryPolicy: set_mempolicy MPOL_BIND on nodes 7",
        ),
    ] {
        let mut b = ctx.bundle();
        b.set("/linux/memoryPolicy", policy).args(&["true"]);
        let id = ctx.id("badmpol");
        let out = ctx.create(&mut b, &id);
        out.fails_with(1);
        out.stderr_has(says);
        ctx.assert_nothing_left(&id);
    }
}

/// `features` lists the memory policy modes and flags rt applies.
#[test]
fn features_report_memory_policy() {
    if skip("scheduling::features") {
        return;
    }
    let ctx = TestCtx::new("scheduling::features");
    let out = ctx.rt(&["features"]);
    out.ok();
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    let mp = &v["linux"]["memoryPolicy"];
    for mode in ["MPOL_BIND", "MPOL_INTERLEAVE", "MPOL_LOCAL", "MPOL_DEFAULT"] {
        assert!(
            mp["modes"]
                .as_array()
                .is_some_and(|a| a.iter().any(|m| m == mode)),
            "{mode} missing: {mp}"
        );
    }
    assert!(
        mp["flags"]
            .as_array()
            .is_some_and(|a| a.iter().any(|f| f == "MPOL_F_STATIC_NODES")),
        "{mp}"
    );
}
