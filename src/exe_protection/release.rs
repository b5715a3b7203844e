//! Releasing the read-only clone's mount without waiting for it.
//!
//! Closing the last fd of a detached mount (open_tree(OPEN_TREE_CLONE))
//! dissolves it, and the kernel then waits for an RCU grace period
//! (synchronize_rcu_expedited in namespace_unlock) before it returns from
//! close(2): 0.05-0.3 ms on a quiet 2-vCPU VM, several ms under load, on
//! every create, run and exec. The running image keeps its own reference to
//! the mount, so nothing about the defence depends on when the fd goes.
//!
//! `in_background` closes it on a thread of its own, started with a raw
//! clone(2): the thread makes one close system call and exits, and touches
//! no libc state (no allocator, no TLS writes; it shares the caller's TLS
//! pointer, which it only reads for the stack canary), so it cannot leave a
//! lock taken for the container init rt clones meanwhile. It shares
//! memory, files and signal handlers (a thread must) but not the fs struct,
//! so setns(CLONE_NEWNS) and unshare(CLONE_NEWNS) still work in the caller;
//! all signals are blocked in it. The process does not exit before the
//! thread has (the kernel reaps a thread group as a whole), so the wait
//! overlaps rt's own work instead of preceding it.
//!
//! What needs a single-threaded caller (setns to a time namespace,
//! unshare(CLONE_NEWUSER)) calls `settle` first.

use std::os::fd::{IntoRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};

/// The closer's thread id while it runs. CLONE_PARENT_SETTID stores it
/// before clone returns; CLONE_CHILD_CLEARTID makes the kernel zero it and
/// wake futex waiters when the thread exits.
static CLOSER_TID: AtomicI32 = AtomicI32::new(0);

/// The closer only makes one system call; the kernel work runs on its
/// kernel stack.
const STACK_SIZE: usize = 16 * 1024;

/// The closer's stack: in .bss, so only the page it touches becomes
/// resident (a heap allocation would be zeroed, all of it, at every create).
struct Stack(std::cell::UnsafeCell<[u8; STACK_SIZE]>);
// SAFETY: only the closer thread uses the memory, and a new closer starts
// only once the previous one has exited (CLOSER_TID is zero).
unsafe impl Sync for Stack {}
static STACK: Stack = Stack(std::cell::UnsafeCell::new([0; STACK_SIZE]));

extern "C" fn close_fd(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: the raw close system call on the fd handed to this thread;
    // no memory is involved, and the result is of no use to anyone.
    unsafe { libc::syscall(libc::SYS_close, arg as usize as libc::c_long) };
    0
}

/// Closes `fd` on a short-lived thread; closes it here when a thread
/// cannot be started (or one still runs).
pub fn in_background(fd: OwnedFd) {
    if CLOSER_TID.load(Ordering::Acquire) != 0 {
        drop(fd);
        return;
    }
    let top = (STACK.0.get() as usize + STACK_SIZE) & !15;
    let raw = fd.into_raw_fd();
    let flags = libc::CLONE_VM
        | libc::CLONE_FILES
        | libc::CLONE_SIGHAND
        | libc::CLONE_THREAD
        | libc::CLONE_SYSVSEM
        | libc::CLONE_PARENT_SETTID
        | libc::CLONE_CHILD_CLEARTID;
    // SAFETY: sigset_t is plain data, filled by sigfillset before use.
    let mut all: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: sigfillset and pthread_sigmask on sets we own; the new thread
    // inherits the full mask, ours is restored right after.
    unsafe {
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
    }
    let tid_ptr = CLOSER_TID.as_ptr();
    // SAFETY: clone(2) through glibc's wrapper: the child runs `close_fd`
    // on the static stack (16-byte aligned top) and exits the thread when
    // it returns; the tid word is a static that lives as long as the
    // process, as CLONE_CHILD_CLEARTID requires.
    let tid = unsafe {
        libc::clone(
            close_fd,
            top as *mut libc::c_void,
            flags,
            raw as usize as *mut libc::c_void,
            tid_ptr,
            std::ptr::null_mut::<libc::c_void>(),
            tid_ptr,
        )
    };
    // SAFETY: restoring the mask saved above.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
    if tid < 0 {
        // SAFETY: no thread took the fd: close it here.
        unsafe { libc::close(raw) };
    }
}

/// Returns once no closer thread runs (rt is single-threaded again).
pub fn settle() {
    loop {
        let tid = CLOSER_TID.load(Ordering::Acquire);
        if tid == 0 {
            return;
        }
        // SAFETY: FUTEX_WAIT on a static word: returns when the kernel
        // clears it at the thread's exit (or at once if it changed).
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                CLOSER_TID.as_ptr(),
                libc::FUTEX_WAIT,
                tid,
                std::ptr::null::<libc::timespec>(),
            )
        };
    }
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
        assert_eq!(
            CLOSER_TID.load(Ordering::Acquire),
            0,
            "closer still running"
        );
        // Only the closer held the write end: the pipe reads end of file.
        let mut buf = Vec::new();
        assert_eq!(r.read_to_end(&mut buf).unwrap(), 0);
    }
}
