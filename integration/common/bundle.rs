//! `Bundle`: a fresh OCI bundle (busybox rootfs + config.json) in a temp dir,
//! with helpers to edit the config before the runtime reads it.

use super::spec::{remove_pointer, runc_spec_defaults, set_pointer};
use serde_json::{Value, json};
use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub const BUSYBOX: &str = "/bin/busybox";

/// Users the rootfs knows by name; `tester` is in two supplementary groups.
const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
daemon:x:1:1:daemon:/usr/sbin:/bin/false\n\
tester:x:1000:1000:tester:/home/tester:/bin/sh\n\
nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
const GROUP: &str = "root:x:0:\n\
daemon:x:1:\n\
tty:x:5:\n\
tester:x:1000:\n\
audio:x:29:tester\n\
video:x:44:tester\n\
nogroup:x:65534:\n";

/// Applet paths relative to `/` (`usr/bin/env`, `bin/sh`, ...), read once.
fn applets() -> &'static [String] {
    static APPLETS: OnceLock<Vec<String>> = OnceLock::new();
    APPLETS.get_or_init(|| {
        let out = Command::new(BUSYBOX)
            .arg("--list-full")
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run {BUSYBOX} --list-full: {e} (install busybox-static)")
            });
        assert!(out.status.success(), "{BUSYBOX} --list-full failed");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim().trim_start_matches('/').to_string())
            .filter(|l| !l.is_empty() && l != "bin/busybox")
            .collect()
    })
}

/// Fills `rootfs` with a static busybox (one symlink per applet), users and
/// groups, and the directories the runtime mounts over.
pub fn populate_rootfs(rootfs: &Path) {
    for d in [
        "bin",
        "sbin",
        "usr/bin",
        "usr/sbin",
        "etc",
        "proc",
        "sys",
        "dev",
        "tmp",
        "root",
        "home/tester",
    ] {
        fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    fs::set_permissions(rootfs.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
    fs::copy(BUSYBOX, rootfs.join("bin/busybox")).expect("copy busybox into rootfs");
    for applet in applets() {
        let link = rootfs.join(applet);
        if link.symlink_metadata().is_err() {
            symlink("/bin/busybox", &link).unwrap();
        }
    }
    fs::write(rootfs.join("etc/passwd"), PASSWD).unwrap();
    fs::write(rootfs.join("etc/group"), GROUP).unwrap();
}

pub struct Bundle {
    pub dir: PathBuf,
    pub spec: Value,
}

impl Bundle {
    /// Creates `dir/rootfs` from busybox and a spec equal to `runc spec`
    /// except `terminal: false` and `args: ["true"]` (tests capture stdio).
    pub fn create(dir: &Path) -> Bundle {
        populate_rootfs(&dir.join("rootfs"));
        let mut spec = runc_spec_defaults();
        set_pointer(&mut spec, "/process/terminal", json!(false));
        set_pointer(&mut spec, "/process/args", json!(["true"]));
        Bundle {
            dir: dir.to_path_buf(),
            spec,
        }
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    /// Writes config.json (the context calls this before every create/run).
    pub fn save(&self) {
        fs::write(
            self.config_path(),
            serde_json::to_vec_pretty(&self.spec).unwrap(),
        )
        .unwrap();
    }

    pub fn get(&self, pointer: &str) -> Option<&Value> {
        self.spec.pointer(pointer)
    }

    pub fn set(&mut self, pointer: &str, value: Value) -> &mut Self {
        set_pointer(&mut self.spec, pointer, value);
        self
    }

    pub fn remove(&mut self, pointer: &str) -> &mut Self {
        remove_pointer(&mut self.spec, pointer);
        self
    }

    pub fn args(&mut self, args: &[&str]) -> &mut Self {
        self.set("/process/args", json!(args))
    }

    /// `sh -c script` inside the container.
    pub fn sh(&mut self, script: &str) -> &mut Self {
        self.args(&["sh", "-c", script])
    }

    pub fn env(&mut self, entry: &str) -> &mut Self {
        let env = self
            .spec
            .pointer_mut("/process/env")
            .unwrap()
            .as_array_mut()
            .unwrap();
        env.push(json!(entry));
        self
    }

    pub fn cwd(&mut self, cwd: &str) -> &mut Self {
        self.set("/process/cwd", json!(cwd))
    }

    pub fn terminal(&mut self, on: bool) -> &mut Self {
        self.set("/process/terminal", json!(on))
    }

    pub fn readonly_root(&mut self, on: bool) -> &mut Self {
        self.set("/root/readonly", json!(on))
    }

    pub fn hostname(&mut self, name: &str) -> &mut Self {
        self.set("/hostname", json!(name))
    }

    pub fn user(&mut self, uid: u32, gid: u32, additional: &[u32]) -> &mut Self {
        let mut user = json!({"uid": uid, "gid": gid});
        if !additional.is_empty() {
            user["additionalGids"] = json!(additional);
        }
        self.set("/process/user", user)
    }

    fn namespaces_mut(&mut self) -> &mut Vec<Value> {
        if self.spec.pointer("/linux/namespaces").is_none() {
            self.set("/linux/namespaces", json!([]));
        }
        self.spec
            .pointer_mut("/linux/namespaces")
            .unwrap()
            .as_array_mut()
            .unwrap()
    }

    /// Adds (or replaces) a namespace entry; `path` joins an existing one.
    pub fn namespace(&mut self, kind: &str, path: Option<&str>) -> &mut Self {
        let ns = self.namespaces_mut();
        ns.retain(|n| n["type"] != kind);
        let mut entry = json!({"type": kind});
        if let Some(p) = path {
            entry["path"] = json!(p);
        }
        ns.push(entry);
        self
    }

    pub fn without_namespace(&mut self, kind: &str) -> &mut Self {
        self.namespaces_mut().retain(|n| n["type"] != kind);
        self
    }

    pub fn mount(&mut self, mount: Value) -> &mut Self {
        self.spec["mounts"].as_array_mut().unwrap().push(mount);
        self
    }

    /// Drops the mount whose destination is `dest`.
    pub fn without_mount(&mut self, dest: &str) -> &mut Self {
        self.spec["mounts"]
            .as_array_mut()
            .unwrap()
            .retain(|m| m["destination"] != dest);
        self
    }

    /// Appends a hook of `kind` (prestart, createRuntime, ...).
    pub fn hook(&mut self, kind: &str, hook: Value) -> &mut Self {
        if self.spec.pointer(&format!("/hooks/{kind}")).is_none() {
            self.set(&format!("/hooks/{kind}"), json!([]));
        }
        self.spec["hooks"][kind].as_array_mut().unwrap().push(hook);
        self
    }

    pub fn rlimit(&mut self, kind: &str, soft: u64, hard: u64) -> &mut Self {
        let limits = self.spec["process"]["rlimits"].as_array_mut().unwrap();
        limits.retain(|l| l["type"] != kind);
        limits.push(json!({"type": kind, "soft": soft, "hard": hard}));
        self
    }

    /// Sets one capability set (`bounding`, `effective`, ...).
    pub fn caps(&mut self, set: &str, caps: &[&str]) -> &mut Self {
        self.set(&format!("/process/capabilities/{set}"), json!(caps))
    }
}
