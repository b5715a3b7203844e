//! `start`: release the waiting init and return once it has exec'd.

use crate::error::{Error, Result};
use crate::state::{ContainerDir, ContainerState, Status, status_of};
use crate::sys;
use std::os::fd::AsRawFd;
use std::path::Path;

pub fn start(root: &Path, id: &str) -> Result<()> {
    let (dir, st) = ContainerDir::open(root, id)?;
    match status_of(&dir.path, &st) {
        Status::Created => {}
        Status::Stopped => return Err(Error::new("cannot start a container that has stopped")),
        _ => return Err(Error::new("cannot start an already running container")),
    }
    if !st.has_process {
        return Err(Error::new(
            "cannot start a container without process: config.json has no process",
        ));
    }
    // The pidfd first: opening the fifo releases the init, which may exec a
    // short command that exits and is reaped by a prompt subreaper (conmon)
    // before a later pidfd_open, which then fails with ESRCH.
    let pidfd = match sys::pidfd_open(st.pid) {
        Ok(fd) => fd,
        Err(nix::Error::ESRCH) => return Err(Error::new("container init exited before start")),
        Err(e) => return Err(Error::errno("pidfd_open init", e)),
    };
    let fifo_path = dir.fifo_path();
    log::debug!(
        "start {id}: releasing init pid {} through {}",
        st.pid,
        fifo_path.display()
    );
    // Non-blocking open for reading never waits; the init's blocking open
    // for writing completes as soon as we are here.
    let fifo = sys::openat(
        libc::AT_FDCWD,
        &sys::cpath(&fifo_path)?,
        libc::O_RDONLY | libc::O_NONBLOCK,
        0,
    )
    .map_err(|e| Error::errno("open exec fifo", e))?;
    let mut got_byte = false;
    let mut buf = [0u8; 1];
    loop {
        let mut fds = [
            libc::pollfd {
                fd: fifo.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: pidfd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: two valid pollfds.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), 2, 10) };
        if rc < 0 && nix::Error::last() != nix::Error::EINTR {
            return Err(Error::errno("poll exec fifo", nix::Error::last()));
        }
        if fds[0].revents & (libc::POLLIN | libc::POLLHUP) != 0 {
            // SAFETY: reading one byte into our buffer.
            let n =
                unsafe { libc::read(fifo.as_raw_fd(), buf.as_mut_ptr() as *mut libc::c_void, 1) };
            if n == 1 {
                if !got_byte {
                    got_byte = true;
                    // From here on the container counts as running.
                    let _ = std::fs::remove_file(&fifo_path);
                }
                continue;
            }
            if n == 0 && got_byte {
                break; // write end closed: the init exec'd (or died trying)
            }
        }
        if fds[1].revents & libc::POLLIN != 0 {
            if got_byte {
                break; // exec failed and the init exited; runc does not report this either
            }
            return Err(Error::new("container init exited before start"));
        }
        if rc == 0 && !got_byte {
            continue;
        }
        if !got_byte {
            // POLLHUP with no writer yet: the init has not reached its open.
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
    }
    log::debug!("start {id}: init pid {} has exec'd", st.pid);
    run_poststart_hooks(&st);
    Ok(())
}

/// Once the container process runs. The spec: a failing poststart hook is
/// logged, start still succeeds.
pub(super) fn run_poststart_hooks(st: &ContainerState) {
    if let Some(hooks) = st.hooks.as_ref().and_then(|h| h.poststart().as_ref()) {
        let state_json = serde_json::to_string(&st.oci(Status::Running)).unwrap_or_default();
        crate::hooks::run_all_warning("poststart", hooks, &state_json);
    }
}
