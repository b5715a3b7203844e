//! `--log FILE --log-format json`: what containerd reads after a failure.

use crate::common::*;
use std::fs;

#[test]
fn json_log_lines_are_appended_and_parse() {
    let ctx = TestCtx::new("logging::json");
    let log = ctx.dir.join("log.json");
    // containerd creates the file; the runtime must append, not truncate.
    fs::write(&log, "").unwrap();
    let global = ["--log", path(&log), "--log-format", "json"];
    for verb in ["state", "delete", "kill"] {
        let mut args: Vec<&str> = global.to_vec();
        args.extend([verb, "no-such-container"]);
        let out = ctx.rt(&args);
        out.fails_with(1);
        // The message still reaches stderr for callers that read it there.
        assert!(
            out.stderr.contains("container does not exist"),
            "{verb}: {}",
            out.stderr
        );
    }
    let text = fs::read_to_string(&log).unwrap();
    let records: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("log line is not JSON ({e}): {l:?}"))
        })
        .collect();
    let errors: Vec<&Value> = records.iter().filter(|r| r["level"] == "error").collect();
    assert_eq!(
        errors.len(),
        3,
        "one error record per failed command, appended:\n{text}"
    );
    for r in errors {
        assert!(
            r["msg"]
                .as_str()
                .is_some_and(|m| m.contains("container does not exist")),
            "msg: {r}"
        );
        assert!(
            r["time"].as_str().is_some_and(is_rfc3339),
            "time is not RFC 3339: {r}"
        );
    }
}

#[test]
fn json_log_records_create_failure() {
    let ctx = TestCtx::new("logging::create_failure");
    let log = ctx.dir.join("create-log.json");
    let mut b = ctx.bundle();
    b.args(&["/no/such/binary"]);
    let id = ctx.id("logfail");
    ctx.prepare(&mut b, &id);
    let out = ctx.rt(&[
        "--log",
        path(&log),
        "--log-format",
        "json",
        "run",
        "-b",
        path(&b.dir),
        &id,
    ]);
    assert_ne!(out.code(), Some(0));
    let text = fs::read_to_string(&log).expect("log file written");
    // containerd keeps the last error record; it must carry the cause.
    let last_error = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .rfind(|r| r["level"] == "error")
        .unwrap_or_else(|| panic!("no error record in:\n{text}"));
    let msg = last_error["msg"].as_str().unwrap();
    assert!(
        msg.contains("no such file or directory") || msg.contains("not found"),
        "msg lacks the cause: {msg}"
    );
    ctx.assert_nothing_left(&id);
}

/// `delete --force` of an id that is a path fails (runc: "invalid container
/// ID format") instead of passing as "already gone"; a `--root` that is a
/// regular file fails as "not a directory" instead of listing nothing.
#[test]
fn invalid_id_and_file_as_root_fail_like_runc() {
    let ctx = TestCtx::new("logging::invalid_id");
    let out = ctx.rt(&["delete", "-f", "../../tmp"]);
    out.fails_with(1).stderr_has("invalid container ID format");
    assert!(std::path::Path::new("/tmp").is_dir());
    let file_root = ctx.dir.join("root-is-a-file");
    fs::write(&file_root, "x").unwrap();
    for args in [&["delete", "-f", "c1"][..], &["list"][..]] {
        let mut cmd = crate::common::exec::command(rt_bin());
        cmd.arg("--root").arg(&file_root).args(args);
        ctx.exec(cmd).fails_with(1).stderr_has("not a directory");
    }
    assert_eq!(fs::read_to_string(&file_root).unwrap(), "x");
}

/// Without `--log`, the final error goes to stderr as a logrus text record
/// (`time="..." level=error msg="..."`), as runc prints it; with `--log
/// FILE` the record goes to the file and stderr gets the bare message
/// (what conmon forwards and people read).
#[test]
fn final_error_is_a_record_on_stderr_without_log_and_bare_with_it() {
    let ctx = TestCtx::new("logging::stderr_record");
    let out = ctx.rt(&["state", "no-such-container"]);
    out.fails_with(1);
    let line = out.stderr.trim();
    let rest = line
        .strip_prefix("time=\"")
        .unwrap_or_else(|| panic!("not a logrus record: {line:?}"));
    let (time, rest) = rest.split_once('"').unwrap();
    assert!(is_rfc3339(time), "time is not RFC 3339: {line:?}");
    let msg = rest
        .strip_prefix(" level=error msg=\"")
        .and_then(|m| m.strip_suffix('"'))
        .unwrap_or_else(|| panic!("no level=error msg=\"...\": {line:?}"));
    assert!(msg.contains("container does not exist"), "{line:?}");
    assert_eq!(line.lines().count(), 1, "one record: {line:?}");

    let log = ctx.dir.join("log.txt");
    let out = ctx.rt(&["--log", path(&log), "state", "no-such-container"]);
    out.fails_with(1);
    let bare = out.stderr.trim();
    assert!(bare.contains("container does not exist"), "{bare:?}");
    assert!(!bare.contains("level="), "stderr is not bare: {bare:?}");
    let text = fs::read_to_string(&log).unwrap();
    assert!(
        text.lines().any(|l| l.starts_with("time=\"")
            && l.contains("level=error")
            && l.contains("container does not exist")),
        "no error record in the log file:\n{text}"
    );
}

