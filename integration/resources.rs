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

/// The container's v1 cgroup file `file` of `controller`, read.
fn read_v1(ctx: &TestCtx, id: &str, controller: &str, file: &str) -> String {
    let p = v1_file(ctx, id, controller, file)
        .unwrap_or_else(|| panic!("{file} missing in the container's {controller} cgroup"));
    fs::read_to_string(p).unwrap().trim().to_string()
}

/// runc's `update` flags, each landing in its cgroup file; a quota given
/// alone keeps the period; bad values and Intel RDT without resctrl are
/// refused in runc's words.
#[test]
fn update_flags_set_runcs_knobs() {
    let needed = [
        "memory/memory.memsw.limit_in_bytes",
        "cpu/cpu.cfs_quota_us",
        "pids/cgroup.procs",
        "cpuset/cpuset.cpus",
    ];
    if let Some(missing) = needed
        .iter()
        .find(|f| !std::path::Path::new("/sys/fs/cgroup").join(f).exists())
    {
        eprintln!("note: resources::update_flags needs v1 {missing}; skipping");
        return;
    }
    let ctx = TestCtx::new("resources::update_flags");
    let mut b = ctx.bundle();
    b.args(&["sleep", "1000"]);
    let id = ctx.id("updflags");
    ctx.create(&mut b, &id).ok();
    ctx.rt(&[
        "update",
        "--memory",
        "64m",
        "--memory-swap",
        "128M",
        "--memory-reservation",
        "32m",
        "--cpu-share",
        "512",
        "--cpu-period",
        "50000",
        "--cpu-quota",
        "20000",
        "--pids-limit",
        "42",
        "--cpuset-cpus",
        "0",
        "--cpuset-mems",
        "0",
        &id,
    ])
    .ok();
    let expect = [
        ("memory", "memory.limit_in_bytes", (64u64 << 20).to_string()),
        (
            "memory",
            "memory.memsw.limit_in_bytes",
            (128u64 << 20).to_string(),
        ),
        (
            "memory",
            "memory.soft_limit_in_bytes",
            (32u64 << 20).to_string(),
        ),
        ("cpu", "cpu.shares", "512".into()),
        ("cpu", "cpu.cfs_period_us", "50000".into()),
        ("cpu", "cpu.cfs_quota_us", "20000".into()),
        ("pids", "pids.max", "42".into()),
        ("cpuset", "cpuset.cpus", "0".into()),
        ("cpuset", "cpuset.mems", "0".into()),
    ];
    for (controller, file, value) in &expect {
        assert_eq!(&read_v1(&ctx, &id, controller, file), value, "{file}");
    }
    ctx.rt(&["update", "--cpu-quota", "30000", "--pids-limit", "-1", &id])
        .ok();
    assert_eq!(read_v1(&ctx, &id, "cpu", "cpu.cfs_quota_us"), "30000");
    assert_eq!(read_v1(&ctx, &id, "cpu", "cpu.cfs_period_us"), "50000");
    assert_eq!(read_v1(&ctx, &id, "pids", "pids.max"), "max");
    // runc 1.1 ignores kernel memory limits, with a warning.
    ctx.rt(&[
        "update",
        "--kernel-memory",
        "1m",
        "--kernel-memory-tcp",
        "1m",
        &id,
    ])
    .ok()
    .stderr_has("Kernel memory settings are ignored");
    ctx.rt(&["update", "--memory", "lots", &id])
        .fails_with(1)
        .stderr_has("memory")
        .stderr_has("lots");
    if !std::path::Path::new("/sys/fs/resctrl/info/L3").exists() {
        ctx.rt(&["update", "--l3-cache-schema", "L3:0=f", &id])
            .fails_with(1)
            .stderr_has("l3 cache schema is not enabled");
    }
    assert_eq!(
        read_v1(&ctx, &id, "memory", "memory.limit_in_bytes"),
        (64u64 << 20).to_string(),
        "a refused update changed the limit"
    );
    ctx.delete_force(&id).ok();
    ctx.assert_nothing_left(&id);
}

