//! Lifecycle verbs: create/start/state/kill/delete/run/list and their errors.

use crate::common::*;
use std::fs;

#[test]
fn create_start_kill_delete_reports_state_at_each_step() {
    let ctx = TestCtx::new("lifecycle::state_steps");
    let mut b = ctx.bundle();
    b.args(&["sleep", "1000"]);
    let id = ctx.id("life");
    ctx.create(&mut b, &id).ok();

    let st = ctx.state(&id);
    for key in [
        "ociVersion",
        "id",
        "pid",
        "status",
        "bundle",
        "rootfs",
        "created",
        "owner",
    ] {
        assert!(st.get(key).is_some(), "state lacks {key}: {st}");
    }
    assert_eq!(st["id"], id.as_str());
    assert_eq!(st["status"], "created");
    let pid = st["pid"].as_i64().unwrap();
    assert!(pid > 0, "created container has pid {pid}");
    assert_eq!(st["bundle"], path(&b.dir));
    assert_eq!(st["rootfs"], path(&b.rootfs()));
    assert!(
        is_rfc3339(st["created"].as_str().unwrap()),
        "created is not RFC 3339: {}",
        st["created"]
    );
    assert!(st["ociVersion"].as_str().is_some_and(|v| !v.is_empty()));

    // go-runc does strconv.Atoi on the whole file: no newline allowed.
    let pid_file = fs::read_to_string(ctx.pid_file(&id)).unwrap();
    assert_eq!(
        pid_file,
        pid.to_string(),
        "pid file must be the bare host pid"
    );
    // The pid is a live host process whose cmdline is not yet `sleep`.
    assert!(
        fs::metadata(format!("/proc/{pid}")).is_ok(),
        "init pid {pid} not alive"
    );

    ctx.start(&id).ok();
    let st = ctx.state(&id);
    assert_eq!(st["status"], "running");
    assert_eq!(st["pid"].as_i64().unwrap(), pid, "pid changes across start");
    // start may return just before the init's execve.
    let mut cmdline = String::new();
    let execed = wait_until(std::time::Duration::from_secs(5), || {
        cmdline = fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        cmdline.starts_with("sleep\0")
    });
    assert!(execed, "init did not exec the process: {cmdline:?}");

    ctx.kill(&id, "KILL").ok();
    ctx.wait_status(&id, "stopped");
    assert_eq!(
        ctx.state(&id)["pid"],
        0,
        "stopped container must report pid 0"
    );

    ctx.delete(&id).ok();
    assert!(!ctx.root.join(&id).exists(), "state dir survives delete");
    ctx.rt(&["state", &id])
        .fails_with(1)
        .stderr_has("container does not exist");
    ctx.assert_nothing_left(&id);
}

#[test]
fn finished_process_is_stopped_and_its_output_arrives() {
    let ctx = TestCtx::new("lifecycle::finished");
    let mut b = ctx.bundle();
    b.sh("echo out-$((6*7))");
    let id = ctx.id("fin");
    let out = ctx.create_start_wait(&mut b, &id);
    assert_eq!(out.trim(), "out-42");
    let st = ctx.state(&id);
    assert_eq!(st["status"], "stopped");
    assert_eq!(st["pid"], 0);
    ctx.delete(&id).ok();
    ctx.assert_nothing_left(&id);
}

#[test]
fn delete_of_unknown_id() {
    let ctx = TestCtx::new("lifecycle::delete_unknown");
    ctx.delete_force("no-such-container").ok();
    ctx.delete("no-such-container")
        .fails_with(1)
        .stderr_has("container does not exist");
    ctx.rt(&["state", "no-such-container"])
        .fails_with(1)
        .stderr_has("container does not exist");
}

#[test]
fn kill_of_stopped_container_fails() {
    let ctx = TestCtx::new("lifecycle::kill_stopped");
    let mut b = ctx.bundle();
    let id = ctx.id("ks");
    ctx.create_start_wait(&mut b, &id);
    ctx.kill(&id, "KILL")
        .fails_with(1)
        .stderr_has("container not running");
    ctx.delete(&id).ok();
    ctx.assert_nothing_left(&id);
}

