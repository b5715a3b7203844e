//! OCI hooks: the six kinds, their order, the state on their stdin, failing
//! and timed-out hooks.

use crate::common::*;
use std::fs;
use std::path::{Path, PathBuf};

/// A hook that appends `NAME <state json>` to `log`. `/bin/sh` exists both on
/// the host (runtime-namespace hooks) and in the busybox rootfs
/// (startContainer runs inside the container). The line is written with one
/// O_APPEND write so hooks that overlap cannot interleave inside a line.
fn logging_hook(name: &str, log: &Path) -> Value {
    let script = format!(
        "state=$(cat); printf '%s %s\\n' {name} \"$state\" >> {}",
        log.display()
    );
    json!({"path": "/bin/sh", "args": ["sh", "-c", script]})
}

/// Sets up a log dir bind-mounted at the same path inside the container, so
/// hooks on both sides of pivot_root write to one file.
fn hook_log(ctx: &TestCtx, b: &mut Bundle) -> PathBuf {
    let dir = ctx.dir.join("hooklog");
    fs::create_dir_all(&dir).unwrap();
    b.mount(json!({"destination": path(&dir), "type": "bind", "source": path(&dir), "options": ["rbind", "rw"]}));
    dir.join("log")
}

/// (hook name, state JSON) in the order they ran.
fn read_log(log: &Path) -> Vec<(String, Value)> {
    let text = fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (name, state) = l.split_once(' ').unwrap_or((l, ""));
            let state = serde_json::from_str(state)
                .unwrap_or_else(|e| panic!("hook {name} got non-JSON state ({e}): {state:?}"));
            (name.to_string(), state)
        })
        .collect()
}

fn names(entries: &[(String, Value)]) -> Vec<&str> {
    entries.iter().map(|(n, _)| n.as_str()).collect()
}

const KINDS: [&str; 6] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// What `run_all_hooks` observed.
struct HookRun {
    /// Hook names logged so far, after create, start, kill and delete.
    steps: Vec<Vec<String>>,
    /// Every (hook, state) entry at the end.
    all: Vec<(String, Value)>,
    /// The init's host pid.
    pid: i64,
    bundle: PathBuf,
}

/// Registers all six hook kinds and walks create/start/kill/delete, recording
/// which hooks each step ran.
fn run_all_hooks(ctx: &TestCtx, id: &str) -> HookRun {
    let mut b = ctx.bundle();
    let log = hook_log(ctx, &mut b);
    for kind in KINDS {
        b.hook(kind, logging_hook(kind, &log));
    }
    b.args(&["sleep", "1000"]);
    let mut steps = Vec::new();
    let names_now = || {
        names(&read_log(&log))
            .into_iter()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };

    ctx.create(&mut b, id).ok();
    steps.push(names_now());
    let pid = ctx.state(id)["pid"].as_i64().unwrap();
    ctx.start(id).ok();
    ctx.wait_status(id, "running");
    // startContainer runs before the user process; poststart may lag start's exit a bit.
    wait_until(std::time::Duration::from_secs(2), || {
        read_log(&log).len() >= 5
    });
    steps.push(names_now());
    ctx.kill(id, "KILL").ok();
    ctx.wait_status(id, "stopped");
    steps.push(names_now());
    ctx.delete(id).ok();
    steps.push(names_now());
    HookRun {
        steps,
        all: read_log(&log),
        pid,
        bundle: b.dir.clone(),
    }
}

fn new_since(steps: &[Vec<String>], i: usize) -> Vec<String> {
    let before = if i == 0 { 0 } else { steps[i - 1].len() };
    let mut v = steps[i][before..].to_vec();
    if i == 0 {
        // prestart and createRuntime have no order between them in the spec.
        let n = v.len().min(2);
        v[..n].sort();
    }
    v
}