/// cpu.rt_period_us / cpu.rt_runtime_us follow linux.resources.cpu at
/// create and `update --cpu-rt-period/--cpu-rt-runtime` later. The test
/// gives its own parent cgroup a real-time budget to share out.
#[test]
fn realtime_cpu_budget_is_set_and_updated() {
    let cpu_root = std::path::Path::new("/sys/fs/cgroup/cpu");
    if !cpu_root.join("cpu.rt_runtime_us").exists() {
        eprintln!("note: resources::rt_budget needs v1 cpu with RT group scheduling; skipping");
        return;
    }
    let ctx = TestCtx::new("resources::rt_budget");
    let parent = cpu_root.join(&ctx.cgroup_parent);
    fs::create_dir(&parent).unwrap();
    fs::write(parent.join("cpu.rt_runtime_us"), "20000").unwrap();
    let mut b = ctx.bundle();
    b.set(
        "/linux/resources/cpu",
        json!({"realtimePeriod": 100000, "realtimeRuntime": 1000}),
    )
    .args(&["sleep", "1000"]);
    let id = ctx.id("rt");
    ctx.create(&mut b, &id).ok();
    let budget = || {
        (
            read_v1(&ctx, &id, "cpu", "cpu.rt_period_us"),
            read_v1(&ctx, &id, "cpu", "cpu.rt_runtime_us"),
        )
    };
    assert_eq!(budget(), ("100000".into(), "1000".into()), "at create");
    ctx.rt(&["update", "--cpu-rt-runtime", "1500", &id]).ok();
    assert_eq!(budget(), ("100000".into(), "1500".into()));
    ctx.rt(&[
        "update",
        "--cpu-rt-period",
        "200000",
        "--cpu-rt-runtime",
        "3000",
        &id,
    ])
    .ok();
    assert_eq!(budget(), ("200000".into(), "3000".into()));
    ctx.delete_force(&id).ok();
    ctx.assert_nothing_left(&id);
}

/// Updating v1 device rules of a container that has cgroups of its own
/// below its cgroup: an "a" line would get EINVAL there, so only what
/// changes is written. A list that starts over (Podman sends the spec's
/// whole list) keeps rt's default devices (/dev/null, /dev/pts, ...).
#[test]
fn update_device_rules_with_child_cgroups() {
    let ctx = TestCtx::new("resources::update_devices");
    let mut b = ctx.bundle();
    b.args(&["sleep", "1000"]);
    let id = ctx.id("upddev");
    ctx.create(&mut b, &id).ok();
    let Some(list) = v1_file(&ctx, &id, "devices", "devices.list") else {
        eprintln!("note: resources::update_devices needs a v1 devices hierarchy; skipping");
        ctx.delete_force(&id).ok();
        return;
    };
    let child = list.parent().unwrap().join("nested");
    fs::create_dir(&child).unwrap();
    let update = ctx.dir.join("devices.json");
    fs::write(
        &update,
        json!({"devices": [
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "b", "major": 8, "minor": 0, "access": "r"}
        ]})
        .to_string(),
    )
    .unwrap();
    let out = ctx.rt(&["update", "-r", path(&update), &id]);
    let _ = fs::remove_dir(&child);
    out.ok();
    let rules = fs::read_to_string(&list).unwrap();
    // runc 1.1.5 leaves devices alone on update (it skips them).
    if !testing_runc() {
        for line in ["b 8:0 r", "c 1:3 rwm", "c 136:* rwm", "c 5:2 rwm"] {
            assert!(
                rules.lines().any(|l| l == line),
                "devices.list lacks {line:?}:\n{rules}"
            );
        }
    }
    ctx.delete_force(&id).ok();
    ctx.assert_nothing_left(&id);
}

/// A caller made the container's parent cgroup and left its v1
/// cpuset.cpus/mems empty: rt fills them from the grandparent (runc does)
/// instead of failing with "no space left on device".
#[test]
fn empty_cpuset_of_a_callers_parent_is_filled() {
    let cpuset_root = std::path::Path::new("/sys/fs/cgroup/cpuset");
    if !cpuset_root.join("cpuset.cpus").exists() {
        eprintln!("note: resources::empty_cpuset needs a v1 cpuset hierarchy; skipping");
        return;
    }
    let ctx = TestCtx::new("resources::empty_cpuset");
    let parent = cpuset_root.join(&ctx.cgroup_parent);
    fs::create_dir(&parent).unwrap();
    for f in ["cpuset.cpus", "cpuset.mems"] {
        // Empty, whatever cgroup.clone_children says.
        fs::write(parent.join(f), "\n").unwrap();
        assert_eq!(fs::read_to_string(parent.join(f)).unwrap().trim(), "");
    }
    let mut b = ctx.bundle();
    b.sh("cat /sys/fs/cgroup/cpuset/cpuset.cpus");
    let out = ctx.output_of(&mut b, "cpuset");
    let host = fs::read_to_string(cpuset_root.join("cpuset.cpus")).unwrap();
    assert_eq!(out.trim(), host.trim());
    for f in ["cpuset.cpus", "cpuset.mems"] {
        assert_eq!(
            fs::read_to_string(parent.join(f)).unwrap().trim(),
            fs::read_to_string(cpuset_root.join(f)).unwrap().trim(),
            "{f} of the caller's parent"
        );
    }
}