#[test]
fn kill_accepts_number_name_and_sig_prefix() {
    let ctx = TestCtx::new("lifecycle::kill_spellings");
    // pid 1 ignores signals it has no handler for, so TERM needs a trap.
    let script = "trap 'exit 0' TERM; while :; do sleep 0.05; done";
    let spellings = ["9", "KILL", "SIGKILL", "term", "15", "SIGTERM"];
    let mut ids = Vec::new();
    for sig in spellings {
        let mut b = ctx.bundle();
        b.sh(script);
        let id = ctx.id("kill");
        ctx.create(&mut b, &id).ok();
        ctx.start(&id).ok();
        ids.push((id, sig));
    }
    for (id, sig) in &ids {
        ctx.wait_status(id, "running");
        ctx.kill(id, sig).ok();
    }
    for (id, _) in &ids {
        ctx.wait_status(id, "stopped");
        ctx.delete(id).ok();
        ctx.assert_nothing_left(id);
    }
    let mut b = ctx.bundle();
    b.args(&["sleep", "1000"]);
    let id = ctx.id("badsig");
    ctx.create(&mut b, &id).ok();
    let bad = ctx.kill(&id, "NOTASIGNAL");
    assert_eq!(
        bad.code(),
        Some(1),
        "unknown signal must fail: {}",
        bad.stderr
    );
    assert_eq!(ctx.state(&id)["status"], "created");
    ctx.delete_force(&id).ok();
    ctx.assert_nothing_left(&id);
}

#[test]
fn run_propagates_exit_status() {
    let ctx = TestCtx::new("lifecycle::run_status");
    let mut b = ctx.bundle();
    b.sh("echo before-exit; exit 3");
    let id = ctx.id("st3");
    let out = ctx.run(&mut b, &id);
    out.fails_with(3);
    assert_eq!(out.stdout.trim(), "before-exit");
    ctx.assert_nothing_left(&id);

    let mut b = ctx.bundle();
    b.args(&["true"]);
    let id = ctx.id("st0");
    ctx.run(&mut b, &id).ok();
    ctx.assert_nothing_left(&id);
}

#[test]
fn run_reports_128_plus_signal_when_init_is_killed() {
    let ctx = TestCtx::new("lifecycle::run_signal");
    let mut b = ctx.bundle();
    b.args(&["sleep", "1000"]);
    let id = ctx.id("sig");
    let out = std::thread::scope(|s| {
        let runner = s.spawn(|| ctx.run(&mut b, &id));
        ctx.wait_status(&id, "running");
        ctx.kill(&id, "9").ok();
        runner.join().unwrap()
    });
    out.fails_with(128 + 9);
    ctx.assert_nothing_left(&id);
}

#[test]
fn run_detached_returns_while_container_runs() {
    let ctx = TestCtx::new("lifecycle::run_detached");
    let mut b = ctx.bundle();
    b.args(&["sleep", "1000"]);
    let id = ctx.id("det");
    ctx.prepare(&mut b, &id);
    let started = std::time::Instant::now();
    ctx.rt(&["run", "-d", "-b", path(&b.dir), &id]).ok();
    assert!(
        started.elapsed().as_secs() < 10,
        "run -d waited for the container"
    );
    assert_eq!(ctx.state(&id)["status"], "running");
    // A running container is not deleted without --force.
    let refused = ctx.delete(&id);
    assert_eq!(
        refused.code(),
        Some(1),
        "delete of a running container must fail"
    );
    assert_eq!(ctx.state(&id)["status"], "running");
    ctx.delete_force(&id).ok();
    ctx.assert_nothing_left(&id);
}

