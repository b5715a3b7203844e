//! Releasing the read-only clone's mount without waiting for it.
//!
//! Closing the last fd of a detached mount (open_tree(OPEN_TREE_CLONE))
//! dissolves it, and the kernel then waits for an RCU grace period
//! (synchronize_rcu_expedited in namespace_unlock) before it returns from
//! close(2): 0.05-0.3 ms on a quiet 2-vCPU VM, several ms under load, on
//! every create, run and exec. The running image keeps its own reference to
//! the mount, so nothing about the defence depends on when the fd goes.
//!
//! `in_background` closes it on a thread of its own (crate::raw_thread)
//! that makes one close system call and exits, so the wait overlaps rt's
//! own work instead of preceding it.
//!
//! What needs a single-threaded caller (setns to a time namespace,
//! unshare(CLONE_NEWUSER)) calls `settle` first.

use crate::raw_thread::{Slot, sys4};
use std::os::fd::{IntoRawFd, OwnedFd};

/// The closer only makes one system call; the kernel work runs on its
/// kernel stack.
static CLOSER: Slot<{ 16 * 1024 }> = Slot::new();

extern "C" fn close_fd(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: the close system call on the fd handed to this thread; no
    // memory is involved, and the result is of no use to anyone.
    unsafe { sys4(libc::SYS_close, arg as usize, 0, 0, 0) };
    0
}

/// Closes `fd` on a short-lived thread; closes it here when a thread
/// cannot be started (or one still runs).
pub fn in_background(fd: OwnedFd) {
    if CLOSER.busy() {
        drop(fd);
        return;
    }
    let raw = fd.into_raw_fd();
    // SAFETY: close_fd makes one system call through sys4 on the fd it is
    // given, which no one else owns any more.
    if !unsafe { CLOSER.spawn(close_fd, raw as usize as *mut libc::c_void) } {
        // SAFETY: no thread took the fd: close it here.
        unsafe { libc::close(raw) };
    }
}

/// Returns once no closer thread runs (rt is single-threaded again, as
/// far as this module goes).
pub fn settle() {
    CLOSER.join();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::fd::FromRawFd;

    #[test]
    fn the_fd_is_closed_and_the_thread_gone_after_settle() {
        let mut fds = [0; 2];
        // SAFETY: pipe2 fills the two-element array we own.
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        // SAFETY: both fds were just created and are owned by nobody else.
        let (mut r, w) = unsafe {
            (
                std::fs::File::from_raw_fd(fds[0]),
                OwnedFd::from_raw_fd(fds[1]),
            )
        };
        in_background(w);
        settle();
        assert!(!CLOSER.busy(), "closer still running");
        // Only the closer held the write end: the pipe reads end of file.
        let mut buf = Vec::new();
        assert_eq!(r.read_to_end(&mut buf).unwrap(), 0);
    }
}
