//! A private containerd (own root, state, sockets; CRI disabled) that is
//! stopped, with its shims, when dropped.

use crate::common::exec::{Output, command, default_timeout, run_logged, wait_until};
use crate::common::path;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Duration;

pub struct Containerd {
    pub dir: PathBuf,
    pub socket: PathBuf,
    pub namespace: String,
    child: Child,
}

impl Containerd {
    /// Starts containerd under `dir`; `namespace` also becomes the cgroup
    /// parent of its containers (`/<namespace>/<id>`).
    pub fn start(dir: &Path, namespace: &str) -> Containerd {
        let socket = dir.join("containerd.sock");
        let config = format!(
            "version = 2\n\
             disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
             {}",
            Self::private_config(dir, &socket)
        );
        Self::spawn(dir, namespace, &config)
    }

    /// Starts containerd under `dir` with its CRI plugin and `runtimes`, a
    /// config.toml fragment (top-level keys, then tables) that the
    /// private settings are added around; pods use the host network (no
    /// CNI) and `sandbox_image` as their pause image.
    pub fn start_cri(dir: &Path, runtimes: &str, sandbox_image: &str) -> Containerd {
        let socket = dir.join("containerd.sock");
        for sub in ["cni/bin", "cni/conf"] {
            fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let config = format!(
            "{runtimes}\n\
             {private}\
             [plugins.\"io.containerd.grpc.v1.cri\"]\n\
             \x20 sandbox_image = \"{sandbox_image}\"\n\
             \x20 stream_server_address = \"127.0.0.1\"\n\
             \x20 stream_server_port = \"0\"\n\
             \x20 disable_apparmor = true\n\
             \x20 restrict_oom_score_adj = true\n\
             [plugins.\"io.containerd.grpc.v1.cri\".cni]\n\
             \x20 bin_dir = \"{cni}/bin\"\n\
             \x20 conf_dir = \"{cni}/conf\"\n",
            private = Self::private_config(dir, &socket),
            cni = dir.join("cni").display(),
        );
        Self::spawn(dir, "k8s.io", &config)
    }

    /// Tables that keep the daemon's sockets and plugin data under `dir`.
    /// Its root and state dirs, top-level keys in config.toml, are given
    /// on the command line instead, so that this text can follow a
    /// fragment that has opened tables.
    fn private_config(dir: &Path, socket: &Path) -> String {
        format!(
            "[grpc]\n  address = \"{sock}\"\n\
             [ttrpc]\n  address = \"{sock}.ttrpc\"\n\
             [debug]\n  address = \"\"\n\
             [plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"{opt}\"\n",
            sock = socket.display(),
            opt = dir.join("opt").display(),
        )
    }

    fn spawn(dir: &Path, namespace: &str, config_text: &str) -> Containerd {
        assert!(
            super::image::which("containerd") && super::image::which("ctr"),
            "containerd/ctr are not installed: apt-get install -y containerd (CI installs it)"
        );
        let socket = dir.join("containerd.sock");
        let config = dir.join("containerd.toml");
        fs::write(&config, config_text).unwrap();
        let log = fs::File::create(dir.join("containerd.log")).unwrap();
        let child = command("containerd")
            .arg("--config")
            .arg(&config)
            .arg("--root")
            .arg(dir.join("root"))
            .arg("--state")
            .arg(dir.join("state"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn containerd");
        let mut daemon = Containerd {
            dir: dir.to_path_buf(),
            socket,
            namespace: namespace.to_string(),
            child,
        };
        let up = wait_until(Duration::from_secs(20), || {
            daemon.socket.exists() && daemon.ctr(&["version"]).success()
        });
        if !up {
            let log = fs::read_to_string(dir.join("containerd.log")).unwrap_or_default();
            let _ = daemon.child.kill();
            panic!("containerd did not come up:\n{log}");
        }
        daemon
    }

    /// `ctr -a SOCK -n NS <args>`.
    pub fn ctr(&self, args: &[&str]) -> Output {
        let mut cmd = command("ctr");
        cmd.args(["-a", path(&self.socket), "-n", &self.namespace])
            .args(args);
        run_logged(cmd, &self.dir, default_timeout())
    }

    /// `script -qec "ctr ... <args>" /dev/null`: ctr -t needs a real pty.
    pub fn ctr_in_pty(&self, args: &[&str]) -> Output {
        let mut line = format!("ctr -a {} -n {}", self.socket.display(), self.namespace);
        for a in args {
            line.push(' ');
            line.push_str(&shell_quote(a));
        }
        let mut cmd = command("script");
        cmd.args(["-qec", &line, "/dev/null"]);
        run_logged(cmd, &self.dir, default_timeout())
    }

    /// Pids of shims serving this daemon (their argv names our socket).
    fn shim_pids(&self) -> Vec<i32> {
        let needle = self.socket.to_string_lossy().to_string();
        let mut pids = Vec::new();
        for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            if pid == self.child.id() as i32 {
                continue;
            }
            let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) else {
                continue;
            };
            let cmdline = String::from_utf8_lossy(&cmdline);
            if cmdline.starts_with("/usr/bin/containerd-shim") && cmdline.contains(&needle) {
                pids.push(pid);
            }
        }
        pids
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let shims = self.shim_pids();
        // SAFETY: signalling the daemon we spawned, by its pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        if !wait_until(Duration::from_secs(10), || {
            matches!(self.child.try_wait(), Ok(Some(_)))
        }) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        for pid in shims {
            // SAFETY: a shim started by our daemon (its argv names our socket).
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        // Snapshots and task rootfs are mounted under root/ and state/.
        let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let prefix = format!("{}/", self.dir.display());
        let mut mounts: Vec<&str> = info
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|m| m.starts_with(&prefix))
            .collect();
        mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in mounts {
            let c = std::ffi::CString::new(m).unwrap();
            // SAFETY: detaching a mount below our own temp dir.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
    }
}

fn shell_quote(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./=:".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}