#[test]
fn duplicate_id_is_refused_and_first_container_survives() {
    let ctx = TestCtx::new("lifecycle::duplicate");
    let mut b = ctx.bundle();
    b.args(&["sleep", "1000"]);
    let id = ctx.id("dup");
    ctx.create(&mut b, &id).ok();
    let pid = ctx.state(&id)["pid"].as_i64().unwrap();
    let mut b2 = ctx.bundle();
    let second = ctx.create(&mut b2, &id);
    second.fails_with(1);
    assert!(
        second.stderr.contains("exist"),
        "error should say the id exists: {}",
        second.stderr
    );
    let st = ctx.state(&id);
    assert_eq!(st["status"], "created");
    assert_eq!(st["pid"].as_i64().unwrap(), pid);
    assert_eq!(
        st["bundle"],
        path(&b.dir),
        "second create overwrote the state"
    );
    ctx.delete_force(&id).ok();
    ctx.assert_nothing_left(&id);
}

#[test]
fn invalid_ids_are_refused() {
    let ctx = TestCtx::new("lifecycle::invalid_id");
    let b = ctx.bundle();
    b.save();
    for bad in ["a/b", "..", "../escape", "."] {
        let out = ctx.rt(&["create", "-b", path(&b.dir), bad]);
        assert_eq!(out.code(), Some(1), "id {bad:?} accepted: {}", out.stderr);
        assert!(!out.stderr.is_empty(), "no error message for id {bad:?}");
    }
    assert!(
        !ctx.dir.join("escape").exists(),
        "id ../escape created a dir outside --root"
    );
    let leftovers: Vec<_> = fs::read_dir(&ctx.root)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        leftovers.is_empty(),
        "state entries after refused ids: {leftovers:?}"
    );
}

#[test]
fn list_shows_containers_quietly_and_as_json() {
    let ctx = TestCtx::new("lifecycle::list");
    let mut ids = Vec::new();
    for _ in 0..2 {
        let mut b = ctx.bundle();
        b.args(&["sleep", "1000"]);
        let id = ctx.id("ls");
        ctx.create(&mut b, &id).ok();
        ids.push((id, b.dir.clone()));
    }
    ctx.start(&ids[1].0).ok();

    let quiet = ctx.rt(&["list", "-q"]);
    quiet.ok();
    let mut listed: Vec<&str> = quiet.stdout.lines().collect();
    listed.sort();
    let mut expected: Vec<&str> = ids.iter().map(|(i, _)| i.as_str()).collect();
    expected.sort();
    assert_eq!(listed, expected);

    let json = ctx.rt(&["list", "--format", "json"]);
    json.ok();
    let arr: Value = serde_json::from_str(&json.stdout).expect("list --format json is JSON");
    let arr = arr.as_array().expect("a JSON array");
    assert_eq!(arr.len(), 2);
    for (id, dir) in &ids {
        let entry = arr
            .iter()
            .find(|e| e["id"] == id.as_str())
            .unwrap_or_else(|| panic!("{id} not listed"));
        assert_eq!(entry["bundle"], path(dir));
        assert!(entry["pid"].as_i64().unwrap() > 0);
        assert!(is_rfc3339(entry["created"].as_str().unwrap()));
        let want = if *id == ids[1].0 {
            "running"
        } else {
            "created"
        };
        assert_eq!(entry["status"], want);
    }
    for (id, _) in &ids {
        ctx.delete_force(id).ok();
        ctx.assert_nothing_left(id);
    }
    let empty = ctx.rt(&["list", "-q"]);
    empty.ok();
    assert_eq!(empty.stdout.trim(), "");
}

#[test]
fn delete_of_created_container_kills_it() {
    let ctx = TestCtx::new("lifecycle::delete_created");
    let mut b = ctx.bundle();
    b.args(&["sleep", "1000"]);
    let id = ctx.id("created");
    ctx.create(&mut b, &id).ok();
    let pid = ctx.state(&id)["pid"].as_i64().unwrap();
    // runc semantics (and what Podman/containerd rely on): a container that
    // never started is deleted without --force.
    ctx.delete(&id).ok();
    let gone = wait_until(std::time::Duration::from_secs(5), || {
        fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                s.rsplit_once(')')
                    .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
            })
            .unwrap_or(true)
    });
    assert!(gone, "init {pid} of the deleted container is still alive");
    ctx.assert_nothing_left(&id);
}

