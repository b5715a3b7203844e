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
