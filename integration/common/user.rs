//! `TestUser`: a throwaway unprivileged user for rootless tests, made with
//! useradd (which gives it /etc/subuid and /etc/subgid ranges) and removed
//! with everything it ran when the test ends.
//!
//! The user cannot read the repository (CI clones it anywhere, e.g. under
//! /tmp or /root), so the binary under test is linked or copied into the
//! test's temp dir, and its bundles live there too.

use super::bundle::{Bundle, populate_rootfs};
use super::exec::{Output, command, default_timeout, run_logged};
use super::{TestCtx, path, rt_bin};
use serde_json::{Value, json};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

static NEXT_USER: AtomicUsize = AtomicUsize::new(0);

pub struct TestUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    /// The user's own directory (HOME), inside the test's temp dir.
    pub home: PathBuf,
    /// $XDG_RUNTIME_DIR for the user's commands (mode 0700, the user's).
    pub xdg: PathBuf,
    /// The runtime under test, where the user can run it.
    pub rt: PathBuf,
    /// First subordinate uid and gid useradd gave the user, and how many.
    pub subuid: (u32, u32),
    pub subgid: (u32, u32),
    /// Where outputs of the user's commands go.
    log_dir: PathBuf,
}

/// `useradd`/`userdel` take /etc/passwd's lock; a parallel test (or another
/// tool) holding it makes them exit 10 ("cannot lock"): try again.
fn retry_locked(mut cmd: impl FnMut() -> Command, what: &str) {
    for _ in 0..100 {
        let out = cmd().output().unwrap_or_else(|e| panic!("{what}: {e}"));
        if out.status.success() {
            return;
        }
        let err = String::from_utf8_lossy(&out.stderr);
        if !err.contains("lock") {
            panic!("{what} failed: {:?}: {err}", out.status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what}: /etc/passwd stayed locked");
}

fn sub_range(file: &str, name: &str) -> Option<(u32, u32)> {
    fs::read_to_string(file).ok()?.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() != 3 || f[0] != name {
            return None;
        }
        Some((f[1].parse().ok()?, f[2].parse().ok()?))
    })
}

impl TestUser {
    /// Creates the user. Skipped (None, with a note) without useradd or
    /// newuidmap, which rootless containers with id ranges need.
    pub fn new(ctx: &TestCtx) -> Option<TestUser> {
        if super::tools::skip_without(&ctx.name, &["useradd", "userdel", "newuidmap", "setpriv"]) {
            return None;
        }
        let n = NEXT_USER.fetch_add(1, Ordering::Relaxed);
        // Unique on the host across parallel test processes; useradd
        // allows 32 characters.
        let name = format!("rtit{}u{n}", std::process::id());
        let home = ctx.dir.join(format!("home-{name}"));
        retry_locked(
            || {
                let mut c = Command::new("useradd");
                c.args(["--no-create-home", "--shell", "/bin/sh", "--home-dir"])
                    .arg(&home)
                    .arg(&name);
                c
            },
            "useradd",
        );
        // From here on Drop removes the user, even if a step below fails.
        let mut user = TestUser {
            name: name.clone(),
            uid: 0,
            gid: 0,
            home: home.clone(),
            xdg: home.join("xdg"),
            rt: ctx.dir.join(format!("bin-{name}")).join("rt"),
            subuid: (0, 0),
            subgid: (0, 0),
            log_dir: ctx.dir.join(format!("log-{name}")),
        };
        let out = Command::new("id").args(["-u", &name]).output().unwrap();
        user.uid = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        let out = Command::new("id").args(["-g", &name]).output().unwrap();
        user.gid = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        user.subuid = sub_range("/etc/subuid", &name).expect("useradd gave no /etc/subuid range");
        user.subgid = sub_range("/etc/subgid", &name).expect("useradd gave no /etc/subgid range");
        // The test's temp dir must be traversable by the user.
        fs::set_permissions(&ctx.dir, fs::Permissions::from_mode(0o755)).unwrap();
        fs::create_dir_all(&user.log_dir).unwrap();
        fs::set_permissions(&user.log_dir, fs::Permissions::from_mode(0o777)).unwrap();
        user.make_own_dir(&home, 0o755);
        user.make_own_dir(&user.xdg, 0o700);
        let bin_dir = user.rt.parent().unwrap().to_path_buf();
        fs::create_dir_all(&bin_dir).unwrap();
        fs::set_permissions(&bin_dir, fs::Permissions::from_mode(0o755)).unwrap();
        // A hard link when on the same file system (cheap), else a copy.
        if fs::hard_link(rt_bin(), &user.rt).is_err() {
            fs::copy(rt_bin(), &user.rt).expect("copy the runtime for the test user");
        }
        fs::set_permissions(&user.rt, fs::Permissions::from_mode(0o755)).unwrap();
        Some(user)
    }

