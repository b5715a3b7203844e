//! `exec` into a running container, plus `pause`/`resume` and `ps`, the
//! other verbs containerd's shim calls on a live container.

use crate::common::*;
use std::fs;

/// Creates and starts a `sleep` container; returns its id and host pid.
fn running_container(ctx: &TestCtx) -> (String, i64) {
    let mut b = ctx.bundle();
    b.args(&["sleep", "1000"]);
    let id = ctx.id("live");
    ctx.create(&mut b, &id).ok();
    ctx.start(&id).ok();
    let pid = ctx.state(&id)["pid"].as_i64().unwrap();
    (id, pid)
}

#[test]
fn exec_runs_in_the_container_namespaces_with_status() {
    let ctx = TestCtx::new("exec::basic");
    let (id, pid) = running_container(&ctx);
    let out = ctx.rt(&["exec", "--env", "EXTRA=yes", "--cwd", "/usr", &id, "sh", "-c", "echo self=$$ extra=$EXTRA cwd=$(pwd); for n in pid net mnt; do echo $n=$(readlink /proc/self/ns/$n); done; exit 4"]);
    out.fails_with(4);
    let get = |k: &str| {
        out.stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("no {k}= in {}", out.stdout))
            .to_string()
    };
    assert!(out.stdout.contains("extra=yes cwd=/usr"), "{}", out.stdout);
    assert_ne!(
        get("self").split(' ').next().unwrap(),
        "1",
        "exec process must not be pid 1"
    );
    for n in ["pid", "net", "mnt"] {
        let init_ns = fs::read_link(format!("/proc/{pid}/ns/{n}")).unwrap();
        assert_eq!(
            get(n),
            init_ns.to_string_lossy(),
            "{n} namespace differs from the init's"
        );
    }
    ctx.delete_force(&id).ok();
    ctx.assert_nothing_left(&id);
}

