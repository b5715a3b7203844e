//! Docker Engine 20.10 driving the runtime under test: a private dockerd
//! configured with README.md's daemon.json snippet (runtime `rt`),
//! containers run with `--runtime rt`.
//! dockerd starts its own containerd, whose runc v2 shim calls the runtime
//! with `--root <exec-root>/runtime-runc/moby --log <bundle>/log.json
//! --log-format json` (create, start, exec --process, kill, update
//! --resources=-, pause, resume, delete).
//!
//! The daemon runs in a private mount namespace (its overlay and shm mounts
//! never reach the host), with its own data root, exec root, socket, pid
//! file and the test's cgroup parent, and no bridge or iptables rules.
//! `Drop` removes the containers and stops the daemon, its containerd and
//! shims by pid, even when the test fails. Skipped, with a printed reason,
//! when dockerd, docker, umoci or skopeo is missing.

use crate::common::exec::{Output, command, default_timeout, run_logged};
use crate::common::tools::{kill_processes_with_arg, skip_without, unmount_under};
use crate::common::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const IMAGE: &str = "busybox:latest";

struct Dockerd {
    dir: PathBuf,
    child: Child,
    /// dockerd creates /run/docker/plugins whatever its exec root is.
    had_run_docker: bool,
}

impl Dockerd {
    fn start(dir: &Path, cgroup_parent: &str) -> Dockerd {
        std::fs::create_dir_all(dir).unwrap();
        let had_run_docker = Path::new("/run/docker").exists();
        // Our own daemon.json: the host's /etc/docker/daemon.json is not
        // read, and no trust key is written to /etc/docker. The runtime
        // comes from README.md's daemon.json, as a user would add it.
        let config = dir.join("daemon.json");
        let mut daemon_json: Value =
            serde_json::from_str(&crate::common::readme::snippet("docker-daemon.json"))
                .expect("README's daemon.json snippet is JSON");
        daemon_json["deprecated-key-path"] = json!(dir.join("key.json"));
        std::fs::write(&config, daemon_json.to_string()).unwrap();
        let log = std::fs::File::create(dir.join("dockerd.log")).unwrap();
        let child = Command::new("unshare")
            .args(["-m", "--propagation", "private", "dockerd"])
            .arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("--pidfile")
            .arg(dir.join("dockerd.pid"))
            .arg("-H")
            .arg(format!("unix://{}", dir.join("docker.sock").display()))
            .arg("--config-file")
            .arg(&config)
            .arg("--cgroup-parent")
            .arg(format!("/{cgroup_parent}"))
            .args([
                "--iptables=false",
                "--ip6tables=false",
                "--bridge=none",
                "--ip-forward=false",
                "--ip-masq=false",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn unshare dockerd");
        let d = Dockerd {
            dir: dir.to_path_buf(),
            child,
            had_run_docker,
        };
        let up = wait_until(Duration::from_secs(30), || {
            d.docker(&["version", "--format", "{{.Server.Version}}"])
                .success()
        });
        assert!(up, "dockerd did not answer within 30 s:\n{}", d.log());
        d
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = command("docker");
        cmd.arg("-H")
            .arg(format!("unix://{}", self.dir.join("docker.sock").display()))
            .args(args);
        cmd
    }

    fn docker(&self, args: &[&str]) -> Output {
        run_logged(self.command(args), &self.dir, default_timeout())
    }

    /// `docker run --runtime rt --network none <args>`.
    fn run(&self, args: &[&str]) -> Output {
        let mut argv = vec!["run", "--runtime", "rt", "--network", "none"];
        argv.extend_from_slice(args);
        self.docker(&argv)
    }

    /// `docker <args>` under script(1), for `-t`.
    fn in_pty(&self, args: &[&str]) -> Output {
        let mut line = format!(
            "docker -H unix://{}",
            self.dir.join("docker.sock").display()
        );
        for a in args {
            line.push(' ');
            line.push_str(&format!("'{}'", a.replace('\'', "'\\''")));
        }
        let mut cmd = command("script");
        cmd.args(["-qec", &line, "/dev/null"]);
        run_logged(cmd, &self.dir, default_timeout())
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("dockerd.log")).unwrap_or_default()
    }

    /// The state directory the shim's `--root` gives the runtime.
    fn runtime_state(&self, id: &str) -> PathBuf {
        self.dir.join("exec/runtime-runc/moby").join(id)
    }
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

/// SIGTERM, up to 10 s, then SIGKILL.
fn stop_pid(pid: i32) {
    // SAFETY: kill(2) of a daemon this test started, by its pid.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    if alive(pid) {
        // SAFETY: as above.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let ids = self.docker(&["ps", "-aq"]).stdout;
            for id in ids.split_whitespace() {
                self.docker(&["rm", "-f", id]);
            }
        }));
        let containerd = std::fs::read_to_string(self.dir.join("exec/containerd/containerd.pid"))
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok());
        // unshare execs dockerd: the child's pid is dockerd's.
        stop_pid(self.child.id() as i32);
        let _ = self.child.wait();
        if let Some(pid) = containerd {
            stop_pid(pid);
        }
        // Shims (their argv names the containerd socket under our dir).
        kill_processes_with_arg(path(&self.dir));
        unmount_under(&self.dir);
        if !self.had_run_docker {
            let _ = std::fs::remove_dir("/run/docker/plugins");
            let _ = std::fs::remove_dir("/run/docker");
        }
    }
}

