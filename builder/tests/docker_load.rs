//! The docker-archive output is checked by its real consumer: a private
//! dockerd (Debian's docker.io) loads it, its config must match what was
//! built, and `docker run` prints what the image's CMD prints. Needs root
//! and `dockerd`; skipped with a reason otherwise.
//!
//! The daemon gets its own data root, exec root, socket, pid file and
//! cgroup parent, runs in a private mount namespace (its overlay mounts
//! never reach the host's), and has no bridge or iptables rules. It and
//! the containerd it starts are stopped by pid when the test ends, even on
//! failure.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct PrivateDockerd {
    dir: PathBuf,
    child: Child,
    cgroup_parent: String,
    /// Whether /run/docker existed before (dockerd creates
    /// /run/docker/plugins whatever its exec root is).
    had_run_docker: bool,
}

impl PrivateDockerd {
    fn start(dir: &Path) -> PrivateDockerd {
        std::fs::create_dir_all(dir).unwrap();
        let cgroup_parent = format!("rt-build-dockerd-{}", std::process::id());
        let had_run_docker = Path::new("/run/docker").exists();
        let log = std::fs::File::create(dir.join("dockerd.log")).unwrap();
        // Our own daemon.json: the host's /etc/docker/daemon.json is not
        // read, and the trust key is not written to /etc/docker/key.json.
        let config_file = dir.join("daemon.json");
        std::fs::write(
            &config_file,
            serde_json::to_vec(&serde_json::json!({
                "deprecated-key-path": dir.join("key.json"),
            }))
            .unwrap(),
        )
        .unwrap();
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
            .arg(&config_file)
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
        let d = PrivateDockerd {
            dir: dir.to_path_buf(),
            child,
            cgroup_parent,
            had_run_docker,
        };
        // dockerd starts its own containerd first; on this 2-CPU VM that
        // alone took over 20 s once in CI (its socket accepted nothing for
        // 14 s while it loaded), where a normal start of the whole test
        // takes 19 s.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if d.docker(&["version", "--format", "{{.Server.Version}}"])
                .code
                == 0
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "dockerd did not answer within 60s:\n{}",
                d.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        d
    }

    fn docker(&self, args: &[&str]) -> Ran {
        run(Command::new("docker")
            .arg("-H")
            .arg(format!("unix://{}", self.dir.join("docker.sock").display()))
            .args(args))
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("dockerd.log")).unwrap_or_default()
    }

    fn containerd_pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.dir.join("exec/containerd/containerd.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

/// Sends SIGTERM, waits up to 10 s, then SIGKILL.
fn stop_pid(pid: i32) {
    // SAFETY: plain kill(2) on a pid this test started.
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

/// Mount points at or below `dir` in this mount namespace, deepest first.
fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut found: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(PathBuf::from)
        .filter(|p| p.starts_with(dir))
        .collect();
    found.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    found
}

impl Drop for PrivateDockerd {
    fn drop(&mut self) {
        let containerd = self.containerd_pid();
        // unshare execs dockerd, so the child's pid is dockerd's.
        stop_pid(self.child.id() as i32);
        let _ = self.child.wait();
        if let Some(pid) = containerd {
            stop_pid(pid);
        }
        for m in mounts_under(&self.dir) {
            let c = std::ffi::CString::new(m.as_os_str().as_encoded_bytes()).unwrap();
            // SAFETY: detaching a mount below our own temp dir.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        // The cgroup parent in every hierarchy, children first.
        if let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") {
            for h in hierarchies.flatten() {
                remove_cgroup_tree(&h.path().join(&self.cgroup_parent));
            }
        }
        if !self.had_run_docker {
            let _ = std::fs::remove_dir("/run/docker/plugins");
            let _ = std::fs::remove_dir("/run/docker");
        }
    }
}

fn remove_cgroup_tree(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_cgroup_tree(&e.path());
            }
        }
        let _ = std::fs::remove_dir(dir);
    }
}

#[test]
fn docker_load_reads_the_docker_archive() {
    if !can_build() {
        return;
    }
    if !has_tool("dockerd") || !has_tool("docker") || !has_tool("unshare") {
        eprintln!("skipping: needs dockerd and docker (apt-get install docker.io) and unshare");
        return;
    }
    let (dir, store) = store_with_busybox("docker-load");
    let ctx = context(
        &dir,
        "FROM busybox\nCOPY msg /msg\nRUN echo built by rt-build > /built\n\
         ENV GREETING=\"hello there\" N=1\nLABEL org.example.l=v other=\"two words\"\n\
         WORKDIR /tmp\nCMD [\"cat\", \"/msg\", \"/built\"]\n",
        &[("msg", "hello from docker-archive\n")],
    );
    let archive = dir.join("img-docker.tar");
    let tag = format!("rtb-docker-load:{}", std::process::id());
    let out = build(
        &store,
        &ctx,
        &[
            "-t",
            &tag,
            "--output",
            &format!("type=docker-archive,dest={}", archive.display()),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let built = inspect(&store, &tag);

    // A short path: unix socket paths are limited to 108 bytes.
    let dockerd = PrivateDockerd::start(
        &std::env::temp_dir().join(format!("rtb-dockerd-{}", std::process::id())),
    );
    let load = dockerd.docker(&["load", "-i", archive.to_str().unwrap()]);
    assert_eq!(
        load.code,
        0,
        "docker load: {}\n{}",
        load.stderr,
        dockerd.log()
    );
    assert!(
        load.stdout.contains(&format!("Loaded image: {tag}")),
        "{}",
        load.stdout
    );

    let inspected = dockerd.docker(&["image", "inspect", &tag]);
    assert_eq!(inspected.code, 0, "{}", inspected.stderr);
    let v: serde_json::Value = serde_json::from_str(&inspected.stdout).unwrap();
    let loaded = &v[0];
    let config = &built["config"]["config"];
    assert_eq!(loaded["Config"]["Cmd"], config["Cmd"]);
    assert_eq!(
        loaded["Config"]["Cmd"],
        serde_json::json!(["cat", "/msg", "/built"])
    );
    assert_eq!(loaded["Config"]["Env"], config["Env"]);
    assert!(
        loaded["Config"]["Env"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("GREETING=hello there")),
        "{}",
        loaded["Config"]["Env"]
    );
    assert_eq!(loaded["Config"]["Labels"], config["Labels"]);
    assert_eq!(loaded["Config"]["Labels"]["other"], "two words");
    assert_eq!(loaded["Config"]["WorkingDir"], "/tmp");
    // Docker's image ID is the config digest; its layers are our diff_ids.
    assert_eq!(
        loaded["Id"].as_str().unwrap(),
        built["manifest"]["config"]["digest"].as_str().unwrap()
    );
    assert_eq!(
        loaded["RootFS"]["Layers"],
        built["config"]["rootfs"]["diff_ids"]
    );

    let ran = dockerd.docker(&["run", "--rm", "--network", "none", &tag]);
    assert_eq!(ran.code, 0, "docker run: {}\n{}", ran.stderr, dockerd.log());
    assert_eq!(ran.stdout, "hello from docker-archive\nbuilt by rt-build\n");
}