#[test]
fn exec_with_process_json_and_detach_writes_pid_file() {
    let ctx = TestCtx::new("exec::process_file");
    let (id, _) = running_container(&ctx);
    // process.json is the `process` object of a config (what containerd sends).
    let mut process = ctx.bundle().spec["process"].clone();
    process["args"] = json!(["sh", "-c", "sleep 1000"]);
    let process_file = ctx.dir.join("process.json");
    fs::write(&process_file, serde_json::to_vec(&process).unwrap()).unwrap();
    let pid_file = ctx.dir.join("exec.pid");
    ctx.rt(&[
        "exec",
        "--process",
        path(&process_file),
        "--detach",
        "--pid-file",
        path(&pid_file),
        &id,
    ])
    .ok();
    let text = fs::read_to_string(&pid_file).unwrap();
    let exec_pid: i32 = text
        .parse()
        .unwrap_or_else(|_| panic!("exec pid file not a bare number: {text:?}"));
    // Right after execve the new image's argv is published a moment later
    // than the close-on-exec fds are closed (which is when exec returns).
    let mut cmdline = String::new();
    for _ in 0..100 {
        cmdline = fs::read_to_string(format!("/proc/{exec_pid}/cmdline")).unwrap_or_default();
        if !cmdline.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(
        cmdline.contains("sleep"),
        "pid file does not name the exec'd process: {cmdline:?}"
    );
    let ps = ctx.rt(&["ps", "--format", "json", &id]);
    ps.ok();
    let pids: Vec<i64> =
        serde_json::from_str(&ps.stdout).expect("ps --format json prints a JSON array of pids");
    assert!(
        pids.contains(&(exec_pid as i64)),
        "ps lacks the exec pid {exec_pid}: {pids:?}"
    );
    ctx.delete_force(&id).ok();
    ctx.assert_nothing_left(&id);
}

#[test]
fn exec_into_stopped_container_fails() {
    let ctx = TestCtx::new("exec::stopped");
    let mut b = ctx.bundle();
    let id = ctx.id("gone");
    ctx.create_start_wait(&mut b, &id);
    let out = ctx.rt(&["exec", &id, "true"]);
    assert!(!out.success(), "exec into a stopped container succeeded");
    assert!(!out.stderr.is_empty());
    ctx.delete(&id).ok();
    ctx.assert_nothing_left(&id);
}

#[test]
fn pause_and_resume() {
    let ctx = TestCtx::new("exec::pause");
    let (id, _) = running_container(&ctx);
    ctx.rt(&["pause", &id]).ok();
    assert_eq!(ctx.state(&id)["status"], "paused");
    assert!(is_frozen(&ctx, &id), "pause did not freeze the cgroup");
    ctx.rt(&["resume", &id]).ok();
    assert_eq!(ctx.state(&id)["status"], "running");
    assert!(!is_frozen(&ctx, &id), "resume left the cgroup frozen");
    ctx.delete_force(&id).ok();
    ctx.assert_nothing_left(&id);
}

/// Frozen per the v1 freezer (`freezer.state`) or cgroup v2 (`cgroup.events`),
/// whichever the runtime used on this host.
fn is_frozen(ctx: &TestCtx, id: &str) -> bool {
    cgroups::existing(&ctx.cgroups_path(id)).iter().any(|dir| {
        let v1 = fs::read_to_string(dir.join("freezer.state")).unwrap_or_default();
        let v2 = fs::read_to_string(dir.join("cgroup.events")).unwrap_or_default();
        v1.trim() == "FROZEN" || v2.lines().any(|l| l == "frozen 1")
    })
}

#[test]
fn ps_lists_the_init_pid() {
    let ctx = TestCtx::new("exec::ps");
    let (id, pid) = running_container(&ctx);
    let out = ctx.rt(&["ps", "--format", "json", &id]);
    out.ok();
    let pids: Vec<i64> = serde_json::from_str(&out.stdout).expect("JSON array of pids");
    assert_eq!(pids, [pid]);
    ctx.delete_force(&id).ok();
    ctx.assert_nothing_left(&id);
}

/// runc exits 255 for every failing `exec`, foreground or detached, before
/// or after the process was started: go-runc and conmon tell "the runtime
/// failed" from "the process exited non-zero" by it.
#[test]
fn failing_exec_exits_255_like_runc() {
    let ctx = TestCtx::new("exec::fail_255");
    let (id, _) = running_container(&ctx);
    let missing_json = ctx.dir.join("no-such-process.json");
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("unknown container", vec!["exec", "no-such-ctr", "true"]),
        ("missing binary", vec!["exec", &id, "/no/such/binary"]),
        (
            "missing binary, detached",
            vec!["exec", "-d", &id, "/no/such/binary"],
        ),
        (
            "missing process.json",
            vec!["exec", "-p", path(&missing_json), &id],
        ),
    ];
    for (what, args) in cases {
        let out = ctx.rt(&args);
        assert_eq!(
            out.code(),
            Some(255),
            "{what}: exec must exit 255\nstderr:\n{}",
            out.stderr
        );
        out.stderr_has("exec failed");
    }
    // The process's own status still comes through unchanged.
    ctx.rt(&["exec", &id, "sh", "-c", "exit 3"]).fails_with(3);
    ctx.delete_force(&id).ok();
    let mut b = ctx.bundle();
    let stopped = ctx.id("stopped");
    ctx.create_start_wait(&mut b, &stopped);
    ctx.rt(&["exec", &stopped, "true"])
        .fails_with(255)
        .stderr_has("cannot exec in a stopped container");
    ctx.delete(&stopped).ok();
    ctx.assert_nothing_left(&id);
    ctx.assert_nothing_left(&stopped);
}

