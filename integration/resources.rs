//! linux.resources applied to the container's cgroup, and rt's own
//! footprint inside it.

use crate::common::*;
use std::fs;

/// The v1 memory hierarchy the test host has (hybrid or v1).
fn v1_memory_present() -> bool {
    std::path::Path::new("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists()
}

/// A container must start in a tiny memory cgroup: the init is charged
/// there from its first page. rt manages 1 MiB (runc 1.1.5 fails at 1 MiB
/// on this host: its Go init does not fit).
#[test]
fn container_runs_in_a_one_mib_memory_cgroup() {
    if skip_rt_only(
        "resources::tiny_memory",
        "runc's init needs more than 1 MiB",
    ) {
        return;
    }
    if !v1_memory_present() {
        eprintln!("resources::tiny_memory: no v1 memory hierarchy; covered by hack/vm on v2");
        return;
    }
    let ctx = TestCtx::new("resources::tiny_memory");
    let mut b = ctx.bundle();
    b.set("/linux/resources/memory", json!({"limit": 1048576}))
        .sh("echo limit=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes)");
    let out = ctx.output_of(&mut b, "mem1m");
    assert_eq!(out.trim(), "limit=1048576");
}

#[test]
fn pids_limit_is_enforced() {
    let ctx = TestCtx::new("resources::pids");
    let mut b = ctx.bundle();
    b.set("/linux/resources/pids", json!({"limit": 5}))
        .sh("cat /sys/fs/cgroup/pids/pids.max; (for i in 1 2 3 4 5 6 7 8; do sleep 5 & done) 2>/dev/null; echo forks_failed=$?");
    let out = ctx.output_of(&mut b, "pids");
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("5"), "{out}");
    assert_ne!(
        lines.next(),
        Some("forks_failed=0"),
        "pids.max=5 did not stop 8 forks: {out}"
    );
}

fn v1_file(ctx: &TestCtx, id: &str, controller: &str, file: &str) -> Option<std::path::PathBuf> {
    let p = std::path::Path::new("/sys/fs/cgroup")
        .join(controller)
        .join(ctx.cgroups_path(id).trim_start_matches('/'))
        .join(file);
    p.exists().then_some(p)
}

#[test]
fn v1_memory_limits_and_kernel_tcp() {
    if skip_rt_only(
        "resources::memory_v1",
        "runc 1.1.5 leaves memory.kernelTCP unset",
    ) {
        return;
    }
    let ctx = TestCtx::new("resources::memory_v1");
    if !std::path::Path::new("/sys/fs/cgroup/memory/memory.kmem.tcp.limit_in_bytes").exists() {
        eprintln!("note: no v1 memory.kmem.tcp here; skipping");
        return;
    }
    let mut b = ctx.bundle();
    b.set(
        "/linux/resources/memory",
        json!({"limit": 64 << 20, "kernelTCP": 48 << 20, "swappiness": 10}),
    )
    .args(&["sleep", "1000"]);
    let id = ctx.id("mem");
    ctx.create(&mut b, &id).ok();
    let read = |file: &str| {
        let p = v1_file(&ctx, &id, "memory", file)
            .unwrap_or_else(|| panic!("{file} missing in the container's memory cgroup"));
        fs::read_to_string(p).unwrap().trim().to_string()
    };
    assert_eq!(read("memory.limit_in_bytes"), (64u64 << 20).to_string());
    assert_eq!(
        read("memory.kmem.tcp.limit_in_bytes"),
        (48u64 << 20).to_string()
    );
    assert_eq!(read("memory.swappiness"), "10");
    ctx.delete_force(&id).ok();
    ctx.assert_nothing_left(&id);
}

