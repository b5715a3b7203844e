//! Namespaces, checked from inside the container.

use crate::common::*;
use std::fs;
use std::process::Command;

fn host_ns(kind: &str) -> String {
    fs::read_link(format!("/proc/self/ns/{kind}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// Lines `key=value` printed by the container, as a lookup.
fn field<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
        .unwrap_or_else(|| panic!("container output lacks {key}=:\n{out}"))
}

#[test]
fn default_namespaces_are_new() {
    let ctx = TestCtx::new("namespaces::defaults");
    let mut b = ctx.bundle();
    b.hostname("rt-host");
    b.sh("echo pid=$$; \
          echo ifaces=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\\n' ,); \
          echo hostname=$(cat /proc/sys/kernel/hostname); \
          for n in ipc mnt net uts pid; do echo $n=$(readlink /proc/self/ns/$n); done");
    let out = ctx.output_of(&mut b, "ns");
    assert_eq!(
        field(&out, "pid"),
        "1",
        "process is not pid 1 of a new pid namespace"
    );
    assert_eq!(
        field(&out, "ifaces"),
        "lo,",
        "new network namespace has only lo"
    );
    assert_eq!(field(&out, "hostname"), "rt-host");
    for kind in ["ipc", "mnt", "net", "uts", "pid"] {
        assert_ne!(
            field(&out, kind),
            host_ns(kind),
            "{kind} namespace is the host's"
        );
    }
}

/// rt makes a container's new network namespace on a helper thread before
/// the clone (process::netns_ahead) and the init joins it, unless the
/// container has a user namespace, which must own it: then the clone makes
/// it. Either way the container has a network namespace of its own with
/// only lo; the debug log tells which way it was made.
#[test]
fn network_namespace_is_made_ahead_only_without_a_user_namespace() {
    if skip_rt_only(
        "network_namespace_is_made_ahead_only_without_a_user_namespace",
        "rt's own debug record",
    ) {
        return;
    }
    let ctx = TestCtx::new("namespaces::netns_ahead");
    for userns in [false, true] {
        let mut b = ctx.bundle();
        if userns {
            let map = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
            b.namespace("user", None)
                .set("/linux/uidMappings", map.clone())
                .set("/linux/gidMappings", map)
                .without_mount("/sys/fs/cgroup");
        }
        b.sh(
            "echo ifaces=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\\n' ,); \
              echo net=$(readlink /proc/self/ns/net)",
        );
        let id = ctx.id(if userns { "netu" } else { "net" });
        ctx.prepare(&mut b, &id);
        let log = ctx.dir.join(format!("{id}.log"));
        let out = ctx.rt(&[
            "--debug",
            "--log",
            path(&log),
            "run",
            "-b",
            path(&b.dir),
            &id,
        ]);
        out.ok();
        ctx.assert_nothing_left(&id);
        assert_eq!(field(&out.stdout, "ifaces"), "lo,", "userns {userns}");
        assert_ne!(field(&out.stdout, "net"), host_ns("net"), "userns {userns}");
        let logged = fs::read_to_string(&log).unwrap_or_default();
        assert_eq!(
            logged.contains("network namespace made ahead"),
            !userns,
            "userns {userns}; log:\n{logged}"
        );
    }
}

/// runc 1.1.5 ignores `domainname` (added in runc 1.2); the spec sets it.
#[test]
fn uts_namespace_sets_domainname() {
    if skip_rt_only("namespaces::domainname", "runc 1.1.5 ignores domainname") {
        return;
    }
    let ctx = TestCtx::new("namespaces::domainname");
    let mut b = ctx.bundle();
    b.hostname("rt-host")
        .set("/domainname", json!("rt.example"));
    b.sh("echo hostname=$(cat /proc/sys/kernel/hostname); echo domainname=$(cat /proc/sys/kernel/domainname)");
    let out = ctx.output_of(&mut b, "dom");
    assert_eq!(field(&out, "hostname"), "rt-host");
    assert_eq!(field(&out, "domainname"), "rt.example");
}

#[test]
fn omitted_namespace_is_shared_with_host() {
    let ctx = TestCtx::new("namespaces::shared");
    let mut b = ctx.bundle();
    b.without_namespace("network").without_namespace("ipc");
    b.sh("for n in ipc net uts; do echo $n=$(readlink /proc/self/ns/$n); done");
    let out = ctx.output_of(&mut b, "nshost");
    assert_eq!(field(&out, "net"), host_ns("net"));
    assert_eq!(field(&out, "ipc"), host_ns("ipc"));
    assert_ne!(field(&out, "uts"), host_ns("uts"));
}

#[test]
fn user_namespace_applies_id_mappings() {
    let ctx = TestCtx::new("namespaces::user");
    let mut b = ctx.bundle();
    b.namespace("user", None)
        .set(
            "/linux/uidMappings",
            json!([{"containerID": 0, "hostID": 100000, "size": 65536}]),
        )
        .set(
            "/linux/gidMappings",
            json!([{"containerID": 0, "hostID": 200000, "size": 65536}]),
        )
        // A v1 cgroup bind mount is not allowed from a new user namespace.
        .without_mount("/sys/fs/cgroup");
    b.sh(
        "echo uid_map=$(cat /proc/self/uid_map | tr -s ' ' | sed 's/^ //'); \
          echo gid_map=$(cat /proc/self/gid_map | tr -s ' ' | sed 's/^ //'); \
          echo id=$(id -u):$(id -g); echo user=$(readlink /proc/self/ns/user)",
    );
    let id = ctx.id("userns");
    let out = ctx.run(&mut b, &id);
    out.ok();
    assert_eq!(field(&out.stdout, "uid_map"), "0 100000 65536");
    assert_eq!(field(&out.stdout, "gid_map"), "0 200000 65536");
    assert_eq!(field(&out.stdout, "id"), "0:0");
    assert_ne!(field(&out.stdout, "user"), host_ns("user"));
    ctx.assert_nothing_left(&id);
}

#[test]
fn cgroup_namespace_hides_the_cgroup_path() {
    let ctx = TestCtx::new("namespaces::cgroup");
    let mut b = ctx.bundle();
    b.namespace("cgroup", None)
        .args(&["cat", "/proc/self/cgroup"]);
    let id = ctx.id("cgns");
    let out = ctx.run(&mut b, &id);
    out.ok();
    assert!(!out.stdout.trim().is_empty());
    for line in out.stdout.lines() {
        assert!(line.ends_with(":/"), "cgroup ns root is not /: {line}");
    }
    ctx.assert_nothing_left(&id);

    // Control: without the namespace the test's cgroup path is visible.
    let mut b = ctx.bundle();
    b.without_namespace("cgroup")
        .args(&["cat", "/proc/self/cgroup"]);
    let id = ctx.id("nocgns");
    let out = ctx.run(&mut b, &id);
    out.ok();
    assert!(
        out.stdout.contains(&ctx.cgroups_path(&id)),
        "no cgroup ns but path hidden:\n{}",
        out.stdout
    );
    ctx.assert_nothing_left(&id);
}

/// runc 1.1.5 rejects the `time` namespace ("namespace {time} does not
/// exist"); runtime-spec 1.1 defines it with `linux.timeOffsets`.
#[test]
fn time_namespace_applies_offsets() {
    if skip_rt_only("namespaces::time", "runc 1.1.5 has no time namespace") {
        return;
    }
    let ctx = TestCtx::new("namespaces::time");
    let mut b = ctx.bundle();
    b.namespace("time", None)
        .set("/linux/timeOffsets", json!({"monotonic": {"secs": 86400, "nanosecs": 0}, "boottime": {"secs": 172800, "nanosecs": 0}}))
        .sh("cat /proc/self/timens_offsets; echo uptime=$(cut -d. -f1 /proc/uptime)");
    let out = ctx.output_of(&mut b, "timens");
    let offsets: Vec<String> = out
        .lines()
        .filter(|l| !l.contains('='))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert!(
        offsets.contains(&"monotonic 86400 0".to_string()),
        "offsets: {out}"
    );
    assert!(
        offsets.contains(&"boottime 172800 0".to_string()),
        "offsets: {out}"
    );
    let uptime: u64 = field(&out, "uptime").parse().unwrap();
    assert!(
        uptime >= 172800,
        "boottime offset not applied: uptime {uptime}"
    );
}

/// exec joins the container's time namespace for its child (setns, which
/// the kernel allows only a single-threaded process: rt lets go of its
/// exe-protection mount on a thread and must wait for it first).
#[test]
fn exec_joins_the_time_namespace_of_the_container() {
    if skip_rt_only("namespaces::exec_time", "runc 1.1.5 has no time namespace") {
        return;
    }
    let ctx = TestCtx::new("namespaces::exec_time");
    let mut b = ctx.bundle();
    b.namespace("time", None)
        .set(
            "/linux/timeOffsets",
            json!({"monotonic": {"secs": 86400, "nanosecs": 0}}),
        )
        .args(&["sleep", "1000"]);
    let id = ctx.id("timens");
    ctx.create(&mut b, &id).ok();
    ctx.start(&id).ok();
    for _ in 0..3 {
        let out = ctx.rt(&["exec", &id, "cat", "/proc/self/timens_offsets"]);
        out.ok();
        let offsets: Vec<String> = out
            .stdout
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        assert!(
            offsets.contains(&"monotonic 86400 0".to_string()),
            "exec not in the container's time namespace: {}",
            out.stdout
        );
    }
    ctx.delete_force(&id).ok();
    ctx.assert_nothing_left(&id);
}

#[test]
fn joins_network_namespace_of_running_container() {
    let ctx = TestCtx::new("namespaces::join_container");
    let mut first = ctx.bundle();
    first.args(&["sleep", "1000"]);
    let first_id = ctx.id("netowner");
    ctx.create(&mut first, &first_id).ok();
    let pid = ctx.state(&first_id)["pid"].as_i64().unwrap();
    let ns_path = format!("/proc/{pid}/ns/net");
    let owner_ns = fs::read_link(&ns_path)
        .unwrap()
        .to_string_lossy()
        .into_owned();

    let mut b = ctx.bundle();
    b.namespace("network", Some(&ns_path))
        .sh("echo net=$(readlink /proc/self/ns/net)");
    let out = ctx.output_of(&mut b, "joiner");
    assert_eq!(field(&out, "net"), owner_ns);
    assert_ne!(owner_ns, host_ns("net"));

    ctx.delete_force(&first_id).ok();
    ctx.assert_nothing_left(&first_id);
}

/// The pid namespace applies to children only: rt joins it around the
/// clone, and only rt itself may switch back (the init cannot leave it).
#[test]
fn joins_pid_namespace_of_running_container() {
    let ctx = TestCtx::new("namespaces::join_pid");
    let mut first = ctx.bundle();
    first.args(&["sleep", "1000"]);
    let first_id = ctx.id("pidowner");
    ctx.create(&mut first, &first_id).ok();
    let pid = ctx.state(&first_id)["pid"].as_i64().unwrap();
    let ns_path = format!("/proc/{pid}/ns/pid");
    let owner_ns = fs::read_link(&ns_path)
        .unwrap()
        .to_string_lossy()
        .into_owned();

    let mut b = ctx.bundle();
    b.namespace("pid", Some(&ns_path))
        .sh("echo pid=$(readlink /proc/self/ns/pid)");
    let out = ctx.output_of(&mut b, "pidjoiner");
    assert_eq!(field(&out, "pid"), owner_ns);
    assert_ne!(owner_ns, host_ns("pid"));

    ctx.delete_force(&first_id).ok();
    ctx.assert_nothing_left(&first_id);
}

/// A named netns from `ip netns add`, deleted when dropped.
struct NamedNetns(String);

impl NamedNetns {
    fn add(name: &str) -> NamedNetns {
        let st = Command::new("ip")
            .args(["netns", "add", name])
            .status()
            .expect("ip(8) from iproute2");
        assert!(st.success(), "ip netns add {name} failed");
        NamedNetns(name.to_string())
    }
    fn path(&self) -> String {
        format!("/var/run/netns/{}", self.0)
    }
}

impl Drop for NamedNetns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

#[test]
fn joins_named_network_namespace_by_path() {
    use std::os::unix::fs::MetadataExt;
    let ctx = TestCtx::new("namespaces::join_named");
    let netns = NamedNetns::add(&format!("rtitest-{}", std::process::id()));
    // The netns file is an nsfs bind mount: its inode is the namespace id.
    let ino = fs::metadata(netns.path()).unwrap().ino();
    let mut b = ctx.bundle();
    b.namespace("network", Some(&netns.path()))
        .sh("echo net=$(readlink /proc/self/ns/net)");
    let out = ctx.output_of(&mut b, "named");
    assert_eq!(field(&out, "net"), format!("net:[{ino}]"));
}

#[test]
fn joining_a_missing_namespace_path_fails_cleanly() {
    let ctx = TestCtx::new("namespaces::join_missing");
    let mut b = ctx.bundle();
    b.namespace("network", Some("/var/run/netns/rt-itest-does-not-exist"));
    let id = ctx.id("nonet");
    let out = ctx.run(&mut b, &id);
    out.fails_with(1);
    assert!(
        out.stderr.contains("rt-itest-does-not-exist"),
        "error should name the path: {}",
        out.stderr
    );
    ctx.assert_nothing_left(&id);
}
