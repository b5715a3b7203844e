//! The runtime as a library: create, start, state, kill, delete, exec.
//! The CLI and rt-build call these; nothing here parses flags.

mod create;
mod delete;
mod exec;
mod signal;
mod start;

pub(crate) use create::initial_record;
pub use create::{CreateOptions, create, create_and_start};
pub use delete::delete;
pub use exec::{ExecOptions, exec, start as exec_start, wait_child as exec_wait_child};
pub use signal::{kill, parse_signal};
pub use start::start;

use crate::error::Result;
use crate::state::{ContainerDir, OciState, status_of};
use std::path::Path;

/// `state`: the OCI state of one container.
pub fn state(root: &Path, id: &str) -> Result<OciState> {
    let (dir, st) = ContainerDir::open(root, id)?;
    Ok(st.oci(status_of(&dir.path, &st)))
}

/// Freezes (`pause`) or thaws (`resume`) the container's cgroup.
pub fn set_paused(root: &Path, id: &str, paused: bool) -> Result<()> {
    use crate::state::Status;
    let (dir, st) = ContainerDir::open(root, id)?;
    let status = status_of(&dir.path, &st);
    match (paused, status) {
        (true, Status::Running) | (false, Status::Paused) => st.cgroup.set_frozen(paused),
        (true, _) => Err(crate::Error::new("container not running")),
        (false, _) => Err(crate::Error::new("container not paused")),
    }
}

/// Host pids of every process in the container (`ps`).
pub fn pids(root: &Path, id: &str) -> Result<Vec<i32>> {
    let (_dir, st) = ContainerDir::open(root, id)?;
    let mut p = st.cgroup.pids();
    if p.is_empty() && crate::state::status::init_alive(&st) {
        // No cgroup (rootless without permission): the processes of the
        // init's own pid namespace, else the init alone.
        p = if st.own_pid_ns {
            in_pid_namespace_of(st.pid)
        } else {
            vec![st.pid]
        };
    }
    Ok(p)
}

/// Host pids of the processes in `init`'s pid namespace (those whose
/// /proc entry we may read: ours).
fn in_pid_namespace_of(init: i32) -> Vec<i32> {
    let ns = |pid: &str| std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok();
    let Some(theirs) = ns(&init.to_string()) else {
        return vec![init];
    };
    let mut pids: Vec<i32> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| ns(&pid.to_string()).as_ref() == Some(&theirs))
        .collect();
    pids.sort_unstable();
    pids
}
