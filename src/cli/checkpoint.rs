//! `checkpoint` and `restore`: flags to options; a foreground `restore`
//! then waits for the restored container like `run` does.

use super::args::{CheckpointArgs, CriuArgs, RestoreArgs};
use crate::checkpoint::{self, CheckpointOptions, CriuFlags, RestoreOptions};
use crate::container;
use crate::error::{Error, Result};
use std::path::Path;

fn flags(a: &CriuArgs) -> CriuFlags {
    CriuFlags {
        tcp_established: a.tcp_established,
        ext_unix_sk: a.ext_unix_sk,
        shell_job: a.shell_job,
        file_locks: a.file_locks,
        manage_cgroups_mode: a.manage_cgroups_mode.clone(),
        empty_ns: a.empty_ns.clone(),
        auto_dedup: a.auto_dedup,
        lazy_pages: a.lazy_pages,
    }
}

pub fn checkpoint(root: &Path, a: &CheckpointArgs) -> Result<i32> {
    let o = CheckpointOptions {
        image_path: a.criu.image_path.clone(),
        work_path: a.criu.work_path.clone(),
        parent_path: a.parent_path.clone(),
        leave_running: a.leave_running,
        pre_dump: a.pre_dump,
        flags: flags(&a.criu),
    };
    checkpoint::checkpoint(root, &a.id, &o)?;
    Ok(0)
}

pub fn restore(root: &Path, a: &RestoreArgs, systemd_cgroup: bool) -> Result<i32> {
    let o = RestoreOptions {
        root: root.to_path_buf(),
        id: a.id.clone(),
        image_path: a.criu.image_path.clone(),
        work_path: a.criu.work_path.clone(),
        pid_file: a.pid_file.clone(),
        systemd_cgroup,
        flags: flags(&a.criu),
    };
    // Refused before the bundle is even read: nothing to undo.
    o.flags.check()?;
    let dir = match &a.bundle {
        Some(b) => b.clone(),
        None => std::env::current_dir()?,
    };
    let bundle = crate::spec::load_bundle(&dir)?;
    if !a.detach && !a.no_subreaper {
        // Processes the container leaves behind are reparented to us.
        crate::sys::prctl(libc::PR_SET_CHILD_SUBREAPER, 1)
            .map_err(|e| Error::errno("set subreaper", e))?;
    }
    let st = checkpoint::restore(&o, &bundle)?;
    if a.detach {
        return Ok(0);
    }
    super::run::forward_signals_to(st.pid);
    let code = container::exec_wait_child(st.pid);
    container::delete(root, &a.id, true)?;
    Ok(code)
}
