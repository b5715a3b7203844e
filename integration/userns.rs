//! What a container with a user namespace sees of /dev, and what its
//! processes may mount, compared with runc 1.1.5 on the same bundles
//! (issue 9 class 9).

use crate::common::*;
use std::fs;

/// A new user namespace mapping container ids 0..65536 to host 100000...
fn with_userns(b: &mut Bundle) {
    let map = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.namespace("user", None)
        .set("/linux/uidMappings", map.clone())
        .set("/linux/gidMappings", map)
        // A v1 cgroup bind mount is not allowed from a new user namespace.
        .without_mount("/sys/fs/cgroup");
}

const DEFAULT_NODES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

/// Mount points under /dev of the container, from its mountinfo.
fn dev_mounts(mountinfo: &str) -> Vec<String> {
    mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|p| p.starts_with("/dev/"))
        .map(str::to_string)
        .collect()
}

/// Without a user namespace rt makes the default nodes with mknod, owned
/// by 0:0 and never bound from the host (whose nodes may have any owner);
/// in a user namespace, where mknod is not allowed, it binds the host's
/// nodes, as runc does.
#[test]
fn default_nodes_are_bound_from_the_host_only_in_a_user_namespace() {
    let ctx = TestCtx::new("userns::dev_nodes");
    let script = "cat /proc/self/mountinfo; for d in null zero full random urandom tty; do \
                  echo $d=$(stat -c %u:%g /dev/$d); done";
    let mut plain = ctx.bundle();
    plain.sh(script);
    let out = ctx.output_of(&mut plain, "plain");
    let mounts = dev_mounts(&out);
    for node in DEFAULT_NODES {
        let at = format!("/dev/{node}");
        assert!(!mounts.contains(&at), "{at} is a bind mount:\n{out}");
        assert!(
            out.lines().any(|l| l == format!("{node}=0:0")),
            "{node}:\n{out}"
        );
    }
    let mut userns = ctx.bundle();
    with_userns(&mut userns);
    userns.sh(script);
    let out = ctx.output_of(&mut userns, "userns");
    let mounts = dev_mounts(&out);
    for node in DEFAULT_NODES {
        let at = format!("/dev/{node}");
        assert!(mounts.contains(&at), "{at} is not the host's node:\n{out}");
    }
}

/// In a new user namespace /dev/mqueue belongs to the container's root
/// (runc: 0:65534, its IPC namespace is made as uid 0 of the user
/// namespace with the gid not switched yet), not to the overflow uid.
#[test]
fn dev_mqueue_belongs_to_the_container_root() {
    let ctx = TestCtx::new("userns::mqueue");
    let mut b = ctx.bundle();
    with_userns(&mut b);
    b.sh("stat -c %u:%g /dev/mqueue; readlink /proc/self/ns/ipc");
    let out = ctx.output_of(&mut b, "mq");
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("0:65534"), "{out}");
    let ipc = fs::read_link("/proc/self/ns/ipc").unwrap();
    assert_ne!(
        lines.next(),
        Some(ipc.to_string_lossy().as_ref()),
        "not a new IPC namespace:\n{out}"
    );
}

/// Under --no-pivot the host's mounts stay below the container's root;
/// the container process still cannot mount a fresh procfs (EPERM, as in
/// runc), with or without a user namespace.
#[test]
fn no_pivot_container_cannot_mount_procfs() {
    let ctx = TestCtx::new("userns::no_pivot_proc");
    for userns in [false, true] {
        let mut b = ctx.bundle();
        if userns {
            with_userns(&mut b);
        }
        b.sh("mount -t proc proc /tmp 2>&1; echo rc=$?; test -e /tmp/1 && echo mounted; true");
        let id = ctx.id(if userns { "nopivot-userns" } else { "nopivot" });
        ctx.prepare(&mut b, &id);
        let out = ctx.rt(&["run", "--no-pivot", "-b", path(&b.dir), &id]);
        out.ok();
        assert!(
            out.stdout.contains("permission denied") && out.stdout.contains("rc=1"),
            "userns={userns}: procfs mount not refused:\n{}",
            out.stdout
        );
        assert!(!out.stdout.contains("mounted"), "{}", out.stdout);
        ctx.assert_nothing_left(&id);
    }
}

/// The init of a user namespace joins the container's cgroup in every
/// hierarchy: rt opens the `tasks` files and the init writes to them
/// (create.rs place_init, ByParent), which v1 allows on the opener's
/// credentials, not the writer's.
#[test]
fn userns_init_joins_its_cgroup_in_every_hierarchy() {
    let ctx = TestCtx::new("userns::cgroups");
    let mut b = ctx.bundle();
    with_userns(&mut b);
    b.args(&["cat", "/proc/self/cgroup"]);
    let id = ctx.id("ucg");
    let out = ctx.run(&mut b, &id);
    out.ok();
    let want = ctx.cgroups_path(&id);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines.len() > 1, "{}", out.stdout);
    for line in lines {
        assert!(line.ends_with(&want), "not in {want}: {line}");
    }
    ctx.assert_nothing_left(&id);
}