#[test]
fn docker_drives_the_runtime() {
    if skip_without(
        "docker::",
        &["dockerd", "docker", "unshare", "script", "umoci", "skopeo"],
    ) {
        return;
    }
    let ctx = TestCtx::new("docker::run");
    let image_dir = ctx.dir.join("image");
    std::fs::create_dir_all(&image_dir).unwrap();
    let archive = crate::containerd::image::build_busybox_archive(&image_dir);
    let dockerd = Dockerd::start(&ctx.dir.join("d"), &ctx.cgroup_parent);
    let load = dockerd.docker(&["load", "-i", path(&archive)]);
    load.ok();
    assert!(
        load.stdout.contains("Loaded image: busybox:latest"),
        "{}",
        load.stdout
    );

    // Foreground: output, exit status, the runtime's error through the shim.
    let out = dockerd.run(&["--rm", IMAGE, "echo", "hello-docker"]);
    out.ok();
    assert_eq!(out.stdout.trim(), "hello-docker");
    dockerd
        .run(&["--rm", IMAGE, "sh", "-c", "exit 3"])
        .fails_with(3);
    let out = dockerd.run(&["--rm", IMAGE, "/nonexistent"]);
    out.fails_with(127);
    out.stderr_has("OCI runtime create failed");
    out.stderr_has("/nonexistent");

    // -t: the shim gives the runtime a console socket.
    let out = dockerd.in_pty(&[
        "run",
        "--rm",
        "-t",
        "--runtime",
        "rt",
        "--network",
        "none",
        IMAGE,
        "sh",
        "-c",
        "tty; echo tty-ok",
    ]);
    assert!(
        out.stdout.contains("tty-ok") && out.stdout.contains("/dev/pts/0"),
        "docker run -t output (status {:?}):\n{}\n{}",
        out.code(),
        out.stdout,
        out.stderr
    );

    // Spec translation: user, read-only root, memory limit.
    let out = dockerd.run(&[
        "--rm",
        "--user",
        "65534:65534",
        "--read-only",
        IMAGE,
        "sh",
        "-c",
        "id; touch /x 2>&1; echo rc=$?",
    ]);
    out.ok();
    assert!(
        out.stdout
            .starts_with("uid=65534(nobody) gid=65534(nogroup)")
            && out.stdout.contains("Read-only file system")
            && out.stdout.contains("rc=1"),
        "{}",
        out.stdout
    );

    // Detached: exec, exec -t, update, pause/unpause, kill.
    let memory_file = "/sys/fs/cgroup/memory/memory.limit_in_bytes";
    let v1_memory = Path::new(memory_file).exists();
    let out = dockerd.run(&[
        "-d", "--name", "long", "--memory", "32m", IMAGE, "sleep", "1000",
    ]);
    out.ok();
    let long_id = out.stdout.trim().to_string();
    assert!(
        dockerd.runtime_state(&long_id).is_dir(),
        "no runtime state for {long_id}"
    );
    let out = dockerd.docker(&["exec", "long", "sh", "-c", "echo exec-ok; exit 5"]);
    out.fails_with(5);
    assert_eq!(out.stdout.trim(), "exec-ok");
    let out = dockerd.in_pty(&["exec", "-t", "long", "sh", "-c", "tty; echo exec-tty-ok"]);
    assert!(
        out.stdout.contains("exec-tty-ok") && out.stdout.contains("/dev/pts/"),
        "docker exec -t output (status {:?}):\n{}\n{}",
        out.code(),
        out.stdout,
        out.stderr
    );
    if v1_memory {
        let out = dockerd.docker(&["exec", "long", "cat", memory_file]);
        assert_eq!(out.stdout.trim(), "33554432");
        // update: `update --resources=-` with 0 for every knob left alone,
        // and a limit above the old swap limit.
        dockerd
            .docker(&[
                "update",
                "--memory",
                "128m",
                "--memory-swap",
                "256m",
                "long",
            ])
            .ok();
        let out = dockerd.docker(&["exec", "long", "cat", memory_file]);
        assert_eq!(out.stdout.trim(), (128u64 << 20).to_string());
    }
    dockerd.docker(&["pause", "long"]).ok();
    let status = dockerd.docker(&["inspect", "--format", "{{.State.Status}}", "long"]);
    assert_eq!(status.stdout.trim(), "paused");
    dockerd.docker(&["unpause", "long"]).ok();
    dockerd.docker(&["exec", "long", "true"]).ok();
    dockerd.docker(&["kill", "long"]).ok();
    let waited = dockerd.docker(&["wait", "long"]);
    assert_eq!(waited.stdout.trim(), "137");

    // stop: SIGTERM, trapped, exits 0 well before the timeout.
    dockerd
        .run(&[
            "-d",
            "--name",
            "trap",
            IMAGE,
            "sh",
            "-c",
            "trap 'echo got-term; exit 0' TERM; echo started; while true; do sleep 0.1; done",
        ])
        .ok();
    let ready = wait_until(Duration::from_secs(10), || {
        dockerd.docker(&["logs", "trap"]).stdout.contains("started")
    });
    assert!(ready, "trap container never printed 'started'");
    let begun = Instant::now();
    dockerd.docker(&["stop", "--time", "10", "trap"]).ok();
    assert!(
        begun.elapsed() < Duration::from_secs(8),
        "stop waited for the timeout: SIGTERM was not delivered"
    );
    let code = dockerd.docker(&["inspect", "--format", "{{.State.ExitCode}}", "trap"]);
    assert_eq!(code.stdout.trim(), "0");
    assert_eq!(
        dockerd.docker(&["logs", "trap"]).stdout,
        "started\ngot-term\n"
    );

    // rm (stopped) and rm -f (running) leave no runtime state.
    let forced = dockerd.run(&["-d", "--name", "forced", IMAGE, "sleep", "1000"]);
    forced.ok();
    let forced_id = forced.stdout.trim().to_string();
    dockerd.docker(&["rm", "long", "trap"]).ok();
    dockerd.docker(&["rm", "-f", "forced"]).ok();
    assert_eq!(dockerd.docker(&["ps", "-aq"]).stdout.trim(), "");
    for id in [&long_id, &forced_id] {
        assert!(
            !dockerd.runtime_state(id).exists(),
            "runtime state of {id} left after rm"
        );
    }
    let empty = wait_until(Duration::from_secs(5), || {
        cgroups::pids_under(&ctx.cgroup_parent).is_empty()
    });
    assert!(empty, "processes left in the test cgroups");
    drop(dockerd);
}