/// Makes the container's (or any test-owned) cgroup `rel` in the v1
/// hierarchies named, returning their directories.
fn make_v1_cgroup(rel: &str, controllers: &[&str]) -> Vec<std::path::PathBuf> {
    controllers
        .iter()
        .map(|c| {
            let dir = std::path::Path::new("/sys/fs/cgroup")
                .join(c)
                .join(rel.trim_start_matches('/'));
            fs::create_dir_all(&dir).unwrap();
            dir
        })
        .collect()
}

/// A container whose cgroup already holds a process runs, with runc's
/// warning; the process stays where it was.
#[test]
fn non_empty_cgroup_gets_runcs_warning() {
    if !std::path::Path::new("/sys/fs/cgroup/devices/devices.list").exists() {
        eprintln!("note: resources::non_empty needs a v1 devices hierarchy; skipping");
        return;
    }
    let ctx = TestCtx::new("resources::non_empty");
    let id = ctx.id("nonempty");
    let rel = ctx.cgroups_path(&id);
    let dirs = make_v1_cgroup(&rel, &["devices", "memory"]);
    let mut squatter = std::process::Command::new("sleep")
        .arg("1000")
        .spawn()
        .unwrap();
    for d in &dirs {
        fs::write(d.join("cgroup.procs"), squatter.id().to_string()).unwrap();
    }
    let mut b = ctx.bundle();
    let out = ctx.run(&mut b, &id);
    let procs = fs::read_to_string(dirs[0].join("cgroup.procs")).unwrap();
    let _ = squatter.kill();
    let _ = squatter.wait();
    cgroups::remove_tree(&rel);
    out.ok()
        .stderr_has("container's cgroup is not empty: 1 process(es) found");
    assert!(
        procs.lines().any(|l| l.trim() == squatter.id().to_string()),
        "the process already there was moved: {procs:?}"
    );
}

/// Thaws a test-made v1 freezer cgroup when dropped, so a failing test
/// leaves nothing frozen (frozen tasks ignore even SIGKILL).
struct Thaw(std::path::PathBuf);

impl Drop for Thaw {
    fn drop(&mut self) {
        let _ = fs::write(self.0.join("freezer.state"), "THAWED");
    }
}

/// `run` into a frozen cgroup fails at once with runc's "unexpectedly
/// frozen" (the init would stop there and create would wait forever), and
/// so does one below a frozen parent.
#[test]
fn run_into_a_frozen_cgroup_fails_instead_of_hanging() {
    if !std::path::Path::new("/sys/fs/cgroup/freezer/cgroup.procs").exists() {
        eprintln!("note: resources::frozen needs a v1 freezer hierarchy; skipping");
        return;
    }
    let ctx = TestCtx::new("resources::frozen");
    let id = ctx.id("frozen");
    let rel = ctx.cgroups_path(&id);
    let frozen = make_v1_cgroup(&rel, &["freezer"]).remove(0);
    let thaw = Thaw(frozen.clone());
    fs::write(frozen.join("freezer.state"), "FROZEN").unwrap();
    let mut b = ctx.bundle();
    let out = ctx.run(&mut b, &id);
    drop(thaw);
    cgroups::remove_tree(&rel);
    out.fails_with(1).stderr_has("unexpectedly frozen");
    ctx.assert_nothing_left(&id);
    // runc 1.1.5 looks at the container's own cgroup only (and hangs here).
    if testing_runc() {
        return;
    }
    let parent = make_v1_cgroup(&ctx.cgroup_parent, &["freezer"]).remove(0);
    let thaw = Thaw(parent.clone());
    fs::write(parent.join("freezer.state"), "FROZEN").unwrap();
    let below = ctx.id("below");
    let out = ctx.run(&mut b, &below);
    drop(thaw);
    out.fails_with(1).stderr_has("unexpectedly frozen");
    ctx.assert_nothing_left(&below);
}
