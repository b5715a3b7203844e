//! Helper threads that make only system calls, for work that overlaps a
//! clone of the container's init.
//!
//! rt clones its init with a plain clone3 (no exec), so the init starts as
//! a copy of the calling thread alone, with every lock of the process in
//! whatever state it was at that instant. A std thread allocates, and may
//! hold the allocator's or stdio's lock just then, which the init would
//! never see released. A thread started here touches no libc state: it
//! runs on a static stack, shares the caller's TLS pointer, which it only
//! reads (the stack canary), and makes its system calls with the
//! `syscall` instruction (`sys4`), not through glibc, whose wrapper
//! writes `errno`, a thread-local of the caller's.
//!
//! It shares memory, files and signal handlers (a thread must) but not the
//! fs struct, so setns(CLONE_NEWNS) and unshare(CLONE_NEWNS) still work in
//! the caller; all signals are blocked in it. The process does not exit
//! before the thread has (the kernel reaps a thread group as a whole).
//! What needs a single-threaded caller (joining a time namespace,
//! unshare(CLONE_NEWUSER)) waits with `join` first. Only the process that
//! started a thread may wait for it: a process cloned while it ran (the
//! init) has a copy of its slot that stays busy for good.

use std::sync::atomic::{AtomicI32, Ordering};

/// One helper thread at a time per slot: its stack (in .bss, so only the
/// pages it touches become resident) and its thread id while it runs.
pub struct Slot<const N: usize> {
    stack: std::cell::UnsafeCell<[u8; N]>,
    /// CLONE_PARENT_SETTID stores the id before clone returns;
    /// CLONE_CHILD_CLEARTID makes the kernel zero it and wake futex
    /// waiters when the thread exits.
    tid: AtomicI32,
}

// SAFETY: only the slot's thread uses the stack, and a new thread starts in
// a slot only once the previous one has exited (tid is zero).
unsafe impl<const N: usize> Sync for Slot<N> {}

impl<const N: usize> Slot<N> {
    pub const fn new() -> Self {
        Slot {
            stack: std::cell::UnsafeCell::new([0; N]),
            tid: AtomicI32::new(0),
        }
    }

    /// Whether a thread runs in the slot.
    pub fn busy(&self) -> bool {
        self.tid.load(Ordering::Acquire) != 0
    }

    /// Starts `run(arg)` on a thread of the slot. False when none could
    /// be started (or one still runs): the caller does the work itself.
    ///
    /// # Safety
    /// `run` may only make system calls through `sys4` and read and write
    /// the memory `arg` points to, which must stay valid until `join`
    /// returns.
    pub unsafe fn spawn(
        &'static self,
        run: extern "C" fn(*mut libc::c_void) -> libc::c_int,
        arg: *mut libc::c_void,
    ) -> bool {
        if !cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
            return false;
        }
        // Claim the slot (two threads of ours must not share the stack):
        // -1 until the kernel stores the thread's id (CLONE_PARENT_SETTID,
        // before the thread can run, so before it can clear it).
        if self
            .tid
            .compare_exchange(0, -1, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return false;
        }
        let top = (self.stack.get() as usize + N) & !15;
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
        // SAFETY: sigfillset and pthread_sigmask on sets we own; the new
        // thread inherits the full mask, ours is restored right after.
        unsafe {
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        }
        let tid_ptr = self.tid.as_ptr();
        // SAFETY: clone(2) through glibc's wrapper: the child runs `run` on
        // the slot's stack (16-byte aligned top) and exits the thread when
        // it returns; the tid word is a static, as CLONE_CHILD_CLEARTID
        // requires. The caller vouches for `run` and `arg`.
        let tid = unsafe {
            libc::clone(
                run,
                top as *mut libc::c_void,
                flags,
                arg,
                tid_ptr,
                std::ptr::null_mut::<libc::c_void>(),
                tid_ptr,
            )
        };
        // SAFETY: restoring the mask saved above.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
        if tid <= 0 {
            self.tid.store(0, Ordering::Release);
            return false;
        }
        true
    }

    /// Returns once no thread runs in the slot; what it wrote is then
    /// visible to the caller.
    pub fn join(&self) {
        loop {
            let tid = self.tid.load(Ordering::Acquire);
            if tid == 0 {
                return;
            }
            // SAFETY: FUTEX_WAIT on the slot's word: returns when the
            // kernel clears it at the thread's exit (or at once if it
            // changed).
            unsafe {
                libc::syscall(
                    libc::SYS_futex,
                    self.tid.as_ptr(),
                    libc::FUTEX_WAIT,
                    tid,
                    std::ptr::null::<libc::timespec>(),
                )
            };
        }
    }
}