#[test]
fn start_twice_fails() {
    let ctx = TestCtx::new("lifecycle::start_twice");
    let mut b = ctx.bundle();
    b.args(&["sleep", "1000"]);
    let id = ctx.id("twice");
    ctx.create(&mut b, &id).ok();
    ctx.start(&id).ok();
    let again = ctx.start(&id);
    again.fails_with(1);
    assert!(!again.stderr.is_empty());
    assert_eq!(ctx.state(&id)["status"], "running");
    ctx.delete_force(&id).ok();
    ctx.assert_nothing_left(&id);
}

/// conmon and containerd's shim are child subreapers that reap the init as
/// soon as it exits. A process as short as `true` can exec and be reaped
/// while `start` is still running: `start` must still succeed (rt once
/// failed with "pidfd_open init: no such process" in ~1 of 10 podman runs).
#[test]
fn start_succeeds_when_a_prompt_subreaper_reaps_a_short_init() {
    use std::os::unix::process::CommandExt;
    let ctx = TestCtx::new("lifecycle::prompt_subreaper");
    let mut b = ctx.bundle();
    b.args(&["true"]);
    let ids: Vec<String> = (0..40).map(|_| ctx.id("reaped")).collect();
    // One cgroup per container, each removed by its delete.
    let mut script = String::from("fails=0\n");
    for id in &ids {
        b.set("/linux/cgroupsPath", json!(ctx.cgroups_path(id)));
        let config = ctx.dir.join(format!("{id}.json"));
        std::fs::write(&config, serde_json::to_vec(&b.spec).unwrap()).unwrap();
        script.push_str(&format!(
            "cp {config} {bundle}/config.json\n\
             {rt} --root {root} create -b {bundle} {id} || exit 9\n\
             {rt} --root {root} start {id} || fails=$((fails+1))\n\
             {rt} --root {root} delete --force {id}\n",
            config = path(&config),
            bundle = path(&b.dir),
            rt = path(&rt_bin()),
            root = path(&ctx.root),
        ));
    }
    script.push_str("echo fails=$fails\n");
    // The shell becomes the orphaned inits' parent and, waiting for each
    // `start` with waitpid(-1), reaps them at once, as conmon does.
    let mut cmd = crate::common::exec::command("sh");
    cmd.args(["-c", &script]);
    // SAFETY: prctl in the forked child before exec; the flag survives exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = crate::common::exec::run_logged(cmd, &ctx.dir, std::time::Duration::from_secs(120));
    out.ok();
    assert_eq!(
        out.stdout.trim(),
        "fails=0",
        "start failed for a reaped init:\n{}",
        out.stderr
    );
    for id in &ids {
        ctx.assert_nothing_left(id);
    }
}

/// Signal 0 is kill(2)'s liveness check: `kill ID 0` succeeds while the init
/// lives (created or running) and leaves it alone, fails with "container
/// not running" once it is gone; `kill -a ID 0` succeeds on both (runc).
#[test]
fn kill_signal_0_checks_liveness() {
    let ctx = TestCtx::new("lifecycle::kill_0");
    let mut b = ctx.bundle();
    b.args(&["sleep", "1000"]);
    let id = ctx.id("alive");
    ctx.create(&mut b, &id).ok();
    for status in ["created", "running"] {
        ctx.kill(&id, "0").ok();
        ctx.rt(&["kill", "-a", &id, "0"]).ok();
        ctx.rt(&["kill", "--all", &id, "0"]).ok();
        assert_eq!(ctx.state(&id)["status"], status, "signal 0 changed it");
        if status == "created" {
            ctx.start(&id).ok();
        }
    }
    ctx.kill(&id, "KILL").ok();
    ctx.wait_status(&id, "stopped");
    ctx.kill(&id, "0")
        .fails_with(1)
        .stderr_has("container not running");
    ctx.rt(&["kill", "-a", &id, "0"]).ok();
    ctx.kill("no-such-container", "0")
        .fails_with(1)
        .stderr_has("container does not exist");
    ctx.delete(&id).ok();
    ctx.assert_nothing_left(&id);
}