#[test]
fn hooks_run_at_their_lifecycle_steps_with_state() {
    let ctx = TestCtx::new("hooks::order");
    let id = ctx.id("hooks");
    let HookRun {
        steps,
        all,
        pid,
        bundle,
    } = run_all_hooks(&ctx, &id);
    eprintln!("hooks per step: {steps:?}");
    let created = new_since(&steps, 0);
    assert_eq!(
        created[..3],
        ["createRuntime", "prestart", "createContainer"],
        "hooks run by create"
    );
    // runc 1.1.5 runs poststart during create (see poststart_runs_after_start).
    let started: Vec<String> = new_since(&steps, 1)
        .into_iter()
        .filter(|n| n != "poststart")
        .collect();
    assert_eq!(started, ["startContainer"], "hooks run by start");
    assert!(
        new_since(&steps, 2).is_empty(),
        "hooks ran when the process died: {:?}",
        new_since(&steps, 2)
    );
    assert_eq!(new_since(&steps, 3), ["poststop"], "hooks run by delete");

    for (name, state) in &all {
        assert_eq!(state["id"], id.as_str(), "{name} state id");
        assert_eq!(state["bundle"], path(&bundle), "{name} state bundle");
        assert!(
            state["ociVersion"].is_string(),
            "{name} state lacks ociVersion"
        );
        match name.as_str() {
            "poststop" => {}
            // Run inside the container: runc 1.1.5 reports the pid as seen
            // there (1); the spec's "as seen by the host" gives the host pid.
            "createContainer" | "startContainer" => {
                let got = state["pid"].as_i64();
                assert!(
                    got == Some(pid) || got == Some(1),
                    "{name} state pid {got:?}"
                );
            }
            _ => assert_eq!(state["pid"].as_i64(), Some(pid), "{name} state pid"),
        }
    }
    let status = |name: &str| {
        all.iter().find(|(n, _)| n == name).unwrap().1["status"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    for kind in ["createRuntime", "createContainer"] {
        assert_eq!(status(kind), "creating", "{kind} status");
    }
    // prestart gets "created" (crun's, what runtime-tools checks); runc
    // 1.1.5 says "creating".
    let prestart = if testing_runc() {
        "creating"
    } else {
        "created"
    };
    assert_eq!(status("prestart"), prestart, "prestart status");
    assert_eq!(status("startContainer"), "created");
    assert_eq!(status("poststop"), "stopped");
    ctx.assert_nothing_left(&id);
}

/// Spec: poststart runs after the user process started, as part of `start`.
/// runc 1.1.5 runs it at the end of `create` (fixed in later runc).
#[test]
fn poststart_runs_after_start() {
    if skip_rt_only(
        "hooks::poststart",
        "runc 1.1.5 runs poststart during create",
    ) {
        return;
    }
    let ctx = TestCtx::new("hooks::poststart");
    let id = ctx.id("post");
    let HookRun { steps, all, .. } = run_all_hooks(&ctx, &id);
    assert!(
        !steps[0].iter().any(|n| n == "poststart"),
        "poststart ran during create: {steps:?}"
    );
    assert_eq!(new_since(&steps, 1), ["startContainer", "poststart"]);
    let poststart = &all.iter().find(|(n, _)| n == "poststart").unwrap().1;
    assert_eq!(poststart["status"], "running");
    ctx.assert_nothing_left(&id);
}

#[test]
fn failing_create_hook_fails_create_and_leaves_nothing() {
    for kind in ["prestart", "createRuntime"] {
        let ctx = TestCtx::new("hooks::failing");
        let mut b = ctx.bundle();
        b.hook(
            kind,
            json!({"path": "/bin/sh", "args": ["sh", "-c", "echo hook-says-no >&2; exit 7"]}),
        );
        let id = ctx.id("hookfail");
        let out = ctx.create(&mut b, &id);
        out.fails_with(1);
        assert!(!out.stderr.is_empty(), "{kind} failure has no message");
        ctx.assert_nothing_left(&id);
        ctx.rt(&["state", &id])
            .fails_with(1)
            .stderr_has("container does not exist");
    }
}

#[test]
fn hook_timeout_fails_create() {
    let ctx = TestCtx::new("hooks::timeout");
    let mut b = ctx.bundle();
    b.hook(
        "createRuntime",
        json!({"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}),
    );
    let id = ctx.id("hookslow");
    let started = std::time::Instant::now();
    let out = ctx.create(&mut b, &id);
    out.fails_with(1);
    assert!(
        started.elapsed().as_secs() < 15,
        "hook timeout not enforced ({:?})",
        started.elapsed()
    );
    assert!(
        out.stderr.contains("timed out") || out.stderr.contains("timeout"),
        "error should say the hook timed out: {}",
        out.stderr
    );
    ctx.assert_nothing_left(&id);
}

#[test]
fn hooks_get_env_and_args() {
    let ctx = TestCtx::new("hooks::env_args");
    let mut b = ctx.bundle();
    let out = ctx.dir.join("hook-env");
    b.hook(
        "createRuntime",
        json!({"path": "/bin/sh", "args": ["sh", "-c", format!("echo \"$1 $HOOKVAR\" > {}", out.display()), "argv0", "first-arg"], "env": ["HOOKVAR=from-env"]}),
    );
    ctx.output_of(&mut b, "hookenv");
    assert_eq!(
        fs::read_to_string(&out).unwrap().trim(),
        "first-arg from-env"
    );
}

/// Spec: a failing poststart or poststop hook is logged as a warning, and the
/// remaining hooks and the lifecycle go on as if it had succeeded.
#[test]
fn failing_poststart_and_poststop_hooks_only_warn() {
    if skip_rt_only(
        "hooks::post_fail",
        "runc 1.1.5 fails start/delete on a failing poststart/poststop hook",
    ) {
        return;
    }
    for kind in ["poststart", "poststop"] {
        let ctx = TestCtx::new("hooks::post_fail");
        let log = ctx.dir.join("after-failing-hook");
        let mut b = ctx.bundle();
        b.hook(
            kind,
            json!({"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]}),
        )
        .hook(
            kind,
            json!({"path": "/bin/sh", "args": ["sh", "-c", format!("echo {kind} >> {}", log.display())]}),
        );
        let id = ctx.id("postfail");
        ctx.create(&mut b, &id).ok();
        ctx.start(&id).ok();
        ctx.wait_status(&id, "stopped");
        ctx.delete(&id).ok();
        assert_eq!(
            fs::read_to_string(&log).unwrap_or_default(),
            format!("{kind}\n"),
            "the {kind} hook after the failing one did not run exactly once"
        );
        ctx.assert_nothing_left(&id);
    }
}

/// Where each hook runs and what it inherits, as runc runs them:
/// createContainer in the rootfs, createRuntime/prestart in the bundle;
/// a hook without `env` gets the caller's environment, or inside the
/// container the process's (HOME included); and no hook sees a file
/// descriptor beyond stdio, neither the caller's leaked ones nor those
/// passed to the container with --preserve-fds.
#[test]
fn hooks_run_where_runc_runs_them_with_only_stdio() {
    let ctx = TestCtx::new("hooks::cwd_env_fds");
    let mut b = ctx.bundle();
    let log = hook_log(&ctx, &mut b);
    let dir = log.parent().unwrap().to_path_buf();
    for kind in KINDS {
        // The fds with shell builtins only: a redirection makes dash save
        // fds (10, 11), and the glob's own directory fd is closed again by
        // the time `[ -e ]` looks. /proc/self, not /proc/$$: before
        // pivot_root the createContainer hook sees the host's procfs from
        // the container's pid namespace.
        let script = format!(
            "set -- /proc/self/fd/*; open=; \
             for f in \"$@\"; do [ -e \"$f\" ] && open=\"$open ${{f##*/}}\"; done; \
             echo $open > {d}/{kind}.fds; \
             {{ echo cwd=$(pwd); echo procvar=${{PROCVAR:-unset}}; \
             echo callervar=${{CALLERVAR:-unset}}; echo home=${{HOME:-unset}}; }} > {d}/{kind}.env",
            d = dir.display()
        );
        b.hook(
            kind,
            json!({"path": "/bin/sh", "args": ["sh", "-c", script]}),
        );
    }
    b.env("PROCVAR=from-process");
    let id = ctx.id("hookenv");
    ctx.prepare(&mut b, &id);
    let extra = fs::File::open("/etc/passwd").unwrap();
    let preserved = fs::File::open("/etc/group").unwrap();
    let with_caller = |args: &[&str]| {
        let mut cmd = ctx.rt_command(args);
        cmd.env("CALLERVAR", "from-caller");
        crate::fds::with_fds(&mut cmd, &[(&preserved, 3), (&extra, 7)]);
        ctx.exec(cmd)
    };
    with_caller(&["create", "--preserve-fds", "1", "-b", path(&b.dir), &id]).ok();
    with_caller(&["start", &id]).ok();
    ctx.wait_status(&id, "stopped");
    with_caller(&["delete", &id]).ok();
    ctx.assert_nothing_left(&id);

    let read = |kind: &str, ext: &str| {
        fs::read_to_string(dir.join(format!("{kind}.{ext}")))
            .unwrap_or_else(|e| panic!("{kind} hook left no .{ext} ({e})"))
    };
    let value = |kind: &str, key: &str| {
        read(kind, "env")
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")).map(str::to_string))
            .unwrap_or_else(|| panic!("{kind}: no {key}="))
    };
    let bundle = fs::canonicalize(&b.dir).unwrap();
    assert_eq!(
        value("createContainer", "cwd"),
        path(&bundle.join("rootfs")),
        "createContainer cwd"
    );
    for kind in ["prestart", "createRuntime"] {
        assert_eq!(value(kind, "cwd"), path(&bundle), "{kind} cwd");
    }
    assert_eq!(value("startContainer", "procvar"), "from-process");
    assert_eq!(value("startContainer", "home"), "/root");
    assert_eq!(value("createContainer", "procvar"), "from-process");
    for kind in ["prestart", "createRuntime", "poststart", "poststop"] {
        assert_eq!(value(kind, "callervar"), "from-caller", "{kind} env");
    }
    // runc 1.1.5 passes its own and the caller's extra fds to hooks.
    if testing_runc() {
        return;
    }
    for kind in KINDS {
        let fds: Vec<String> = read(kind, "fds")
            .split_whitespace()
            .map(String::from)
            .collect();
        assert_eq!(fds, ["0", "1", "2"], "{kind} hook's open fds");
    }
}
