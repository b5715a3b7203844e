//! Rootless containers: the runtime run by an unprivileged user made for
//! the test (common/user.rs), on a bundle from `spec --rootless`, with its
//! state under $XDG_RUNTIME_DIR. Runs against runc too (RT_BIN), except
//! where marked.

use crate::common::user::{TestUser, owned_by};
use crate::common::*;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Lines of `/proc/self/uid_map` as (inside, outside, count).
fn map_lines(text: &str) -> Vec<(u32, u32, u32)> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<u32> = l
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            (f.len() == 3).then(|| (f[0], f[1], f[2]))
        })
        .collect()
}

/// create, state, start, exec, ps, kill, delete: all as the user, with
/// no cgroup it may write to (none is asked for) and nothing left after.
#[test]
fn lifecycle_as_unprivileged_user() {
    let ctx = TestCtx::new("rootless::lifecycle_as_unprivileged_user");
    let Some(user) = TestUser::new(&ctx) else {
        return;
    };
    let id = ctx.id("rl");
    let mut b = user.bundle("life");
    b.args(&["sleep", "300"]);
    user.save(&b);
    user.rt(&["create", "-b", path(&b.dir), &id]).ok();
    let st: Value = serde_json::from_str(&user.rt(&["state", &id]).ok().stdout).unwrap();
    assert_eq!(st["status"], "created");
    let pid = st["pid"].as_i64().unwrap() as i32;
    // The state lives in the user's $XDG_RUNTIME_DIR, private and sticky.
    let state_root = user.state_root();
    assert!(state_root.join(&id).is_dir(), "no state in {state_root:?}");
    let mode = std::fs::metadata(&state_root).unwrap().permissions().mode();
    assert_eq!(mode & 0o7777, 0o1700, "state root mode {mode:o}");
    assert!(owned_by(&state_root, user.uid));
    // The init runs as the user on the host, as root in the container.
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uids = status_field(&status, "Uid").unwrap();
    assert!(
        uids.split_whitespace().all(|u| u == user.uid.to_string()),
        "host uids of the init: {uids}"
    );
    user.rt(&["start", &id]).ok();
    assert_eq!(ctx_state(&user, &id)["status"], "running");

    let out = user.rt(&["exec", "-d", &id, "sleep", "300"]);
    out.ok();
    let out = user.rt(&["exec", &id, "sh", "-c", "id -u; cat /proc/self/uid_map"]);
    out.ok();
    let mut lines = out.stdout.lines();
    assert_eq!(lines.next(), Some("0"), "{}", out.stdout);
    let maps = map_lines(&lines.collect::<Vec<_>>().join("\n"));
    assert_eq!(maps, vec![(0, user.uid, 1)]);

    // runc 1.1.5 cannot list a container without a cgroup ("unable to
    // get all container pids"); rt lists the init's pid namespace.
    if !testing_runc() {
        let out = user.rt(&["ps", "--format", "json", &id]);
        out.ok();
        let pids: Vec<i32> = serde_json::from_str(&out.stdout).unwrap();
        assert!(pids.contains(&pid), "ps {pids:?} lacks the init {pid}");
        assert_eq!(pids.len(), 2, "ps {pids:?}: the init and the exec'd sleep");
    }

    user.rt(&["kill", &id, "KILL"]).ok();
    assert!(
        wait_until(Duration::from_secs(10), || ctx_state(&user, &id)["status"]
            == "stopped"),
        "container did not stop"
    );
    user.rt(&["delete", &id]).ok();
    assert!(!state_root.join(&id).exists());
    assert!(user.processes().is_empty(), "{:?}", user.processes());
    user.rt(&["state", &id])
        .fails_with(1)
        .stderr_has("does not exist");
}

fn ctx_state(user: &TestUser, id: &str) -> Value {
    let out = user.rt(&["state", id]);
    serde_json::from_str(&out.stdout).unwrap_or(Value::Null)
}

