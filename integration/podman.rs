//! Podman 4.3 + conmon 2.1 driving the runtime under test with
//! `podman --runtime RT`, as root, exactly as a user would: conmon runs
//! `create` (with `--log-format=json --log`, `--pid-file`, and
//! `--console-socket` for `-t`) and `exec --process --detach`; podman runs
//! `start`, `state`, `kill`, `delete --force` itself.
//!
//! Everything podman owns lives in the test's temp dir (`--root`,
//! `--runroot`, `--tmpdir`, vfs storage, a private containers.conf) and its
//! containers and conmons in the test's cgroup parent. Skipped, with a
//! printed reason, when podman or conmon is not installed.

use crate::common::exec::{Output, command, default_timeout, run_logged};
use crate::common::tools::{busybox_rootfs_tar, kill_processes_with_arg, skip_without};
use crate::common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const IMAGE: &str = "localhost/busybox:latest";

/// A private podman configuration and store; `Drop` removes every
/// container, kills leftover conmons and detaches leftover mounts.
struct Podman {
    dir: PathBuf,
    cgroup_parent: String,
}

impl Podman {
    fn new(ctx: &TestCtx) -> Podman {
        let dir = ctx.dir.join("podman");
        std::fs::create_dir_all(&dir).unwrap();
        // README.md's containers.conf makes the runtime under test
        // podman's default runtime `rt`, with JSON error records
        // (runtime_supports_json: podman passes `--log-format=json --log F`
        // only to runtimes named there, and reads errors from F).
        // default_ulimits: podman's own defaults (1048576 files and
        // processes) exceed the hard limits here, and no runtime may raise
        // them without CAP_SYS_RESOURCE.
        let (nofile, nproc) = (hard_limit(libc::RLIMIT_NOFILE), 32768);
        let nproc = nproc.min(hard_limit(libc::RLIMIT_NPROC));
        std::fs::write(
            dir.join("containers.conf"),
            format!(
                "{}\n[containers]\n\
                 default_ulimits = [\"nofile={nofile}:{nofile}\", \"nproc={nproc}:{nproc}\"]\n",
                crate::common::readme::snippet("podman-containers.conf")
            ),
        )
        .unwrap();
        let podman = Podman {
            dir,
            cgroup_parent: ctx.cgroup_parent.clone(),
        };
        let tar = busybox_rootfs_tar(&podman.dir);
        podman
            .podman(&[
                "import",
                "--change",
                "CMD [\"sh\"]",
                "--change",
                "ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin",
                path(&tar),
                IMAGE,
            ])
            .ok();
        podman
    }

    /// `podman <globals>` with this test's store and configuration.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = command("podman");
        cmd.env("CONTAINERS_CONF", self.dir.join("containers.conf"))
            .args(self.globals())
            .args(args);
        cmd
    }

    fn globals(&self) -> Vec<String> {
        let d = |sub: &str| self.dir.join(sub).to_string_lossy().into_owned();
        vec![
            "--root".into(),
            d("storage"),
            "--runroot".into(),
            d("run"),
            "--tmpdir".into(),
            d("tmp"),
            "--cgroup-manager".into(),
            "cgroupfs".into(),
            "--events-backend".into(),
            "file".into(),
            "--storage-driver".into(),
            "vfs".into(),
        ]
    }

    fn podman(&self, args: &[&str]) -> Output {
        run_logged(self.command(args), &self.dir, default_timeout())
    }

    /// `run` options every container gets: no network (netavark would add
    /// iptables rules to the host) and the test's cgroup parent (conmon
    /// goes to `<parent>/conmon`). The runtime is containers.conf's
    /// default, `rt`.
    fn run_opts(&self) -> Vec<String> {
        vec![
            "--network".into(),
            "none".into(),
            "--cgroup-parent".into(),
            format!("/{}", self.cgroup_parent),
        ]
    }

    /// `podman run <run_opts> <args>`.
    fn run(&self, args: &[&str]) -> Output {
        let mut argv = vec!["run".to_string()];
        argv.extend(self.run_opts());
        argv.extend(args.iter().map(|s| s.to_string()));
        self.podman(&argv.iter().map(String::as_str).collect::<Vec<_>>())
    }

    /// `podman <args>` under script(1): `-t` needs a real terminal.
    fn in_pty(&self, args: &[String]) -> Output {
        let mut line = String::from("podman");
        for a in self.globals().iter().chain(args) {
            line.push(' ');
            line.push_str(&shell_quote(a));
        }
        let mut cmd = command("script");
        cmd.env("CONTAINERS_CONF", self.dir.join("containers.conf"))
            .args(["-qec", &line, "/dev/null"]);
        run_logged(cmd, &self.dir, default_timeout())
    }

    /// The full id of a container by name.
    fn id_of(&self, name: &str) -> String {
        let out = self.podman(&["inspect", "--format", "{{.Id}}", name]);
        out.ok();
        out.stdout.trim().to_string()
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.podman(&["rm", "--all", "--force", "--time", "0"])
        }));
        // conmons and runtimes started for this test name its dir in argv.
        kill_processes_with_arg(path(&self.dir));
        crate::common::tools::unmount_under(&self.dir);
    }
}

