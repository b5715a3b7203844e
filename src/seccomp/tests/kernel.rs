//! Filters installed for real, each in a forked child (a seccomp filter can
//! never be removed, so the test process itself must stay unfiltered). The
//! child reports through a pipe; the parent asserts.

use std::ffi::CString;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, fork, pipe};
use serde_json::json;

use super::*;
use crate::seccomp::install::kernel_knows_flag;

/// Results a child reports: (return value, errno) per probe.
#[derive(Default)]
struct Report(Vec<(i64, i32)>);

impl Report {
    /// Record a raw syscall result, capturing errno right away.
    fn record(&mut self, ret: i64) {
        let errno = if ret < 0 {
            nix::errno::Errno::last_raw()
        } else {
            0
        };
        self.0.push((ret, errno));
    }

    fn encode(&self) -> Vec<u8> {
        self.0
            .iter()
            .flat_map(|(r, e)| r.to_le_bytes().into_iter().chain(e.to_le_bytes()))
            .collect()
    }

    fn decode(bytes: &[u8]) -> Vec<(i64, i32)> {
        bytes
            .chunks_exact(12)
            .map(|c| {
                (
                    i64::from_le_bytes(c[..8].try_into().unwrap()),
                    i32::from_le_bytes(c[8..].try_into().unwrap()),
                )
            })
            .collect()
    }
}

fn exit_now(code: i32) -> ! {
    // SAFETY: _exit(2) ends the forked child without running the parent's
    // atexit handlers or unwinding into the test harness.
    unsafe { libc::_exit(code) }
}

/// Fork; the child runs `body` with the pipe's write end and exits with its
/// return value (101 on panic). Returns the exit status and all pipe output.
fn in_child(body: impl FnOnce(&OwnedFd) -> i32) -> (WaitStatus, Vec<u8>) {
    let (rd, wr) = pipe().unwrap();
    // SAFETY: fork(2). The child only runs `body` (no locks the test harness
    // might hold across fork are taken: no stdout, no test framework state)
    // and leaves through _exit.
    match unsafe { fork() }.unwrap() {
        ForkResult::Child => {
            drop(rd);
            let code =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(&wr))).unwrap_or(101);
            exit_now(code)
        }
        ForkResult::Parent { child } => {
            drop(wr);
            let mut out = Vec::new();
            std::fs::File::from(rd).read_to_end(&mut out).unwrap();
            (waitpid(child, None).unwrap(), out)
        }
    }
}

fn send(wr: &OwnedFd, bytes: &[u8]) {
    nix::unistd::write(wr, bytes).unwrap();
}

fn no_new_privs() {
    nix::sys::prctl::set_no_new_privs().unwrap();
}