/// The init and an `exec`'d process sit in the container's cgroup in every
/// hierarchy the host has (rt moves them itself: clone3 into the cgroup2
/// directory and a per-thread `tasks` write on v1; see
/// Placement::enter_self). A hierarchy that was skipped shows rt's own
/// cgroup instead.
#[test]
fn init_and_exec_process_are_in_the_container_cgroup_everywhere() {
    let ctx = TestCtx::new("resources::placement");
    let mut b = ctx.bundle();
    b.args(&["sleep", "1000"]);
    let id = ctx.id("placement");
    ctx.create(&mut b, &id).ok();
    let pid = fs::read_to_string(ctx.pid_file(&id)).unwrap();
    let init_cgroups = fs::read_to_string(format!("/proc/{}/cgroup", pid.trim())).unwrap();
    let exec_out = ctx.rt(&["exec", &id, "cat", "/proc/self/cgroup"]);
    ctx.delete_force(&id).ok();
    ctx.assert_nothing_left(&id);
    let exec_cgroups = exec_out.ok().stdout.clone();
    let wanted = ctx.cgroups_path(&id);
    for (who, table) in [("init", &init_cgroups), ("exec", &exec_cgroups)] {
        let lines: Vec<&str> = table.lines().collect();
        let host_lines = fs::read_to_string("/proc/self/cgroup")
            .unwrap()
            .lines()
            .count();
        assert_eq!(lines.len(), host_lines, "{who}: {table}");
        for line in lines {
            let path = line.splitn(3, ':').nth(2).unwrap_or("");
            assert_eq!(path, wanted, "{who} is elsewhere in {line:?}:\n{table}");
        }
    }
}

/// The first block device of the host, as (major, minor).
fn some_block_device() -> Option<(i64, i64)> {
    let mut names: Vec<_> = fs::read_dir("/sys/block").ok()?.flatten().collect();
    names.sort_by_key(|e| e.file_name());
    names.iter().find_map(|e| {
        let dev = fs::read_to_string(e.path().join("dev")).ok()?;
        let (maj, min) = dev.trim().split_once(':')?;
        Some((maj.parse().ok()?, min.parse().ok()?))
    })
}

#[test]
fn v1_blkio_throttle_is_applied() {
    let ctx = TestCtx::new("resources::blkio_v1");
    let Some((major, minor)) = some_block_device() else {
        eprintln!("note: no block device; skipping");
        return;
    };
    if !std::path::Path::new("/sys/fs/cgroup/blkio/blkio.throttle.read_bps_device").exists() {
        eprintln!("note: no v1 blkio throttling here; skipping");
        return;
    }
    let mut b = ctx.bundle();
    b.set(
        "/linux/resources/blockIO",
        json!({"throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": 1048576}]}),
    )
    .args(&["sleep", "1000"]);
    let id = ctx.id("blkio");
    ctx.create(&mut b, &id).ok();
    let file = v1_file(&ctx, &id, "blkio", "blkio.throttle.read_bps_device")
        .expect("container's blkio cgroup");
    assert_eq!(
        fs::read_to_string(file).unwrap().trim(),
        format!("{major}:{minor} 1048576")
    );
    ctx.delete_force(&id).ok();
    ctx.assert_nothing_left(&id);
}

/// Limits for controllers the host has no hierarchy for (here: hugetlb,
/// net_cls, net_prio) are skipped with a warning naming each, so kubelet's
/// zero hugepage limits do not fail every pod. runc 1.1.5 refuses them.
#[test]
fn limits_for_missing_controllers_are_skipped_with_a_warning() {
    if skip_rt_only(
        "resources::missing_controllers",
        "runc 1.1.5 refuses limits for unmounted controllers",
    ) {
        return;
    }
    let hierarchies = crate::common::cgroups::hierarchies();
    let present = |c: &str| {
        hierarchies.iter().any(|h| {
            h.file_name()
                .is_some_and(|n| n.to_string_lossy().split(',').any(|x| x == c))
        })
    };
    if !present("memory") || present("hugetlb") || present("net_cls") || present("net_prio") {
        eprintln!("note: needs a v1 host without hugetlb, net_cls and net_prio; skipping");
        return;
    }
    let ctx = TestCtx::new("resources::missing_controllers");
    let mut b = ctx.bundle();
    b.set(
        "/linux/resources/hugepageLimits",
        json!([{"pageSize": "2MB", "limit": 0}, {"pageSize": "1GB", "limit": 0}]),
    )
    .set(
        "/linux/resources/network",
        json!({"classID": 1048577, "priorities": [{"name": "lo", "priority": 5}]}),
    )
    .set("/linux/resources/pids", json!({"limit": 7}))
    .sh("cat /sys/fs/cgroup/pids/pids.max");
    let id = ctx.id("missing");
    let out = ctx.run(&mut b, &id);
    out.ok();
    assert_eq!(out.stdout.trim(), "7", "the other limits still apply");
    for what in [
        "hugepageLimits",
        "hugetlb",
        "network.classID",
        "net_cls",
        "network.priorities",
        "net_prio",
    ] {
        out.stderr_has(what);
    }
    out.stderr_has("warning");
    ctx.assert_nothing_left(&id);
}