/// `exec --env K=V` replaces the container's K (runc: the last value wins)
/// instead of adding a second K that the spec's value shadows.
#[test]
fn exec_env_overrides_the_containers_value() {
    let ctx = TestCtx::new("exec::env_override");
    let mut b = ctx.bundle();
    b.env("FOO=from-spec").args(&["sleep", "1000"]);
    let id = ctx.id("envover");
    ctx.create(&mut b, &id).ok();
    ctx.start(&id).ok();
    let out = ctx.rt(&[
        "exec",
        "--env",
        "FOO=from-cli",
        "--env",
        "BAR=new",
        &id,
        "env",
    ]);
    out.ok();
    // `env` prints the environment as the kernel handed it over (a shell
    // would re-export it deduplicated).
    let foo: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("FOO="))
        .collect();
    assert_eq!(foo, ["FOO=from-cli"], "environment:\n{}", out.stdout);
    assert!(out.stdout.lines().any(|l| l == "BAR=new"), "{}", out.stdout);
    ctx.delete_force(&id).ok();
    ctx.assert_nothing_left(&id);
}

/// Without --ignore-paused, exec into a paused container is refused; with
/// it, the process is started and waits, frozen with the container, until
/// `resume` (runc).
#[test]
fn exec_ignore_paused_runs_once_resumed() {
    let ctx = TestCtx::new("exec::ignore_paused");
    let (id, _) = running_container(&ctx);
    ctx.rt(&["pause", &id]).ok();
    ctx.rt(&["exec", &id, "true"])
        .fails_with(255)
        .stderr_has("paused");
    std::thread::scope(|s| {
        let exec = s.spawn(|| ctx.rt(&["exec", "--ignore-paused", &id, "sh", "-c", "echo ran"]));
        std::thread::sleep(std::time::Duration::from_millis(700));
        assert!(
            !exec.is_finished(),
            "exec --ignore-paused finished while the container was frozen"
        );
        assert_eq!(ctx.state(&id)["status"], "paused");
        ctx.rt(&["resume", &id]).ok();
        let out = exec.join().unwrap();
        out.ok();
        assert_eq!(out.stdout, "ran\n");
    });
    ctx.delete_force(&id).ok();
    ctx.assert_nothing_left(&id);
}

/// A process.json without `user` runs as root (runc), whatever user the
/// container's own process has.
#[test]
fn exec_process_json_without_user_runs_as_root() {
    let ctx = TestCtx::new("exec::process_no_user");
    let mut b = ctx.bundle();
    b.user(1000, 1000, &[]).args(&["sleep", "1000"]);
    let id = ctx.id("nouser");
    ctx.create(&mut b, &id).ok();
    ctx.start(&id).ok();
    let process_file = ctx.dir.join("process.json");
    fs::write(
        &process_file,
        r#"{"args": ["sh", "-c", "echo $(id -u):$(id -g)"], "cwd": "/", "env": ["PATH=/bin"]}"#,
    )
    .unwrap();
    let out = ctx.rt(&["exec", "-p", path(&process_file), &id]);
    out.ok();
    assert_eq!(out.stdout, "0:0\n");
    ctx.delete_force(&id).ok();
    ctx.assert_nothing_left(&id);
}

/// A NUL byte in an `exec --process` file's args, env or cwd is refused
/// with the file and field named (it cannot reach execve), and no process
/// runs.
#[test]
fn exec_process_json_with_a_nul_byte_is_refused() {
    let ctx = TestCtx::new("exec::process_nul");
    let mut b = ctx.bundle();
    b.args(&["sleep", "1000"]);
    let id = ctx.id("nul");
    ctx.create(&mut b, &id).ok();
    ctx.start(&id).ok();
    for (json, field) in [
        (
            r#"{"args": ["sh", "-c", "touch /ran\u0000x"], "cwd": "/"}"#,
            "process.args[2]",
        ),
        (
            r#"{"args": ["sh", "-c", "touch /ran"], "cwd": "/", "env": ["A=b\u0000c"]}"#,
            "process.env[0]",
        ),
    ] {
        let process_file = ctx.dir.join("process.json");
        fs::write(&process_file, json).unwrap();
        let out = ctx.rt(&["exec", "-p", path(&process_file), &id]);
        assert!(!out.success(), "{field}: exec must fail");
        assert!(
            out.stderr.contains(field) && out.stderr.contains("NUL"),
            "{field}: {}",
            out.stderr
        );
    }
    let ran = ctx.rt(&["exec", &id, "test", "-e", "/ran"]);
    assert!(!ran.success(), "no refused process ran");
    ctx.delete_force(&id).ok();
    ctx.assert_nothing_left(&id);
}