/// Work for a helper thread, lent to it by `Running`.
///
/// # Safety
/// `run` may only make system calls through `sys4` and read and write the
/// job itself: no allocation, no libc call, no lock (see above).
pub unsafe trait Job: Default + 'static {
    fn run(&mut self);
}

/// A job lent to the thread of a slot until `finish` (or Drop) has waited
/// for the thread. The job lives on the heap, so its address stays put
/// while its owner moves.
pub struct Running<J: Job, const N: usize> {
    slot: &'static Slot<N>,
    job: Box<J>,
}

impl<J: Job, const N: usize> Running<J, N> {
    /// Starts `job` on the slot's thread, or gives it back when no thread
    /// could be started (or one still runs in the slot).
    pub fn start(slot: &'static Slot<N>, job: J) -> Result<Self, J> {
        let mut job = Box::new(job);
        let arg = &mut *job as *mut J as *mut libc::c_void;
        // SAFETY: run_job only calls J::run, which the Job contract limits
        // to sys4 system calls on the job; the box is neither touched nor
        // freed before the thread has been joined (finish, Drop).
        if unsafe { slot.spawn(run_job::<J>, arg) } {
            Ok(Running { slot, job })
        } else {
            Err(*job)
        }
    }

    /// Waits for the thread, then hands back the job as the thread left it.
    pub fn finish(mut self) -> J {
        self.slot.join();
        std::mem::take(&mut *self.job)
    }
}

impl<J: Job, const N: usize> Drop for Running<J, N> {
    fn drop(&mut self) {
        // The thread writes the job until it ends; the job's own Drop runs
        // after this.
        self.slot.join();
    }
}

extern "C" fn run_job<J: Job>(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: Running::start passes its boxed job, which no one else
    // touches until this thread has ended.
    let job = unsafe { &mut *(arg as *mut J) };
    job.run();
    0
}

