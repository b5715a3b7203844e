//! containerd 1.6 (`ctr`, runc v2 shim) driving the runtime under test via
//! `--runc-binary`: run, exit status, `-t`, exec, kill, delete; and its CRI
//! plugin with README.md's runtime configuration (`cri.rs`).

mod cri;
mod daemon;
pub(crate) mod image;

use crate::common::*;
use daemon::Containerd;

const IMAGE: &str = "docker.io/library/busybox:latest";

fn as_refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn ctr_drives_the_runtime() {
    let ctx = TestCtx::new("containerd::ctr");
    let cd_dir = ctx.dir.join("containerd");
    std::fs::create_dir_all(&cd_dir).unwrap();
    let archive = image::build_busybox_archive(&cd_dir);
    // The namespace doubles as cgroup parent: ctr puts tasks at /<ns>/<id>.
    let cd = Containerd::start(&cd_dir, &ctx.cgroup_parent);
    cd.ctr(&["images", "import", path(&archive)]).ok();

    let rt = rt_bin();
    let runc_root = ctx.dir.join("runc-root");
    let run = |extra: &[&str], id: &str, cmd: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "run",
            "--rm",
            "--runc-binary",
            path(&rt),
            "--runc-root",
            path(&runc_root),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v.push(IMAGE.to_string());
        v.push(id.to_string());
        v.extend(cmd.iter().map(|s| s.to_string()));
        v
    };

    // echo through the shim's stdio pipes.
    let out = cd.ctr(&as_refs(&run(&[], "c-echo", &["echo", "hello-ctr"])));
    out.ok();
    assert_eq!(out.stdout.trim(), "hello-ctr");

    // exit status propagates through shim and ctr.
    let out = cd.ctr(&as_refs(&run(&[], "c-exit", &["sh", "-c", "exit 3"])));
    out.fails_with(3);

    // -t: the shim hands the runtime a console socket.
    let out = cd.ctr_in_pty(&as_refs(&run(
        &["-t"],
        "c-tty",
        &["sh", "-c", "tty; echo tty-ok"],
    )));
    assert!(
        out.stdout.contains("tty-ok"),
        "ctr -t output:\n{}\n{}",
        out.stdout,
        out.stderr
    );
    assert!(
        out.stdout.contains("/dev/pts/0") || out.stdout.contains("/dev/console"),
        "tty not a pty:\n{}",
        out.stdout
    );

    // A detached task: exec into it, kill it, delete it.
    let mut detached = run(&["-d"], "c-long", &["sleep", "1000"]);
    detached.retain(|a| a != "--rm");
    cd.ctr(&as_refs(&detached)).ok();
    let exec = cd.ctr(&[
        "task",
        "exec",
        "--exec-id",
        "e1",
        "c-long",
        "sh",
        "-c",
        // The pause lets ctr drain its stdout fifo before the exit event;
        // without it the output was lost once in ~20 loaded runs (with runc).
        "echo exec-ok; sleep 1; exit 5",
    ]);
    assert!(
        exec.stdout.contains("exec-ok"),
        "task exec output (status {:?}):\n{}\n{}",
        exec.code(),
        exec.stdout,
        exec.stderr
    );
    exec.fails_with(5);
    let tasks = cd.ctr(&["task", "ls"]);
    assert!(
        tasks
            .stdout
            .lines()
            .any(|l| l.starts_with("c-long") && l.contains("RUNNING")),
        "{}",
        tasks.stdout
    );
    cd.ctr(&["task", "kill", "-s", "SIGKILL", "c-long"]).ok();
    let stopped = wait_until(std::time::Duration::from_secs(10), || {
        cd.ctr(&["task", "ls"])
            .stdout
            .lines()
            .any(|l| l.starts_with("c-long") && l.contains("STOPPED"))
    });
    assert!(stopped, "task never stopped after kill");
    cd.ctr(&["task", "delete", "c-long"]).ok();
    cd.ctr(&["containers", "delete", "c-long"]).ok();
    assert!(
        cd.ctr(&["task", "ls", "-q"]).stdout.trim().is_empty(),
        "tasks left"
    );

    // Nothing of the runtime's is left: state dirs, cgroups, processes.
    let ns_root = runc_root.join(&ctx.cgroup_parent);
    let left: Vec<_> = std::fs::read_dir(&ns_root)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        left.is_empty(),
        "runtime state left in {}: {left:?}",
        ns_root.display()
    );
    for id in ["c-echo", "c-exit", "c-tty", "c-long"] {
        let cgs = cgroups::existing(&format!("/{}/{id}", ctx.cgroup_parent));
        assert!(cgs.is_empty(), "cgroups left: {cgs:?}");
    }
    assert!(
        cgroups::pids_under(&ctx.cgroup_parent).is_empty(),
        "processes left in the test cgroups"
    );
    drop(cd);
}