fn hard_limit(resource: libc::__rlimit_resource_t) -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass.
    let rc = unsafe { libc::getrlimit(resource, &mut lim) };
    assert_eq!(rc, 0, "getrlimit failed");
    lim.rlim_max
}

fn shell_quote(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./=:,".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The runtime's state directory of a container: podman passes no
/// `--root`, so the runtime's default applies.
fn default_state_dir(id: &str) -> PathBuf {
    let runtime = rt_bin();
    let name = runtime.file_name().unwrap().to_string_lossy();
    let root = if name.starts_with("runc") {
        "/run/runc"
    } else {
        "/run/rt"
    };
    Path::new(root).join(id)
}

fn skip() -> bool {
    skip_without("podman::", &["podman", "conmon", "script", "tar"])
}

/// Containers that run in the foreground: output, exit codes, the
/// runtime's error classified by podman, `-t`, and config podman
/// translates into the spec (memory, user, read-only root).
#[test]
fn podman_run_in_the_foreground() {
    if skip() {
        return;
    }
    let ctx = TestCtx::new("podman::foreground");
    let pm = Podman::new(&ctx);

    let out = pm.run(&["--rm", IMAGE, "echo", "hello-podman"]);
    out.ok();
    assert_eq!(out.stdout.trim(), "hello-podman");

    pm.run(&["--rm", IMAGE, "sh", "-c", "exit 3"]).fails_with(3);

    // conmon reads the runtime's JSON log: podman maps "not found" to 127
    // and permission denied to 126, as it does for runc.
    let out = pm.run(&["--rm", IMAGE, "/nonexistent"]);
    out.fails_with(127);
    out.stderr_has("/nonexistent");
    pm.run(&["--rm", IMAGE, "/etc/passwd"]).fails_with(126);

    // -t: conmon passes --console-socket and relays the pty.
    let mut argv = vec!["run".to_string()];
    argv.extend(pm.run_opts());
    argv.extend(
        ["--rm", "-t", IMAGE, "sh", "-c", "tty; echo tty-ok"]
            .iter()
            .map(|s| s.to_string()),
    );
    let out = pm.in_pty(&argv);
    assert!(
        out.stdout.contains("tty-ok") && out.stdout.contains("/dev/pts/0"),
        "podman run -t output (status {:?}):\n{}\n{}",
        out.code(),
        out.stdout,
        out.stderr
    );

    // --memory becomes linux.resources.memory.limit, seen in the
    // container's own memory cgroup (v1 here, v2 elsewhere).
    let out = pm.run(&[
        "--rm",
        "--memory",
        "32m",
        IMAGE,
        "sh",
        "-c",
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max",
    ]);
    out.ok();
    assert_eq!(out.stdout.trim(), "33554432");

    let out = pm.run(&["--rm", "--user", "65534:65534", IMAGE, "id"]);
    out.ok();
    assert!(
        out.stdout
            .starts_with("uid=65534(nobody) gid=65534(nogroup)"),
        "{}",
        out.stdout
    );

    let out = pm.run(&[
        "--rm",
        "--read-only",
        IMAGE,
        "sh",
        "-c",
        "touch /x 2>&1; echo rc=$?",
    ]);
    out.ok();
    assert!(
        out.stdout.contains("Read-only file system") && out.stdout.contains("rc=1"),
        "{}",
        out.stdout
    );

    assert_eq!(
        pm.podman(&["ps", "-aq"]).stdout.trim(),
        "",
        "--rm left containers"
    );
    assert!(
        cgroups::pids_under(&ctx.cgroup_parent).is_empty(),
        "processes left in the test cgroups"
    );
}

/// Detached containers: ps, exec (plain and -t), stop with a trapped
/// SIGTERM, logs, kill with SIGKILL, rm -f of a running container.
#[test]
fn podman_detached_exec_stop_kill_logs() {
    if skip() {
        return;
    }
    let ctx = TestCtx::new("podman::detached");
    let pm = Podman::new(&ctx);

    pm.run(&["-d", "--name", "long", IMAGE, "sleep", "1000"])
        .ok();
    pm.run(&[
        "-d",
        "--name",
        "trap",
        IMAGE,
        "sh",
        "-c",
        "trap 'echo got-term; exit 0' TERM; echo started; while true; do sleep 0.1; done",
    ])
    .ok();
    let ps = pm.podman(&["ps", "--format", "{{.Names}} {{.Status}}"]);
    ps.ok();
    for name in ["long", "trap"] {
        assert!(
            ps.stdout
                .lines()
                .any(|l| l.starts_with(&format!("{name} Up"))),
            "{name} not running:\n{}",
            ps.stdout
        );
    }
    let long_id = pm.id_of("long");
    assert!(
        default_state_dir(&long_id).is_dir(),
        "no runtime state for {long_id}"
    );
    // The runtime came from containers.conf (no --runtime on the command line).
    let runtime = pm.podman(&["inspect", "--format", "{{.OCIRuntime}}", "long"]);
    runtime.ok();
    assert_eq!(runtime.stdout.trim(), "rt");

    // exec: conmon runs `exec --process F --detach --pid-file P`.
    let out = pm.podman(&["exec", "long", "sh", "-c", "echo exec-ok; exit 5"]);
    out.fails_with(5);
    assert_eq!(out.stdout.trim(), "exec-ok");
    let out = pm.in_pty(&[
        "exec".into(),
        "-t".into(),
        "long".into(),
        "sh".into(),
        "-c".into(),
        "tty; echo exec-tty-ok".into(),
    ]);
    assert!(
        out.stdout.contains("exec-tty-ok") && out.stdout.contains("/dev/pts/"),
        "podman exec -t output (status {:?}):\n{}\n{}",
        out.code(),
        out.stdout,
        out.stderr
    );

    // stop: podman runs `kill ID 15`; the trap exits 0 well before the
    // 10 s timeout would escalate to SIGKILL.
    let ready = wait_until(Duration::from_secs(10), || {
        pm.podman(&["logs", "trap"]).stdout.contains("started")
    });
    assert!(ready, "trap container never printed 'started'");
    let begun = std::time::Instant::now();
    pm.podman(&["stop", "--time", "10", "trap"]).ok();
    assert!(
        begun.elapsed() < Duration::from_secs(8),
        "stop waited for the timeout: SIGTERM was not delivered"
    );
    let code = pm.podman(&["inspect", "--format", "{{.State.ExitCode}}", "trap"]);
    assert_eq!(code.stdout.trim(), "0", "trap container exit code");
    let logs = pm.podman(&["logs", "trap"]);
    logs.ok();
    assert_eq!(logs.stdout, "started\ngot-term\n");

    // kill -s KILL: `kill ID 9`, exit 137 reported by conmon.
    pm.podman(&["kill", "--signal", "KILL", "long"]).ok();
    let waited = pm.podman(&["wait", "long"]);
    waited.ok();
    assert_eq!(waited.stdout.trim(), "137");
    pm.podman(&["rm", "long", "trap"]).ok();
    assert!(
        !default_state_dir(&long_id).exists(),
        "runtime state of {long_id} left after rm"
    );

    // rm -f of a running container: kill + delete --force.
    pm.run(&["-d", "--name", "forced", IMAGE, "sleep", "1000"])
        .ok();
    let forced_id = pm.id_of("forced");
    pm.podman(&["rm", "--force", "--time", "0", "forced"]).ok();
    assert_eq!(
        pm.podman(&["ps", "-aq"]).stdout.trim(),
        "",
        "containers left"
    );
    assert!(
        !default_state_dir(&forced_id).exists(),
        "runtime state of {forced_id} left after rm -f"
    );
    let left = wait_until(Duration::from_secs(5), || {
        cgroups::pids_under(&ctx.cgroup_parent).is_empty()
    });
    assert!(left, "processes left in the test cgroups");
}