/// The cgroup path of `controller`'s line in /proc/<pid>/cgroup output
/// (v1 `N:a,b:/path`); `""` names the cgroup2 line (`0::/path`).
fn cgroup_line<'a>(cgroup_file: &'a str, controller: &str) -> Option<&'a str> {
    cgroup_file.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let (_, ctrls, path) = (f.next()?, f.next()?, f.next()?);
        let hit = if controller.is_empty() {
            ctrls.is_empty()
        } else {
            ctrls.split(',').any(|c| c == controller)
        };
        hit.then_some(path)
    })
}

/// `exec --cgroup` (runc 1.2): the process joins an existing sub-cgroup
/// of the container's, in every hierarchy (no prefix) or per controller
/// (`memory:sub`, the rest staying in the container's own cgroup), as its
/// /proc/self/cgroup shows. Missing sub-cgroups, paths climbing out and
/// runc's argument errors fail the exec (255) and start nothing.
#[test]
fn exec_cgroup_runs_the_process_in_a_sub_cgroup() {
    if skip_rt_only("exec::cgroup", "runc 1.1.5 has no exec --cgroup") {
        return;
    }
    let ctx = TestCtx::new("exec::cgroup");
    let (id, _) = running_container(&ctx);
    let base = ctx.cgroups_path(&id);
    let made: Vec<_> = cgroups::existing(&base)
        .into_iter()
        .map(|d| d.join("sub"))
        .collect();
    assert!(!made.is_empty(), "the container has no cgroup directory");
    for d in &made {
        fs::create_dir(d).unwrap();
        // A caller's new v1 cpuset cgroup is unusable until it has CPUs
        // and memory nodes; it takes its parent's, as a caller would.
        for file in ["cpuset.cpus", "cpuset.mems"] {
            if let Ok(v) = fs::read_to_string(d.parent().unwrap().join(file)) {
                fs::write(d.join(file), v.trim()).unwrap();
            }
        }
    }
    let show = |flags: &[&str]| -> String {
        let mut args = vec!["exec"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&[&id, "cat", "/proc/self/cgroup"]);
        let out = ctx.rt(&args);
        out.ok();
        out.stdout
    };
    let sub = format!("{base}/sub");

    let everywhere = show(&["--cgroup", "sub"]);
    for ctrl in ["memory", "pids", "cpu"] {
        assert_eq!(
            cgroup_line(&everywhere, ctrl),
            Some(sub.as_str()),
            "{everywhere}"
        );
    }
    let memory_only = show(&["--cgroup", "memory:/sub"]);
    assert_eq!(
        cgroup_line(&memory_only, "memory"),
        Some(sub.as_str()),
        "{memory_only}"
    );
    assert_eq!(
        cgroup_line(&memory_only, "pids"),
        Some(base.as_str()),
        "{memory_only}"
    );
    let plain = show(&[]);
    assert_eq!(
        cgroup_line(&plain, "memory"),
        Some(base.as_str()),
        "{plain}"
    );

    for (flags, says) in [
        (vec!["--cgroup", "nosuch"], "does not exist"),
        (vec!["--cgroup", "../.."], "is not a sub cgroup path"),
        (
            vec!["--cgroup", "a", "--cgroup", "b"],
            "missing <controller>: prefix",
        ),
        (
            vec!["--cgroup", "memory:sub", "--cgroup", "memory:x"],
            "specified multiple times",
        ),
        (
            vec!["--cgroup", "nosuchctl:sub"],
            "unknown controller nosuchctl",
        ),
    ] {
        let mut args = vec!["exec"];
        args.extend_from_slice(&flags);
        args.extend_from_slice(&[&id, "true"]);
        ctx.rt(&args).fails_with(255).stderr_has(says);
    }
    // Only the container's own process is left; the sub-cgroups are ours.
    for d in &made {
        fs::remove_dir(d).unwrap();
    }
    ctx.delete_force(&id).ok();
    ctx.assert_nothing_left(&id);
}
