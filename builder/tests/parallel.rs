//! Independent stages build at the same time (in child builders), a
//! failing one stops the rest and is the error reported, and nothing of
//! the stopped stages keeps running.

mod common;
use common::*;

/// Two stages that each announce themselves in a shared cache mount and
/// wait (up to `wait` tenths of a second) for the other: each writes
/// "together" only if both ran at the same time.
fn rendezvous(id: &str, wait: u32) -> String {
    let stage = |me: &str, other: &str| {
        format!(
            "FROM busybox AS {me}
RUN --mount=type=cache,target=/sync,id={id} touch /sync/{me} && i=0; \
while [ ! -e /sync/{other} ] && [ $i -lt {wait} ]; do sleep 0.1; i=$((i+1)); done; \
if [ -e /sync/{other} ]; then echo together; else echo alone; fi > /{me}
"
        )
    };
    format!(
        "{}{}FROM busybox\nCOPY --from=a /a /a\nCOPY --from=b /b /b\n",
        stage("a", "b"),
        stage("b", "a")
    )
}

fn read_both(dir: &std::path::Path, store: &std::path::Path, name: &str) -> (String, String) {
    let out = dir.join(format!("out-{name}"));
    unpack_rootfs(store, name, &out);
    let read = |p: &str| std::fs::read_to_string(out.join("rootfs").join(p)).unwrap();
    (read("a"), read("b"))
}

#[test]
fn independent_stages_run_at_the_same_time() {
    if !can_build() {
        return;
    }
    let (dir, store) = store_with_busybox("parallel");
    let id = format!("sync-{}", std::process::id());
    let ctx = context(&dir, &rendezvous(&id, 300), &[]);
    let out = build(&store, &ctx, &["-t", "par", "--no-cache"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        read_both(&dir, &store, "par"),
        ("together\n".into(), "together\n".into())
    );
    // Both stages' progress is shown.
    assert!(out.stderr.contains("[a 2/2] RUN"), "{}", out.stderr);
    assert!(out.stderr.contains("[b 2/2] RUN"), "{}", out.stderr);

    // The control: one at a time, the first stage is alone.
    let id2 = format!("sync2-{}", std::process::id());
    let ctx2 = context(&dir.join("seq"), &rendezvous(&id2, 20), &[]);
    let out = run(bin()
        .env("RT_BUILD_PARALLEL", "0")
        .arg("--root")
        .arg(&store)
        .args(["--progress", "plain", "-t", "seq", "--no-cache"])
        .arg(&ctx2));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let (a, b) = read_both(&dir, &store, "seq");
    assert!(
        a == "alone\n" || b == "alone\n",
        "sequential build saw both: {a} {b}"
    );
}

#[test]
fn a_failing_stage_stops_the_others_and_is_reported() {
    if !can_build() {
        return;
    }
    let (dir, store) = store_with_busybox("parallel-fail");
    let ctx = context(
        &dir,
        "FROM busybox AS slow
RUN sleep 31.25
FROM busybox AS bad
RUN sleep 0.5 && exit 7
FROM busybox
COPY --from=slow /etc/passwd /p1
COPY --from=bad /etc/passwd /p2
",
        &[],
    );
    let out = build(&store, &ctx, &["--no-cache"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let last = out
        .stderr
        .trim_end()
        .lines()
        .filter(|l| l.starts_with("rt-build: "))
        .collect::<Vec<_>>();
    assert_eq!(last.len(), 1, "{}", out.stderr);
    assert!(
        last[0].contains(":4: [bad 2/2] RUN sleep 0.5 && exit 7"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("exit code: 7"), "{}", out.stderr);
    // The slow stage's container was stopped and removed with its builder.
    let alive = std::process::Command::new("sh")
        .args(["-c", "pgrep -f '[s]leep 31.25'"])
        .status()
        .unwrap()
        .success();
    assert!(!alive, "the other stage still runs");
    // Nor does the killed builder's RUN network (slirp4netns).
    std::thread::sleep(std::time::Duration::from_millis(200));
    let slirp = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("pgrep -f '[s]lirp4netns.*{}'", store.display()))
        .status()
        .unwrap()
        .success();
    assert!(!slirp, "the killed stage's slirp4netns still runs");
    let run_dir = store.join("rt-build/run");
    let left: Vec<_> = std::fs::read_dir(&run_dir)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "RUN containers left: {left:?}");
}