    /// A directory owned by the user.
    pub fn make_own_dir(&self, dir: &Path, mode: u32) {
        fs::create_dir_all(dir).unwrap();
        std::os::unix::fs::chown(dir, Some(self.uid), Some(self.gid)).unwrap();
        fs::set_permissions(dir, fs::Permissions::from_mode(mode)).unwrap();
    }

    /// `program args` as the user, with a clean login-like environment.
    pub fn command(&self, program: &str, args: &[&str]) -> Command {
        let mut cmd = command("setpriv");
        cmd.env_clear()
            .env("HOME", &self.home)
            .env("USER", &self.name)
            .env("LOGNAME", &self.name)
            .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
            .env("XDG_RUNTIME_DIR", &self.xdg)
            .current_dir(&self.home)
            .arg(format!("--reuid={}", self.uid))
            .arg(format!("--regid={}", self.gid))
            .arg("--init-groups")
            .arg("--")
            .arg(program)
            .args(args);
        cmd
    }

    /// The runtime under test, as the user (no --root: $XDG_RUNTIME_DIR/rt).
    pub fn rt_command(&self, args: &[&str]) -> Command {
        self.command(path(&self.rt), args)
    }

    pub fn rt(&self, args: &[&str]) -> Output {
        self.run(self.rt_command(args))
    }

    pub fn run(&self, cmd: Command) -> Output {
        run_logged(cmd, &self.log_dir, default_timeout())
    }

    /// The state root the runtime uses for the user.
    pub fn state_root(&self) -> PathBuf {
        let name = rt_bin()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // runc keeps $XDG_RUNTIME_DIR/runc; rt $XDG_RUNTIME_DIR/rt.
        let sub = if name.starts_with("runc") {
            "runc"
        } else {
            "rt"
        };
        self.xdg.join(sub)
    }

    /// A bundle owned by the user whose config is what `spec --rootless`
    /// writes for it (user namespace mapping the user to root, no
    /// network namespace, /sys bound read-only), with `process.terminal`
    /// off and `args` ["true"].
    pub fn bundle(&self, label: &str) -> Bundle {
        let dir = self.home.join(format!("bundle-{label}"));
        self.make_own_dir(&dir, 0o755);
        populate_rootfs(&dir.join("rootfs"));
        self.rt_command(&["spec", "--rootless", "-b", path(&dir)])
            .status()
            .ok()
            .filter(|s| s.success())
            .expect("spec --rootless as the test user");
        let spec: Value =
            serde_json::from_slice(&fs::read(dir.join("config.json")).unwrap()).unwrap();
        let mut bundle = Bundle {
            dir: dir.clone(),
            spec,
        };
        bundle.set("/process/terminal", json!(false));
        bundle.args(&["true"]);
        bundle
    }

    /// Writes the bundle's config, readable by the user.
    pub fn save(&self, bundle: &Bundle) {
        bundle.save();
        fs::set_permissions(bundle.config_path(), fs::Permissions::from_mode(0o644)).unwrap();
    }

    /// Live processes running with the user's uid.
    pub fn processes(&self) -> Vec<i32> {
        let mut pids = Vec::new();
        for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let Ok(status) = fs::read_to_string(format!("/proc/{pid}/status")) else {
                continue;
            };
            let ours = status.lines().any(|l| {
                l.strip_prefix("Uid:").is_some_and(|ids| {
                    ids.split_whitespace()
                        .any(|id| id.parse::<u32>().ok() == Some(self.uid))
                })
            });
            let zombie = status.lines().any(|l| l.starts_with("State:\tZ"));
            if ours && !zombie {
                pids.push(pid);
            }
        }
        pids
    }
}

impl Drop for TestUser {
    /// Kills whatever still runs as the user (every such process was
    /// started by this test: the user is its own), then removes the user
    /// and its subordinate ranges.
    fn drop(&mut self) {
        for _ in 0..50 {
            let pids = self.processes();
            if pids.is_empty() {
                break;
            }
            for pid in pids {
                // SAFETY: kill(2) of a process of the test's own user.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        super::tools::unmount_under(&self.home);
        // Never panic here (a test that already failed would abort): a
        // zombie of the user's not reaped yet still counts as "in use",
        // hence --force; /etc/passwd's lock is waited for.
        for _ in 0..100 {
            let done = Command::new("userdel")
                .args(["--force", &self.name])
                .output()
                .is_ok_and(|o| o.status.success() || o.status.code() == Some(6));
            if done {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // userdel drops the subordinate ranges too; make sure.
        for file in ["/etc/subuid", "/etc/subgid"] {
            if sub_range(file, &self.name).is_some() {
                let _ = Command::new("usermod")
                    .args([
                        "--del-subuids",
                        "0-4294967294",
                        "--del-subgids",
                        "0-4294967294",
                    ])
                    .arg(&self.name)
                    .status();
            }
        }
    }
}

/// Whether a path's owner is `uid`.
pub fn owned_by(p: &Path, uid: u32) -> bool {
    fs::metadata(p).is_ok_and(|m| m.uid() == uid)
}