/// `docker update --memory 64m --memory-swap 128m` pipes this to
/// `update --resources=-`: 0 means "leave as is" for every other knob, as
/// runc reads it (rt once wrote period 0: "cpu.cfs_period_us: invalid
/// argument").
#[test]
fn update_takes_dockers_zero_knobs_as_unset() {
    if !v1_memory_present()
        || !std::path::Path::new("/sys/fs/cgroup/cpu/cpu.cfs_period_us").exists()
    {
        eprintln!("note: resources::docker_update needs v1 memory and cpu; skipping");
        return;
    }
    let ctx = TestCtx::new("resources::docker_update");
    let mut b = ctx.bundle();
    b.set(
        "/linux/resources/memory",
        json!({"limit": 32 << 20, "swap": 64 << 20}),
    )
    .set(
        "/linux/resources/cpu",
        json!({"shares": 512, "quota": 50000, "period": 100000}),
    )
    .args(&["sleep", "1000"]);
    let id = ctx.id("dupd");
    ctx.create(&mut b, &id).ok();
    let update = ctx.dir.join("update.json");
    fs::write(
        &update,
        r#"{"memory":{"limit":67108864,"reservation":0,"swap":134217728,"kernel":0},"cpu":{"shares":0,"quota":0,"period":0},"blockIO":{"weight":0}}"#,
    )
    .unwrap();
    let mut cmd = ctx.rt_command(&["update", "--resources=-", &id]);
    cmd.stdin(fs::File::open(&update).unwrap());
    ctx.exec(cmd).ok();
    let read = |controller: &str, file: &str| {
        let p = v1_file(&ctx, &id, controller, file)
            .unwrap_or_else(|| panic!("{file} missing in the container's {controller} cgroup"));
        fs::read_to_string(p).unwrap().trim().to_string()
    };
    assert_eq!(
        read("memory", "memory.limit_in_bytes"),
        (64u64 << 20).to_string()
    );
    if v1_file(&ctx, &id, "memory", "memory.memsw.limit_in_bytes").is_some() {
        assert_eq!(
            read("memory", "memory.memsw.limit_in_bytes"),
            (128u64 << 20).to_string()
        );
    }
    assert_eq!(read("cpu", "cpu.shares"), "512");
    assert_eq!(read("cpu", "cpu.cfs_quota_us"), "50000");
    assert_eq!(read("cpu", "cpu.cfs_period_us"), "100000");
    ctx.delete_force(&id).ok();
    ctx.assert_nothing_left(&id);
}

/// `docker update --memory 128m --memory-swap 256m` of a container at
/// 32m/64m: the new limit exceeds the old memsw limit, so memsw must be
/// raised first (rt once wrote the limit first: "invalid argument").
#[test]
fn update_raises_memory_and_swap_in_the_order_the_kernel_accepts() {
    if !std::path::Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists() {
        eprintln!("note: resources::raise_memsw needs v1 memory with swap accounting; skipping");
        return;
    }
    let ctx = TestCtx::new("resources::raise_memsw");
    let mut b = ctx.bundle();
    b.set(
        "/linux/resources/memory",
        json!({"limit": 32 << 20, "swap": 64 << 20}),
    )
    .args(&["sleep", "1000"]);
    let id = ctx.id("memsw");
    ctx.create(&mut b, &id).ok();
    let read = |file: &str| {
        let p = v1_file(&ctx, &id, "memory", file)
            .unwrap_or_else(|| panic!("{file} missing in the container's memory cgroup"));
        fs::read_to_string(p).unwrap().trim().to_string()
    };
    for (limit, swap) in [(128u64 << 20, 256u64 << 20), (16 << 20, 24 << 20)] {
        let update = ctx.dir.join("update.json");
        fs::write(
            &update,
            json!({"memory": {"limit": limit, "swap": swap}}).to_string(),
        )
        .unwrap();
        let mut cmd = ctx.rt_command(&["update", "--resources=-", &id]);
        cmd.stdin(fs::File::open(&update).unwrap());
        ctx.exec(cmd).ok();
        assert_eq!(read("memory.limit_in_bytes"), limit.to_string());
        assert_eq!(read("memory.memsw.limit_in_bytes"), swap.to_string());
    }
    ctx.delete_force(&id).ok();
    ctx.assert_nothing_left(&id);
}