/// `exec -t` allocates the pty inside the container and proxies it.
#[test]
fn exec_with_terminal() {
    let ctx = TestCtx::new("rootless::exec_with_terminal");
    let Some(user) = TestUser::new(&ctx) else {
        return;
    };
    let id = ctx.id("rlt");
    let mut b = user.bundle("tty");
    b.args(&["sleep", "300"]);
    user.save(&b);
    user.rt(&["run", "-d", "-b", path(&b.dir), &id]).ok();
    let line = format!("{} exec -t {id} sh -c 'tty; exit 5'", path(&user.rt));
    let out = user.run(user.command("script", &["-qec", &line, "/dev/null"]));
    out.fails_with(5);
    assert!(out.stdout.contains("/dev/pts/"), "{}", out.stdout);
    user.rt(&["delete", "--force", &id]).ok();
    assert!(user.processes().is_empty());
}

/// `run` in the foreground forwards SIGTERM to the container and exits
/// with its status; the container is deleted after.
#[test]
fn run_forwards_signals() {
    let ctx = TestCtx::new("rootless::run_forwards_signals");
    let Some(user) = TestUser::new(&ctx) else {
        return;
    };
    let id = ctx.id("rls");
    let mut b = user.bundle("sig");
    b.sh("trap 'echo got-term; exit 7' TERM; echo ready; while true; do sleep 0.1; done");
    user.save(&b);
    let out_file = ctx.dir.join("run-sig.out");
    let mut cmd = user.rt_command(&["run", "-b", path(&b.dir), &id]);
    cmd.stdout(std::fs::File::create(&out_file).unwrap());
    let mut child = cmd.spawn().unwrap();
    let ready = wait_until(Duration::from_secs(20), || {
        std::fs::read_to_string(&out_file).is_ok_and(|s| s.contains("ready"))
    });
    // SAFETY: signalling the runtime process this test spawned.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert!(ready, "container never printed ready");
    assert_eq!(status.code(), Some(7), "run's exit status");
    assert!(
        std::fs::read_to_string(&out_file)
            .unwrap()
            .contains("got-term")
    );
    assert!(!user.state_root().join(&id).exists(), "run left its state");
}

/// Maps beyond the user's own id go through newuidmap/newgidmap, within
/// the user's /etc/subuid and /etc/subgid ranges; a range outside them is
/// refused by the tool, and nothing is left behind.
#[test]
fn subordinate_id_ranges_are_mapped() {
    let ctx = TestCtx::new("rootless::subordinate_id_ranges_are_mapped");
    let Some(user) = TestUser::new(&ctx) else {
        return;
    };
    let id = ctx.id("rlm");
    let mut b = user.bundle("maps");
    let maps = |host: u32, count: u32| {
        json!([
            {"containerID": 0, "hostID": user.uid, "size": 1},
            {"containerID": 1, "hostID": host, "size": count}
        ])
    };
    b.set("/linux/uidMappings", maps(user.subuid.0, user.subuid.1));
    b.set("/linux/gidMappings", maps(user.subgid.0, user.subgid.1));
    // A file chowned to container uid 1000 belongs to subuid start + 999.
    b.mount(
        json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
                   "options": ["nosuid", "nodev"]}),
    );
    b.set("/process/capabilities/bounding", json!(["CAP_CHOWN"]));
    b.set("/process/capabilities/effective", json!(["CAP_CHOWN"]));
    b.set("/process/capabilities/permitted", json!(["CAP_CHOWN"]));
    b.sh("cat /proc/self/uid_map /proc/self/gid_map; touch /tmp/f; chown 1000:1000 /tmp/f; stat -c '%u:%g' /tmp/f; sleep 300");
    user.save(&b);
    user.rt(&["run", "-d", "-b", path(&b.dir), &id]).ok();
    let pid = ctx_state(&user, &id)["pid"].as_i64().unwrap();
    let uid_map = std::fs::read_to_string(format!("/proc/{pid}/uid_map")).unwrap();
    assert_eq!(
        map_lines(&uid_map),
        vec![(0, user.uid, 1), (1, user.subuid.0, user.subuid.1)]
    );
    let gid_map = std::fs::read_to_string(format!("/proc/{pid}/gid_map")).unwrap();
    assert_eq!(
        map_lines(&gid_map),
        vec![(0, user.gid, 1), (1, user.subgid.0, user.subgid.1)]
    );
    let exec = user.rt(&["exec", &id, "stat", "-c", "%u:%g", "/tmp/f"]);
    assert_eq!(exec.ok().stdout.trim(), "1000:1000");
    user.rt(&["delete", "--force", &id]).ok();

    // One id past the user's range: newuidmap refuses.
    let id2 = ctx.id("rlm");
    b.set("/linux/uidMappings", maps(user.subuid.0, user.subuid.1 + 1));
    b.args(&["true"]);
    user.save(&b);
    let out = user.rt(&["run", "-b", path(&b.dir), &id2]);
    out.fails_with(1);
    if !testing_runc() {
        out.stderr_has("failed to use newuidmap")
            .stderr_has("not allowed");
    }
    assert!(!user.state_root().join(&id2).exists(), "state left behind");
    assert!(user.processes().is_empty(), "{:?}", user.processes());
}