/// A system call with up to four arguments, made directly: the kernel's
/// return value (a negative errno on failure), no `errno` written.
///
/// # Safety
/// As the system call `nr` with these arguments is.
#[cfg(target_arch = "x86_64")]
pub unsafe fn sys4(nr: libc::c_long, a: usize, b: usize, c: usize, d: usize) -> isize {
    let ret: isize;
    // SAFETY: the x86_64 system call convention: number in rax, arguments
    // in rdi, rsi, rdx, r10; the kernel clobbers rcx and r11.
    unsafe {
        std::arch::asm!(
            "syscall",
            inlateout("rax") nr as isize => ret,
            in("rdi") a,
            in("rsi") b,
            in("rdx") c,
            in("r10") d,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret
}

/// As above, for aarch64: number in x8, arguments and result in x0-x3.
///
/// # Safety
/// As the system call `nr` with these arguments is.
#[cfg(target_arch = "aarch64")]
pub unsafe fn sys4(nr: libc::c_long, a: usize, b: usize, c: usize, d: usize) -> isize {
    let ret: isize;
    // SAFETY: the aarch64 system call convention (svc #0).
    unsafe {
        std::arch::asm!(
            "svc 0",
            in("x8") nr,
            inlateout("x0") a as isize => ret,
            in("x1") b,
            in("x2") c,
            in("x3") d,
            options(nostack),
        );
    }
    ret
}

/// Elsewhere no thread is started (`Slot::spawn` says so).
///
/// # Safety
/// Never called.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub unsafe fn sys4(_: libc::c_long, _: usize, _: usize, _: usize, _: usize) -> isize {
    -(libc::ENOSYS as isize)
}

#[cfg(test)]
mod tests {
    use super::*;

    static SLOT: Slot<16384> = Slot::new();

    extern "C" fn make_dir(arg: *mut libc::c_void) -> libc::c_int {
        let job = arg as *mut (std::ffi::CString, isize);
        // SAFETY: the test keeps the job alive until join; mkdirat on its
        // NUL-terminated path.
        unsafe {
            (*job).1 = sys4(
                libc::SYS_mkdirat,
                libc::AT_FDCWD as usize,
                (*job).0.as_ptr() as usize,
                0o700,
                0,
            );
        }
        0
    }

    static GATE_SLOT: Slot<16384> = Slot::new();

    /// Waits until the word it is given is no longer zero.
    extern "C" fn wait_for_gate(arg: *mut libc::c_void) -> libc::c_int {
        let gate = arg as *const AtomicI32;
        // SAFETY: the test keeps the word alive until join.
        while unsafe { (*gate).load(Ordering::Acquire) } == 0 {
            // SAFETY: FUTEX_WAIT on the word while it is zero.
            unsafe {
                sys4(
                    libc::SYS_futex,
                    gate as usize,
                    libc::FUTEX_WAIT as usize,
                    0,
                    0,
                )
            };
        }
        0
    }

    /// A slot holds one thread: a second start while it runs is refused
    /// (the two would share a stack), and join waits for the thread.
    #[test]
    fn a_busy_slot_refuses_a_second_thread() {
        let gate = AtomicI32::new(0);
        let arg = &gate as *const AtomicI32 as *mut libc::c_void;
        // SAFETY: wait_for_gate only reads the gate and makes futex calls
        // through sys4; the gate lives until join below.
        assert!(unsafe { GATE_SLOT.spawn(wait_for_gate, arg) });
        assert!(GATE_SLOT.busy());
        // SAFETY: as above (it is not started).
        assert!(!unsafe { GATE_SLOT.spawn(wait_for_gate, arg) });
        gate.store(1, Ordering::Release);
        // SAFETY: FUTEX_WAKE on the gate.
        unsafe { libc::syscall(libc::SYS_futex, gate.as_ptr(), libc::FUTEX_WAKE, 1) };
        GATE_SLOT.join();
        assert!(!GATE_SLOT.busy());
    }

    static JOB_SLOT: Slot<16384> = Slot::new();
    static JOB_GATE: AtomicI32 = AtomicI32::new(0);

    /// Waits for JOB_GATE, then notes its own thread id.
    #[derive(Default)]
    struct TidJob {
        tid: isize,
    }

    // SAFETY: run reads a static atomic and makes futex and gettid calls
    // through sys4, writing only the job.
    unsafe impl Job for TidJob {
        fn run(&mut self) {
            wait_for_gate(&JOB_GATE as *const AtomicI32 as *mut libc::c_void);
            // SAFETY: gettid has no arguments and touches no memory.
            self.tid = unsafe { sys4(libc::SYS_gettid, 0, 0, 0, 0) };
        }
    }

    /// `finish` hands back what the thread wrote into the job; a slot whose
    /// thread still runs gives a second job back unstarted.
    #[test]
    fn a_job_comes_back_with_what_its_thread_wrote() {
        let running = Running::start(&JOB_SLOT, TidJob::default()).ok().unwrap();
        let refused = Running::start(&JOB_SLOT, TidJob { tid: 7 }).err().unwrap();
        assert_eq!(refused.tid, 7);
        JOB_GATE.store(1, Ordering::Release);
        // SAFETY: FUTEX_WAKE on the gate.
        unsafe { libc::syscall(libc::SYS_futex, JOB_GATE.as_ptr(), libc::FUTEX_WAKE, 1) };
        let done = running.finish();
        assert!(!JOB_SLOT.busy());
        // SAFETY: gettid has no arguments and touches no memory.
        let ours = unsafe { libc::syscall(libc::SYS_gettid) } as isize;
        assert!(done.tid > 0 && done.tid != ours, "thread id {}", done.tid);
    }

    #[test]
    fn the_thread_makes_its_calls_and_is_gone_after_join() {
        let dir = std::env::temp_dir().join(format!("rt-raw-thread.{}", std::process::id()));
        let _ = std::fs::remove_dir(&dir);
        let path = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).unwrap();
        let mut job = (path, 1isize);
        // SAFETY: make_dir only makes a system call through sys4 and
        // writes the job, which lives until join below.
        let started = unsafe { SLOT.spawn(make_dir, &mut job as *mut _ as *mut libc::c_void) };
        assert!(started);
        SLOT.join();
        assert!(!SLOT.busy());
        assert_eq!(job.1, 0, "mkdirat returned {}", job.1);
        assert!(dir.is_dir());
        // The same call again reports the error as a negative errno.
        // SAFETY: as above.
        assert!(unsafe { SLOT.spawn(make_dir, &mut job as *mut _ as *mut libc::c_void) });
        SLOT.join();
        assert_eq!(job.1, -(libc::EEXIST as isize));
        std::fs::remove_dir(&dir).unwrap();
    }
}