#[test]
fn kernel_denies_getpid_and_mkdir_with_matching_mode() {
    let p = compile_ok(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [
            {"names": ["getpid"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EACCES,
             "args": [{"index": 1, "value": 0o700, "op": "SCMP_CMP_EQ"}]}
        ]
    }));
    let dir = std::env::temp_dir().join(format!("rt-seccomp-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let refused = CString::new(dir.join("mode700").to_str().unwrap()).unwrap();
    let allowed = CString::new(dir.join("mode755").to_str().unwrap()).unwrap();
    let (status, out) = in_child(|wr| {
        no_new_privs();
        let fd = p.install().unwrap();
        let mut r = Report::default();
        r.record(fd.is_some() as i64);
        // SAFETY (all four): plain syscalls with valid C-string arguments.
        r.record(unsafe { libc::syscall(libc::SYS_getpid) });
        r.record(unsafe { libc::mkdir(refused.as_ptr(), 0o700) } as i64);
        r.record(unsafe { libc::mkdir(allowed.as_ptr(), 0o755) } as i64);
        r.record(unsafe { libc::syscall(libc::SYS_getppid) });
        send(wr, &r.encode());
        0
    });
    assert!(matches!(status, WaitStatus::Exited(_, 0)), "{status:?}");
    let r = Report::decode(&out);
    assert_eq!(r.len(), 5, "child reported {r:?}");
    assert_eq!(r[0], (0, 0), "no notify fd without NOTIFY rules");
    assert_eq!(r[1], (-1, libc::EPERM), "getpid");
    assert_eq!(r[2], (-1, libc::EACCES), "mkdir 0700");
    assert_eq!(r[3], (0, 0), "mkdir 0755");
    assert!(r[4].0 > 0, "getppid allowed: {:?}", r[4]);
    assert!(!dir.join("mode700").exists());
    assert!(dir.join("mode755").is_dir());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn kernel_docker_profile_runs_busybox_uname_and_refuses_unshare() {
    let busybox = std::path::Path::new("/bin/busybox");
    assert!(
        busybox.exists(),
        "test needs busybox-static at /bin/busybox"
    );
    let p = compile(&super::docker::docker_profile()).unwrap();
    let prog = CString::new("/bin/busybox").unwrap();
    let argv = [
        CString::new("busybox").unwrap(),
        CString::new("uname").unwrap(),
        CString::new("-s").unwrap(),
    ];
    let (status, out) = in_child(|wr| {
        no_new_privs();
        p.install().unwrap();
        let mut r = Report::default();
        // SAFETY (all): raw syscalls with integer arguments only.
        r.record(unsafe { libc::unshare(libc::CLONE_NEWUSER) } as i64);
        r.record(unsafe { libc::unshare(libc::CLONE_NEWNS) } as i64);
        r.record(unsafe { libc::syscall(libc::SYS_clone3, 0usize, 0usize) });
        r.record(unsafe { libc::socket(libc::AF_VSOCK, libc::SOCK_STREAM, 0) } as i64);
        r.record(unsafe { libc::syscall(libc::SYS_getpid) });
        send(wr, &r.encode());
        nix::unistd::dup2_stdout(wr).unwrap();
        let _ = nix::unistd::execv(&prog, &argv);
        127
    });
    let (report, uname) = out.split_at(5 * 12);
    let r = Report::decode(report);
    assert_eq!(r[0], (-1, libc::EPERM), "unshare(CLONE_NEWUSER)");
    assert_eq!(r[1], (-1, libc::EPERM), "unshare(CLONE_NEWNS)");
    assert_eq!(r[2], (-1, libc::ENOSYS), "clone3");
    assert_eq!(r[3], (-1, libc::EPERM), "socket(AF_VSOCK)");
    assert!(r[4].0 > 0, "getpid allowed: {:?}", r[4]);
    assert!(
        matches!(status, WaitStatus::Exited(_, 0)),
        "busybox uname under the filter: {status:?}"
    );
    assert_eq!(String::from_utf8_lossy(uname), "Linux\n");
}

#[test]
fn kernel_notify_hands_out_a_working_listener() {
    let p = compile_ok(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
        "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_NOTIFY"}]
    }));
    let (status, out) = in_child(|wr| {
        no_new_privs();
        let listener = p.install().unwrap().expect("listener fd");
        let mut r = Report::default();
        let link = std::fs::read_link(format!("/proc/self/fd/{}", listener.as_raw_fd())).unwrap();
        r.record((link.to_str() == Some("anon_inode:seccomp notify")) as i64);
        // A second thread makes the notified syscall; we answer EOPNOTSUPP.
        let caller = std::thread::spawn(|| {
            let mut buf = [0u8; 256];
            // SAFETY: getcwd(2) into a local buffer of the given size.
            let ret = unsafe { libc::syscall(libc::SYS_getcwd, buf.as_mut_ptr(), buf.len()) };
            (ret, nix::errno::Errno::last_raw())
        });
        // SAFETY: SECCOMP_IOCTL_NOTIF_RECV fills a zeroed seccomp_notif (all
        // zero is a valid value of this plain C struct, and the kernel
        // requires it zeroed).
        let notif = unsafe {
            let mut n: libc::seccomp_notif = std::mem::zeroed();
            let ret = libc::ioctl(
                listener.as_raw_fd(),
                libc::SECCOMP_IOCTL_NOTIF_RECV as _,
                &mut n,
            );
            r.record(ret as i64);
            n
        };
        r.record(i64::from(notif.data.nr));
        let mut resp = libc::seccomp_notif_resp {
            id: notif.id,
            val: 0,
            error: -libc::EOPNOTSUPP,
            flags: 0,
        };
        // SAFETY: SECCOMP_IOCTL_NOTIF_SEND reads the response struct.
        r.record(unsafe {
            libc::ioctl(
                listener.as_raw_fd(),
                libc::SECCOMP_IOCTL_NOTIF_SEND as _,
                &mut resp,
            )
        } as i64);
        let (ret, errno) = caller.join().unwrap();
        r.0.push((ret, errno));
        send(wr, &r.encode());
        0
    });
    assert!(matches!(status, WaitStatus::Exited(_, 0)), "{status:?}");
    let r = Report::decode(&out);
    assert_eq!(r.len(), 5, "{r:?}");
    assert_eq!(r[0].0, 1, "fd is a seccomp notify inode");
    assert_eq!(r[1], (0, 0), "NOTIF_RECV");
    assert_eq!(r[2].0, libc::SYS_getcwd, "notified syscall");
    assert_eq!(r[3], (0, 0), "NOTIF_SEND");
    assert_eq!(
        r[4],
        (-1, libc::EOPNOTSUPP),
        "the caller got the listener's answer"
    );
}