/// runc's rootless cgroup rules on a host where the user owns no cgroup:
/// no limits → the container runs without a cgroup; a limit → refused,
/// naming the controller; --rootless=false → the permission error.
#[test]
fn cgroups_without_permission() {
    let ctx = TestCtx::new("rootless::cgroups_without_permission");
    let Some(user) = TestUser::new(&ctx) else {
        return;
    };
    let pure_v2 = crate::common::cgroups::hierarchies().len() == 1;
    let mut b = user.bundle("cg");
    user.save(&b);
    let id = ctx.id("rlc");
    user.rt(&["run", "-b", path(&b.dir), &id]).ok();

    // pause has no cgroup to freeze.
    let id = ctx.id("rlc");
    b.args(&["sleep", "300"]);
    user.save(&b);
    user.rt(&["run", "-d", "-b", path(&b.dir), &id]).ok();
    let out = user.rt(&["pause", &id]);
    out.fails_with(1);
    if !testing_runc() {
        out.stderr_has("cannot toggle freezer: cgroups not configured for container");
    }
    assert_eq!(ctx_state(&user, &id)["status"], "running");
    user.rt(&["delete", "--force", &id]).ok();

    let id = ctx.id("rlc");
    b.set("/linux/resources", json!({"memory": {"limit": 64 << 20}}));
    b.args(&["true"]);
    user.save(&b);
    let out = user.rt(&["run", "-b", path(&b.dir), &id]);
    out.fails_with(1);
    if pure_v2 {
        out.stderr_has("rootless needs no limits + no cgrouppath");
    } else {
        out.stderr_has("cannot set memory limit: container could not join or create cgroup");
    }
    assert!(!user.state_root().join(&id).exists(), "state left behind");

    let id = ctx.id("rlc");
    b.remove("/linux/resources");
    user.save(&b);
    let out = user.rt(&["--rootless=false", "run", "-b", path(&b.dir), &id]);
    out.fails_with(1).stderr_has("permission denied");
    assert!(!user.state_root().join(&id).exists(), "state left behind");
    assert!(user.processes().is_empty(), "{:?}", user.processes());
}

/// Hands `/<ctx.cgroup_parent>` to the user in every hierarchy, as a
/// delegating manager would: the directory and the files that move
/// processes and (cgroup2) enable controllers. On cgroup2 the memory and
/// pids controllers are enabled for its children, and a `session` leaf is
/// made for the user's commands: moving a process takes write access to
/// the common ancestor's cgroup.procs, so the user's runtime must already
/// run inside the subtree. Returns the leaf's cgroup.procs, if cgroup2.
fn delegate_cgroup(ctx: &TestCtx, user: &TestUser) -> Option<PathBuf> {
    let mut session = None;
    for h in crate::common::cgroups::hierarchies() {
        let dir = h.join(&ctx.cgroup_parent);
        std::fs::create_dir_all(&dir).unwrap();
        let own = |p: &Path| std::os::unix::fs::chown(p, Some(user.uid), Some(user.gid)).unwrap();
        own(&dir);
        for f in [
            "cgroup.procs",
            "tasks",
            "cgroup.threads",
            "cgroup.subtree_control",
        ] {
            if dir.join(f).exists() {
                own(&dir.join(f));
            }
        }
        if dir.join("cpuset.cpus").exists() {
            for f in ["cpuset.cpus", "cpuset.mems"] {
                let v = std::fs::read_to_string(h.join(f)).unwrap();
                std::fs::write(dir.join(f), v.trim()).unwrap();
            }
        }
        if dir.join("cgroup.subtree_control").exists() {
            let available = std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap();
            for c in ["memory", "pids"] {
                if available.split_whitespace().any(|x| x == c) {
                    std::fs::write(dir.join("cgroup.subtree_control"), format!("+{c}")).unwrap();
                }
            }
            let leaf = dir.join("session");
            std::fs::create_dir_all(&leaf).unwrap();
            own(&leaf);
            own(&leaf.join("cgroup.procs"));
            session = Some(leaf.join("cgroup.procs"));
        }
    }
    session
}

