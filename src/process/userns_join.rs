//! Containers that join an existing user namespace by path (Kubernetes
//! pods with user namespaces: containerd puts every container of the pod
//! into the user namespace of the pod's sandbox) and ask for new mount,
//! pid, uts... namespaces. Those must be owned by the joined user
//! namespace, or its root cannot mount or set a hostname in them; the
//! kernel gives a new namespace to the user namespace of the process that
//! creates it. So rt, which must stay the host's root, clones a short-lived
//! helper that joins the user namespace and clones the init from there,
//! as rt's own child (CLONE_PARENT), handing rt a pidfd of it (runc's
//! nsexec joins, then unshares, for the same reason).

use crate::error::{Error, Result};
use crate::sys;
use std::os::fd::{AsRawFd, OwnedFd};

pub enum Cloned {
    /// In the init.
    Init,
    /// In rt: the init's pid.
    Parent(i32),
}

/// Clones the init into new namespaces `flags` owned by `userns`.
pub fn clone_init_inside(userns: &OwnedFd, flags: u64) -> Result<Cloned> {
    let (ours, helpers) = std::os::unix::net::UnixStream::pair()
        .map_err(|e| Error::from(e).context("socketpair for the user namespace helper"))?;
    let helper = sys::clone_process(0, None)
        .map_err(|e| Error::errno("clone the user namespace helper", e))?;
    if helper == 0 {
        drop(ours);
        return match run_helper(userns, flags, &helpers) {
            Ok(true) => Ok(Cloned::Init),
            Ok(false) => {
                // SAFETY: leave the helper at once, without the parent's
                // atexit handlers or stdio buffers.
                unsafe { libc::_exit(0) }
            }
            // SAFETY: as above; the status tells rt why.
            Err(e) => unsafe { libc::_exit(e as i32) },
        };
    }
    drop(helpers);
    let pidfd = sys::recv_fd(ours.as_raw_fd());
    let status = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(helper), None);
    match (pidfd, status) {
        (Ok(fd), _) => sys::pidfd_pid(&fd).map(Cloned::Parent),
        (Err(_), Ok(nix::sys::wait::WaitStatus::Exited(_, code))) if code != 0 => {
            Err(Error::errno(
                "join the user namespace and clone the init in it",
                nix::Error::from_raw(code),
            ))
        }
        (Err(e), _) => Err(Error::errno(
            "clone the init in the joined user namespace",
            e,
        )),
    }
}

/// In the helper: join, clone, send the pidfd. Ok(true) in the init.
fn run_helper(
    userns: &OwnedFd,
    flags: u64,
    to_rt: &std::os::unix::net::UnixStream,
) -> std::result::Result<bool, nix::Error> {
    sys::setns(userns.as_raw_fd(), libc::CLONE_NEWUSER)?;
    match sys::clone_sibling(flags)? {
        (0, _) => Ok(true),
        (_, Some(pidfd)) => {
            sys::send_fd(to_rt.as_raw_fd(), b"p", pidfd.as_raw_fd()).map(|()| false)
        }
        (_, None) => Err(nix::Error::EBADF),
    }
}
