//! Per-container state under `--root`: one directory per container holding
//! `state.json` (what later commands need) and `exec.fifo` (the start
//! handshake). The status is never stored; it is computed from the live
//! init process each time, as runc does.

mod dir;
pub mod status;

pub use dir::{ContainerDir, Lookup, does_not_exist, list_ids, peek, write_atomic};
pub use status::{Status, status_of};

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::PathBuf;

pub const STATE_FILE: &str = "state.json";
/// The record of a create under way (see `dir`).
pub const CREATING_FILE: &str = "creating.json";
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
    /// Read from `creating.json`: the record `create` writes before it
    /// makes anything outside the state dir. `cgroup.created` lists the
    /// directories it may make, and there is no init yet. Found without a
    /// create holding the lock, it is what a killed create left, and
    /// `delete` removes all of it.
    #[serde(skip)]
    pub creating: bool,
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