/// Runs `cmd` with its process moved into the cgroup2 leaf first.
fn in_session(mut cmd: Command, procs: Option<&Path>) -> Command {
    if let Some(p) = procs {
        let file = std::ffi::CString::new(path(p)).unwrap();
        // SAFETY: only async-signal-safe calls (open, write, close) on
        // memory prepared before the fork.
        unsafe {
            cmd.pre_exec(move || {
                let fd = libc::open(file.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                if fd < 0 || libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(fd);
                Ok(())
            });
        }
    }
    cmd
}

/// A cgroup subtree the user owns (delegated) is used: the limits are
/// written and enforced, pause and resume work, and delete removes the
/// container's cgroup (only that).
#[test]
fn delegated_cgroup_enforces_limits() {
    let ctx = TestCtx::new("rootless::delegated_cgroup_enforces_limits");
    let Some(user) = TestUser::new(&ctx) else {
        return;
    };
    let session = delegate_cgroup(&ctx, &user);
    let session = session.as_deref();
    let id = ctx.id("rld");
    let mut b = user.bundle("deleg");
    b.set("/linux/cgroupsPath", json!(ctx.cgroups_path(&id)));
    b.set(
        "/linux/resources",
        json!({"memory": {"limit": 32 << 20}, "pids": {"limit": 8}}),
    );
    // 12 background sleeps from a subshell: with pids.max 8 some forks
    // fail (busybox sh gives up on a failed fork: only the subshell ends).
    b.sh(
        "(for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 300 & done) 2>/dev/null; \
          echo started; exec sleep 300",
    );
    user.save(&b);
    let rt = |args: &[&str]| user.run(in_session(user.rt_command(args), session));
    rt(&["run", "-d", "-b", path(&b.dir), &id]).ok();

    let cg = |file: &str| -> Option<String> {
        crate::common::cgroups::existing(&ctx.cgroups_path(&id))
            .into_iter()
            .map(|d| d.join(file))
            .find(|f| f.exists())
            .map(|f| std::fs::read_to_string(f).unwrap().trim().to_string())
    };
    assert_eq!(cg("pids.max").as_deref(), Some("8"));
    let mem = cg("memory.max").or_else(|| cg("memory.limit_in_bytes"));
    assert_eq!(mem.as_deref(), Some(&*(32u64 << 20).to_string()));
    // Enforced: forks were refused at the limit, and the container holds
    // no more than 8 tasks.
    let refused = || {
        cg("pids.events")
            .and_then(|e| {
                e.lines()
                    .find_map(|l| l.strip_prefix("max ")?.parse::<u64>().ok())
            })
            .unwrap_or(0)
    };
    assert!(
        wait_until(Duration::from_secs(10), || refused() > 0),
        "no fork refused: pids.events {:?}",
        cg("pids.events")
    );
    let current: u32 = cg("pids.current").unwrap().parse().unwrap();
    assert!((1..=8).contains(&current), "pids.current {current}");
    let pids: Vec<i32> =
        serde_json::from_str(&rt(&["ps", "--format", "json", &id]).ok().stdout).unwrap();
    assert!((1..=8).contains(&pids.len()), "ps: {pids:?}");

    rt(&["pause", &id]).ok();
    assert_eq!(ctx_state(&user, &id)["status"], "paused");
    rt(&["resume", &id]).ok();
    assert_eq!(ctx_state(&user, &id)["status"], "running");

    rt(&["delete", "--force", &id]).ok();
    assert!(
        crate::common::cgroups::existing(&ctx.cgroups_path(&id)).is_empty(),
        "the container's cgroup is left"
    );
    assert!(
        !crate::common::cgroups::existing(&format!("/{}", ctx.cgroup_parent)).is_empty(),
        "the delegated parent must stay"
    );
    assert!(user.processes().is_empty(), "{:?}", user.processes());
}

/// A directory removed when dropped.
struct ShortDir(std::path::PathBuf);

impl Drop for ShortDir {
    fn drop(&mut self) {
        crate::common::tools::unmount_under(&self.0);
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Rootless Podman (4.3, conmon 2.1) with the runtime under test: podman
/// runs in its own user namespace (mapping the user's subordinate ids),
/// so the runtime runs as root of a user namespace, not as the user; it
/// must skip the cgroups it cannot write to and bind-mount device nodes.
/// Native overlay storage and no network, all in the user's home.
#[test]
fn podman_run_exec_stop_rm() {
    let ctx = TestCtx::new("rootless::podman_run_exec_stop_rm");
    if crate::common::tools::skip_without(&ctx.name, &["podman", "conmon", "tar"]) {
        return;
    }
    let Some(user) = TestUser::new(&ctx) else {
        return;
    };
    let dir = user.home.join("podman");
    user.make_own_dir(&dir, 0o755);
    let runtime_name = user.rt.file_name().unwrap().to_string_lossy().into_owned();
    std::fs::write(
        dir.join("containers.conf"),
        format!("[engine]\nruntime_supports_json = [\"{runtime_name}\"]\n"),
    )
    .unwrap();
    let tar = crate::common::tools::busybox_rootfs_tar(&dir);
    std::fs::set_permissions(&tar, std::fs::Permissions::from_mode(0o644)).unwrap();
    // podman refuses a runroot longer than 50 characters, which the test
    // dir's path can exceed: a short one in /tmp, removed at the end.
    let runroot = ShortDir(std::path::PathBuf::from(format!("/tmp/rtpr-{}", user.name)));
    user.make_own_dir(&runroot.0, 0o700);
    let podman = |args: &[&str]| {
        let d = |sub: &str| path(&dir.join(sub)).to_string();
        let mut argv: Vec<String> = vec![
            "--root".into(),
            d("storage"),
            "--runroot".into(),
            path(&runroot.0).to_string(),
            "--tmpdir".into(),
            d("tmp"),
            "--cgroup-manager".into(),
            "cgroupfs".into(),
            "--events-backend".into(),
            "file".into(),
            "--storage-driver".into(),
            "overlay".into(),
        ];
        argv.extend(args.iter().map(|s| s.to_string()));
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let mut cmd = user.command("podman", &argv);
        cmd.env("CONTAINERS_CONF", dir.join("containers.conf"));
        user.run(cmd)
    };
    const IMAGE: &str = "localhost/rt-rootless-busybox:latest";
    podman(&["import", "--change", "CMD [\"sh\"]", path(&tar), IMAGE]).ok();
    let rt = path(&user.rt).to_string();
    let run_opts = ["--runtime", &rt, "--network", "none"];
    let with = |head: &[&str], tail: &[&str]| -> Vec<String> {
        head.iter()
            .chain(run_opts.iter())
            .chain(tail.iter())
            .map(|s| s.to_string())
            .collect()
    };
    let call = |argv: Vec<String>| podman(&argv.iter().map(String::as_str).collect::<Vec<_>>());

    let out = call(with(
        &["run", "--rm"],
        &[IMAGE, "sh", "-c", "id -u; echo hello-rootless"],
    ));
    out.ok();
    assert_eq!(out.stdout.trim(), "0\nhello-rootless");
    call(with(&["run", "--rm"], &[IMAGE, "sh", "-c", "exit 3"])).fails_with(3);

    let name = ctx.id("rlpod");
    call(with(
        &["run", "-d", "--name", &name],
        &[IMAGE, "sleep", "300"],
    ))
    .ok();
    let out = podman(&[
        "inspect",
        "--format",
        "{{.OCIRuntime}} {{.State.Status}}",
        &name,
    ]);
    assert_eq!(out.ok().stdout.trim(), format!("{rt} running"));
    let out = podman(&["exec", &name, "sh", "-c", "echo in-exec; id -u"]);
    assert_eq!(out.ok().stdout.trim(), "in-exec\n0");
    podman(&["exec", &name, "sh", "-c", "exit 4"]).fails_with(4);
    podman(&["stop", "-t", "1", &name]).ok();
    let out = podman(&["inspect", "--format", "{{.State.Status}}", &name]);
    assert_eq!(out.ok().stdout.trim(), "exited");
    podman(&["rm", &name]).ok();
    let out = podman(&["ps", "-a", "-q"]);
    assert_eq!(out.ok().stdout.trim(), "", "containers left");
}