/// The records of one log file, each a JSON object.
fn json_records(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l:?}")))
        .collect()
}

/// `--debug` writes `level=debug` records of the steps, to the --log file
/// in the --log-format: the parent's (the container's cgroup path, the
/// signal `kill` sends) and the container init's ("child process in
/// init()", as runc's init says), which reach the file from inside the
/// container without touching the container's own stdio.
#[test]
fn debug_records_the_steps_in_the_log_file() {
    let ctx = TestCtx::new("logging::debug_json");
    let log = ctx.dir.join("debug.json");
    let mut b = ctx.bundle();
    b.args(&["sleep", "1000"]);
    let id = ctx.id("debug");
    ctx.prepare(&mut b, &id);
    let debug = ["--debug", "--log", path(&log), "--log-format", "json"];
    let with = |args: &[&str]| {
        let mut all = debug.to_vec();
        all.extend_from_slice(args);
        ctx.rt(&all)
    };
    let created = with(&["create", "-b", path(&b.dir), &id]);
    created.ok();
    with(&["start", &id]).ok();
    with(&["kill", &id, "KILL"]).ok();
    ctx.wait_status(&id, "stopped");
    with(&["delete", &id]).ok();
    ctx.assert_nothing_left(&id);

    let records = json_records(&fs::read_to_string(&log).unwrap());
    let msgs: Vec<&str> = records.iter().filter_map(|r| r["msg"].as_str()).collect();
    assert!(
        records.iter().all(|r| r["level"] == "debug"),
        "{records:#?}"
    );
    assert!(msgs.contains(&"child process in init()"), "{msgs:#?}");
    // Not on the container's stdout/stderr (rt's own here).
    assert!(
        !created.stdout_now().contains("level"),
        "{}",
        created.stdout_now()
    );
    if !testing_runc() {
        let cgroup = ctx.cgroups_path(&id);
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("create ") && m.contains(&cgroup)),
            "no record of the cgroup {cgroup}: {msgs:#?}"
        );
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("sending signal 9 to pid")),
            "{msgs:#?}"
        );
        assert!(
            msgs.iter().any(|m| m.starts_with("init: pivot_root")),
            "{msgs:#?}"
        );
        assert!(msgs.iter().any(|m| m.starts_with("delete ")), "{msgs:#?}");
    }
}

/// Without --log the records go to stderr as text (`level=debug
/// msg="..."`); the container's output is untouched, and without --debug
/// there are none.
#[test]
fn debug_records_go_to_stderr_as_text_without_log() {
    let ctx = TestCtx::new("logging::debug_text");
    let mut b = ctx.bundle();
    b.sh("echo out; exit 3");
    let id = ctx.id("debugtext");
    ctx.prepare(&mut b, &id);
    let out = ctx.rt(&["--debug", "run", "-b", path(&b.dir), &id]);
    out.fails_with(3);
    assert_eq!(out.stdout, "out\n");
    assert!(
        out.stderr
            .contains("level=debug msg=\"child process in init()\""),
        "{}",
        out.stderr
    );
    if !testing_runc() {
        assert!(
            out.stderr.lines().any(|l| l.contains("level=debug")
                && l.contains("msg=\"process exited: pid ")
                && l.contains("status 3")),
            "{}",
            out.stderr
        );
    }
    ctx.assert_nothing_left(&id);

    let quiet = ctx.id("quiet");
    ctx.prepare(&mut b, &quiet);
    let out = ctx.rt(&["run", "-b", path(&b.dir), &quiet]);
    out.fails_with(3);
    assert!(!out.stderr.contains("level=debug"), "{}", out.stderr);
    ctx.assert_nothing_left(&quiet);
}

/// Under --debug without --log the init writes its records to a copy of
/// rt's stderr, but lets it go before it waits for `start`: a created
/// container holds rt's stderr only as its own fd 2.
#[test]
fn created_init_keeps_no_extra_copy_of_stderr() {
    if skip_rt_only(
        "logging::debug_stderr_copy",
        "runc's init forwards through a pipe",
    ) {
        return;
    }
    let ctx = TestCtx::new("logging::debug_stderr_copy");
    let mut b = ctx.bundle();
    b.args(&["sleep", "1000"]);
    let id = ctx.id("copy");
    ctx.prepare(&mut b, &id);
    let out = ctx.rt(&["--debug", "create", "-b", path(&b.dir), &id]);
    out.ok();
    assert!(out.stderr.contains("level=debug"), "{}", out.stderr);
    let pid = ctx.state(&id)["pid"].as_i64().unwrap();
    let target = |fd: &str| fs::read_link(format!("/proc/{pid}/fd/{fd}")).ok();
    let stderr = target("2").expect("fd 2 of the init");
    let copies = fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| target(&e.unwrap().file_name().to_string_lossy()))
        .filter(|t| *t == stderr)
        .count();
    assert_eq!(
        copies, 1,
        "rt's stderr {stderr:?} is open {copies} times in the init"
    );
    ctx.delete_force(&id).ok();
    ctx.assert_nothing_left(&id);
}
