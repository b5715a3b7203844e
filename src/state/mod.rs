//! Per-container state under `--root`: one directory per container holding
//! `state.json` (what later commands need) and `exec.fifo` (the start
//! handshake). The status is never stored; it is computed from the live
//! init process each time, as runc does.

pub mod status;

pub use status::{Status, status_of};

use crate::error::{Context, Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

pub const STATE_FILE: &str = "state.json";
pub const EXEC_FIFO: &str = "exec.fifo";

/// What `rt` remembers about a container between invocations.
#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct ContainerState {
    pub id: String,
    pub pid: i32,
    /// Start time of the init (field 22 of /proc/PID/stat), so a recycled
    /// pid is never mistaken for the container.
    pub init_start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    #[serde(default)]
    pub annotations: HashMap<String, String>,
    pub owner: String,
    /// Cgroup directories rt created, deepest last; removed on delete.
    #[serde(default)]
    pub cgroup: crate::cgroups::Placement,
    /// The container has its own PID namespace: killing init kills all.
    #[serde(default)]
    pub own_pid_ns: bool,
    /// config.json had a process; `start` refuses otherwise (spec).
    #[serde(default = "yes")]
    pub has_process: bool,
    /// Hooks that run after create (poststart at start, poststop at delete),
    /// kept here because the bundle may change or vanish meanwhile.
    #[serde(default)]
    pub hooks: Option<oci_spec::runtime::Hooks>,
    /// Namespace paths of the init for `exec`, resolved at create time.
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Extra fields of the spec that `exec` needs (process defaults).
    #[serde(default)]
    pub no_new_privileges: bool,
    /// The container's process, the base of `exec`'s process.
    #[serde(default)]
    pub process: Option<oci_spec::runtime::Process>,
    /// The container's seccomp filter; `exec`'d processes get it too.
    #[serde(default)]
    pub seccomp: Option<oci_spec::runtime::LinuxSeccomp>,
}

fn yes() -> bool {
    true
}

/// The OCI `state` output, exactly runc's field set.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct OciState {
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub status: String,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    #[serde(skip_serializing_if = "HashMap::is_empty", default)]
    pub annotations: HashMap<String, String>,
    pub owner: String,
}

pub const OCI_VERSION: &str = "1.2.0";

impl ContainerState {
    pub fn oci(&self, status: Status) -> OciState {
        OciState {
            oci_version: OCI_VERSION.to_string(),
            id: self.id.clone(),
            pid: if status == Status::Stopped {
                0
            } else {
                self.pid
            },
            status: status.as_str().to_string(),
            bundle: self.bundle.clone(),
            rootfs: self.rootfs.clone(),
            created: self.created.clone(),
            annotations: self.annotations.clone(),
            owner: self.owner.clone(),
        }
    }
}

/// Container ids are file names under --root and appear in cgroup paths:
/// the same alphabet as runc.
pub fn validate_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id.len() <= 1024
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+-.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::new(format!(
            // runc's words, which callers may match, then what is wrong.
            "invalid container ID format: {id:?} (use only [A-Za-z0-9_+.-])"
        )))
    }
}

/// An open container directory, locked for the lifetime of this value
/// (flock is released when the fd closes, also when rt dies).
pub struct ContainerDir {
    pub path: PathBuf,
    lock: File,
}

