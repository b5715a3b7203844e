//! `events`: resource usage in runc's JSON shape, once (--stats) or as a
//! stream, with OOM kills, that ends when the container stops.

use crate::common::*;
use std::io::{BufRead, BufReader};
use std::process::Stdio;

fn started(ctx: &TestCtx, label: &str) -> String {
    let mut b = ctx.bundle();
    b.set("/linux/resources/memory", json!({"limit": 33554432}))
        .set("/linux/resources/pids", json!({"limit": 50}))
        .args(&["sleep", "1000"]);
    let id = ctx.id(label);
    ctx.create(&mut b, &id).ok();
    ctx.start(&id).ok();
    id
}

#[test]
fn stats_once_in_runc_shape() {
    let ctx = TestCtx::new("events::stats");
    let id = started(&ctx, "stats");
    let out = ctx.rt(&["events", "--stats", &id]);
    out.ok();
    assert_eq!(
        out.stdout.lines().count(),
        1,
        "one JSON line: {}",
        out.stdout
    );
    let ev: Value = serde_json::from_str(out.stdout.trim()).expect("JSON");
    assert_eq!(ev["type"], "stats");
    assert_eq!(ev["id"], id.as_str());
    let data = &ev["data"];
    assert_eq!(data["memory"]["usage"]["limit"], 33554432, "{data:#}");
    assert!(
        data["memory"]["usage"]["usage"].as_u64().unwrap_or(0) > 0,
        "{data:#}"
    );
    assert!(
        data["memory"]["raw"]
            .as_object()
            .is_some_and(|r| !r.is_empty()),
        "{data:#}"
    );
    assert_eq!(data["pids"]["limit"], 50, "{data:#}");
    assert!(
        data["pids"]["current"].as_u64().unwrap_or(0) >= 1,
        "{data:#}"
    );
    assert!(
        data["cpu"]["usage"]["total"].as_u64().unwrap_or(0) > 0,
        "{data:#}"
    );
    for key in [
        "cpu",
        "cpuset",
        "memory",
        "pids",
        "blkio",
        "hugetlb",
        "intel_rdt",
        "network_interfaces",
    ] {
        assert!(data.get(key).is_some(), "no {key} in {data:#}");
    }
    ctx.delete_force(&id).ok();
    ctx.assert_nothing_left(&id);
}

#[test]
fn stats_of_a_stopped_container_is_an_error() {
    let ctx = TestCtx::new("events::stopped");
    let id = started(&ctx, "stopped");
    ctx.kill(&id, "KILL").ok();
    ctx.wait_status(&id, "stopped");
    let out = ctx.rt(&["events", "--stats", &id]);
    assert!(!out.success(), "events on a stopped container succeeded");
    out.stderr_has("is not running");
    ctx.delete(&id).ok();
    ctx.assert_nothing_left(&id);
}

#[test]
fn stream_repeats_until_the_container_stops() {
    let ctx = TestCtx::new("events::stream");
    let id = started(&ctx, "stream");
    let mut child = ctx
        .rt_command(&["events", "--interval", "100ms", &id])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn events");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for _ in 0..2 {
        let line = lines.next().expect("an event line").expect("read");
        let ev: Value = serde_json::from_str(&line).expect("JSON");
        assert_eq!(ev["type"], "stats");
    }
    ctx.kill(&id, "KILL").ok();
    ctx.wait_status(&id, "stopped");
    if testing_runc() {
        // runc 1.1.5 goes on printing the dead cgroup's numbers until
        // killed; rt's stream ends.
        let _ = child.kill();
        let _ = child.wait();
        ctx.delete(&id).ok();
        return;
    }
    // The stream ends by itself once the container is gone.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait events") {
            break s;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("events kept running after the container stopped");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(status.success(), "events exited {status:?}");
    ctx.delete(&id).ok();
    ctx.assert_nothing_left(&id);
}

/// A container over its memory limit: the stream carries runc's
/// `{"type":"oom","id":ID}` record (no data) as the kernel's OOM killer
/// strikes, and ends on its own once the container has died, without
/// waiting for the next (hour-long) interval.
#[test]
fn stream_reports_oom_kills_and_ends_with_the_container() {
    let ctx = TestCtx::new("events::oom");
    let mut b = ctx.bundle();
    // 16 MiB with no swap beyond it; dd's 64 MiB buffer cannot fit.
    b.set(
        "/linux/resources/memory",
        json!({"limit": 16777216, "swap": 16777216}),
    )
    .sh("sleep 1; dd if=/dev/zero of=/dev/null bs=64M count=1; echo dd=$?");
    let id = ctx.id("oom");
    ctx.create(&mut b, &id).ok();
    let mut child = ctx
        .rt_command(&["events", "--interval", "1h", &id])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn events");
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(|l| l.ok())
            .collect::<Vec<_>>()
    });
    let started = std::time::Instant::now();
    ctx.start(&id).ok();
    ctx.wait_status(&id, "stopped");
    let ended = wait_until(std::time::Duration::from_secs(10), || {
        child.try_wait().ok().flatten().is_some()
    });
    if testing_runc() {
        // runc 1.1.5 on cgroup v1 follows until the cgroup is deleted.
        ctx.delete(&id).ok();
    } else {
        assert!(ended, "events kept running after the container died");
    }
    let status = child.wait().expect("wait events");
    assert!(status.success(), "events exited {status:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
    let lines = reader.join().unwrap();
    let events: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let ooms: Vec<_> = events.iter().filter(|e| e["type"] == "oom").collect();
    assert!(!ooms.is_empty(), "no oom record in {lines:#?}");
    for e in ooms {
        assert_eq!(e, &json!({"type": "oom", "id": id}));
    }
    if !testing_runc() {
        // rt prints the first numbers at once; runc after one interval.
        assert_eq!(events[0]["type"], "stats", "{lines:#?}");
        ctx.delete(&id).ok();
    }
    ctx.assert_nothing_left(&id);
}
