//! `delete`: stop what is left, run poststop hooks, remove cgroup and state.
//!
//! `delete --force` is idempotent: a container that is gone, whoever
//! removed it (also a concurrent delete we waited for), is success.

use super::signal::signal_container;
use crate::error::{Error, Result};
use crate::state::{ContainerDir, ContainerState, Lookup, Status, does_not_exist, status_of};
use crate::sys;
use std::path::Path;

pub fn delete(root: &Path, id: &str, force: bool) -> Result<()> {
    // First, and also with --force: an id like "../../tmp" is a path, not a
    // container, and must fail (as in runc) rather than pass as "already
    // gone" — or worse, reach a removal.
    crate::state::validate_id(id)?;
    let (dir, st) = match ContainerDir::lookup(root, id)? {
        Lookup::Found(dir, st) => (dir, *st),
        Lookup::Absent if force => return Ok(()),
        // A create killed before its first record made nothing else.
        Lookup::Unfinished(dir) if force => return dir.remove(),
        Lookup::Absent | Lookup::Unfinished(_) => return Err(does_not_exist(id)),
    };
    match status_of(&dir.path, &st) {
        Status::Stopped => {}
        // runc destroys a container that was never started, force or not.
        Status::Created => kill_and_wait(&st)?,
        _ if force => kill_and_wait(&st)?,
        _ => {
            return Err(Error::new(format!(
                "cannot delete container {id} that is not stopped"
            )));
        }
    }
    // A killed create's processes are known only by their cgroup; without
    // its own PID namespace the init's death leaves the others running.
    if st.creating || !st.own_pid_ns {
        st.cgroup.kill_all();
    }
    let mut cg = st.cgroup.clone();
    log::debug!(
        "delete {id}: removing cgroup {}",
        crate::cgroups::describe(&cg)
    );
    if !cg.remove() {
        log::warn!("some cgroups of {id} could not be removed");
    }
    // (A killed create's record has no hooks: none of them ever ran.)
    if let Some(hooks) = st.hooks.as_ref().and_then(|h| h.poststop().as_ref()) {
        let state_json = serde_json::to_string(&st.oci(Status::Stopped)).unwrap_or_default();
        crate::hooks::run_all_warning("poststop", hooks, &state_json);
    }
    log::debug!("delete {id}: removing state {}", dir.path.display());
    dir.remove()
}

fn kill_and_wait(st: &ContainerState) -> Result<()> {
    if st.cgroup.is_frozen() {
        let _ = st.cgroup.set_frozen(false);
    }
    signal_container(st, libc::SIGKILL, !st.own_pid_ns).ok();
    if !sys::wait_exit(st.pid, 10_000) {
        return Err(Error::new(format!(
            "container init {} did not exit after SIGKILL",
            st.pid
        )));
    }
    Ok(())
}