impl ContainerDir {
    /// Reserves a new container directory; fails if the id is taken.
    pub fn create(root: &Path, id: &str) -> Result<ContainerDir> {
        validate_id(id)?;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o711)
            .create(root)
            .with_ctx(|| format!("create state root {}", root.display()))?;
        let path = root.join(id);
        match std::fs::DirBuilder::new().mode(0o711).create(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::new(format!("container with id exists: {id}")));
            }
            Err(e) => return Err(Error::from(e).context(format!("create {}", path.display()))),
        }
        let lock = lock_dir(&path)?;
        Ok(ContainerDir { path, lock })
    }

    /// Opens and locks an existing container directory.
    pub fn open(root: &Path, id: &str) -> Result<ContainerDir> {
        validate_id(id)?;
        let path = root.join(id);
        if !path.join(STATE_FILE).exists() {
            return Err(Error::new(format!("container does not exist: {id}")));
        }
        let lock = lock_dir(&path)?;
        Ok(ContainerDir { path, lock })
    }

    pub fn load(&self) -> Result<ContainerState> {
        let p = self.path.join(STATE_FILE);
        let text = std::fs::read(&p).with_ctx(|| format!("read {}", p.display()))?;
        serde_json::from_slice(&text).map_err(|e| Error::new(format!("{}: {e}", p.display())))
    }

    /// Writes state.json atomically (temp file + rename).
    pub fn save(&self, st: &ContainerState) -> Result<()> {
        let text = serde_json::to_vec(st).map_err(|e| Error::new(e.to_string()))?;
        write_atomic(&self.path.join(STATE_FILE), &text, 0o600)
    }

    /// The fd holding the lock. A cloned child shares it, so the init must
    /// close it, or the lock outlives `create`.
    pub fn lock_fd(&self) -> std::os::fd::RawFd {
        self.lock.as_raw_fd()
    }

    pub fn fifo_path(&self) -> PathBuf {
        self.path.join(EXEC_FIFO)
    }

    /// Removes the directory and everything in it.
    pub fn remove(self) -> Result<()> {
        std::fs::remove_dir_all(&self.path).with_ctx(|| format!("remove {}", self.path.display()))
    }
}

fn lock_dir(path: &Path) -> Result<File> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(path)
        .with_ctx(|| format!("open {}", path.display()))?;
    // SAFETY: flock on an fd we own; no memory is involved.
    let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
    if rc != 0 {
        return Err(Error::from(std::io::Error::last_os_error())
            .context(format!("lock {}", path.display())));
    }
    Ok(f)
}

/// Writes `data` to `path` via a temp file in the same directory and a
/// rename, so readers see the old or the new content, never a torn one.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(libc::O_CLOEXEC)
        .open(&tmp)
        .with_ctx(|| format!("create {}", tmp.display()))?;
    let res = f.write_all(data).and_then(|_| std::fs::rename(&tmp, path));
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::from(e).context(format!("write {}", path.display())));
    }
    Ok(())
}

/// Lists the ids under the state root.
pub fn list_ids(root: &Path) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    let rd = match std::fs::read_dir(root) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ids),
        Err(e) => return Err(Error::from(e).context(format!("read {}", root.display()))),
    };
    for entry in rd.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().join(STATE_FILE).exists() {
            ids.push(name);
        }
    }
    ids.sort();
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_alphabet() {
        for ok in ["a", "abc-DEF_1.2+3", &"x".repeat(64)] {
            validate_id(ok).unwrap();
        }
        for bad in ["", ".", "..", "a/b", "a b", "é", "a\0b"] {
            assert!(validate_id(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn create_twice_fails_and_open_missing_says_does_not_exist() {
        let root = std::env::temp_dir().join(format!("rt-state-test-{}", std::process::id()));
        let d = ContainerDir::create(&root, "c1").unwrap();
        d.save(&ContainerState {
            id: "c1".into(),
            pid: 42,
            ..Default::default()
        })
        .unwrap();
        let e = ContainerDir::create(&root, "c1").err().unwrap();
        assert_eq!(e.to_string(), "container with id exists: c1");
        drop(d);
        let d = ContainerDir::open(&root, "c1").unwrap();
        assert_eq!(d.load().unwrap().pid, 42);
        assert_eq!(list_ids(&root).unwrap(), vec!["c1".to_string()]);
        d.remove().unwrap();
        let e = ContainerDir::open(&root, "c1").err().unwrap();
        assert!(e.to_string().contains("container does not exist"));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn stopped_state_reports_pid_zero() {
        let st = ContainerState {
            id: "x".into(),
            pid: 7,
            ..Default::default()
        };
        assert_eq!(st.oci(Status::Stopped).pid, 0);
        assert_eq!(st.oci(Status::Running).pid, 7);
        let v = serde_json::to_value(st.oci(Status::Created)).unwrap();
        for k in [
            "ociVersion",
            "id",
            "pid",
            "status",
            "bundle",
            "rootfs",
            "created",
            "owner",
        ] {
            assert!(v.get(k).is_some(), "missing {k}");
        }
    }
}