#[test]
fn kernel_accepts_log_spec_allow_and_tsync() {
    let p = compile_ok(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC"],
        "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EIO}]
    }));
    assert_eq!(
        p.flags(),
        libc::SECCOMP_FILTER_FLAG_LOG
            | libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW
            | libc::SECCOMP_FILTER_FLAG_TSYNC
    );
    let (status, out) = in_child(|wr| {
        no_new_privs();
        let mut r = Report::default();
        r.record(p.install().map(|fd| fd.is_some() as i64).unwrap_or(-100));
        // SAFETY: getpid(2) has no arguments.
        r.record(unsafe { libc::syscall(libc::SYS_getpid) });
        send(wr, &r.encode());
        0
    });
    assert!(matches!(status, WaitStatus::Exited(_, 0)), "{status:?}");
    assert_eq!(Report::decode(&out), vec![(0, 0), (-1, libc::EIO)]);
}

#[test]
fn kernel_flag_probe_tells_known_from_unknown() {
    assert!(kernel_knows_flag(libc::SECCOMP_FILTER_FLAG_LOG));
    assert!(kernel_knows_flag(libc::SECCOMP_FILTER_FLAG_TSYNC));
    // seccomp(2) takes flags as an unsigned int: probe a high bit of it.
    assert!(!kernel_knows_flag(1 << 20));
}

/// getpid through the i386 entry point (`int 0x80`, i386 number 20), with
/// 0xdeadbeef in its (ignored) second argument register: the kernel reports
/// AUDIT_ARCH_I386 for it even from a 64-bit process.
fn i386_getpid() -> i64 {
    let ret: i32;
    // SAFETY: int 0x80 with eax = 20 is i386 getpid(2): it ignores its
    // arguments and touches no memory; only eax (the result) changes.
    unsafe {
        std::arch::asm!("int 0x80", inlateout("eax") 20i32 => ret, in("ecx") 0xdead_beef_u32, options(nostack))
    };
    i64::from(ret)
}

#[test]
fn kernel_i386_syscalls_follow_the_i386_section_or_are_killed() {
    // Without a filter: is the i386 ABI enabled in this kernel at all?
    let (status, out) = in_child(|wr| {
        send(wr, &i386_getpid().to_le_bytes());
        0
    });
    assert!(matches!(status, WaitStatus::Exited(_, 0)));
    if i64::from_le_bytes(out[..8].try_into().unwrap()) < 0 {
        eprintln!("kernel without ia32 emulation: i386 path not testable here");
        return;
    }
    // i386 listed: its own rules apply (i386 getpid denied, x86_64 getpid not).
    let listed = compile_ok(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
        "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EXDEV,
                      "args": [{"index": 1, "value": 0xdead_beef_u32, "op": "SCMP_CMP_EQ"}]}]
    }));
    let (status, out) = in_child(|wr| {
        no_new_privs();
        listed.install().unwrap();
        let mut r = Report::default();
        r.0.push((i386_getpid(), 0));
        send(wr, &r.encode());
        0
    });
    assert!(matches!(status, WaitStatus::Exited(_, 0)), "{status:?}");
    assert_eq!(
        Report::decode(&out)[0].0,
        -i64::from(libc::EXDEV),
        "i386 getpid refused by the i386 rule"
    );

    // i386 not listed: the syscall must not get through, the thread dies.
    let unlisted = compile_ok(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": []
    }));
    let (status, _) = in_child(|wr| {
        no_new_privs();
        unlisted.install().unwrap();
        send(wr, &i386_getpid().to_le_bytes());
        0
    });
    assert!(
        matches!(
            status,
            WaitStatus::Signaled(_, nix::sys::signal::Signal::SIGSYS, _)
        ),
        "i386 syscall under an x86_64-only filter: {status:?}"
    );
}
