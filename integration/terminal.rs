//! `process.terminal` with `--console-socket`: the runtime sends exactly one
//! pty master fd (SCM_RIGHTS) plus a name payload, then the test drives the
//! shell through it.

use crate::common::*;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::time::Duration;

pub(crate) struct Received {
    pub(crate) name: Vec<u8>,
    pub(crate) fds: Vec<OwnedFd>,
    pub(crate) cmsgs: usize,
}

/// Accepts one connection and reads one message with its SCM_RIGHTS fds.
pub(crate) fn receive_console(listener: &UnixListener) -> Received {
    let (conn, _) = listener
        .accept()
        .expect("runtime never connected to the console socket");
    let mut name = vec![0u8; 4096];
    // Room for several fds, so a runtime sending too many is detected.
    let mut control = vec![0u8; 256];
    let mut iov = libc::iovec {
        iov_base: name.as_mut_ptr().cast(),
        iov_len: name.len(),
    };
    // SAFETY: msghdr is plain data; all pointers refer to live buffers above.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = control.len();
    // SAFETY: recvmsg on a connected socket with valid buffers.
    let n = unsafe { libc::recvmsg(conn.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
    assert!(n >= 0, "recvmsg: {}", std::io::Error::last_os_error());
    assert_eq!(
        msg.msg_flags & libc::MSG_CTRUNC,
        0,
        "control data truncated"
    );
    name.truncate(n as usize);
    let mut fds = Vec::new();
    let mut cmsgs = 0;
    // SAFETY: walking the control buffer the kernel just filled, with the
    // CMSG_* macros that bound every access by msg_controllen.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            cmsgs += 1;
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(cmsg) as *const i32;
                let count =
                    ((*cmsg).cmsg_len as usize - libc::CMSG_LEN(0) as usize) / size_of::<i32>();
                for i in 0..count {
                    fds.push(OwnedFd::from_raw_fd(data.add(i).read_unaligned()));
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Received { name, fds, cmsgs }
}

fn is_pty_master(fd: &OwnedFd) -> bool {
    let mut n: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes one unsigned int; fails on non-masters.
    unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGPTN, &mut n) == 0 }
}

#[test]
fn console_socket_receives_pty_master_and_drives_shell() {
    let ctx = TestCtx::new("terminal::console_socket");
    let sock = ctx.dir.join("console.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let mut b = ctx.bundle();
    b.terminal(true).args(&["sh"]);
    let id = ctx.id("tty");
    ctx.prepare(&mut b, &id);

    let (created, received) = std::thread::scope(|s| {
        let receiver = s.spawn(|| receive_console(&listener));
        let created = ctx.rt(&[
            "create",
            "--console-socket",
            path(&sock),
            "-b",
            path(&b.dir),
            &id,
        ]);
        if !created.success() {
            // Unblock accept() so the scope can end, then report.
            let _ = std::os::unix::net::UnixStream::connect(&sock);
            created.ok();
        }
        (created, receiver.join().unwrap())
    });
    created.ok();
    assert_eq!(received.cmsgs, 1, "expected exactly one control message");
    assert_eq!(received.fds.len(), 1, "expected exactly one fd");
    assert!(!received.name.is_empty(), "name payload is empty");
    assert!(received.name.len() < 4096);
    let master_fd = received.fds.into_iter().next().unwrap();
    assert!(is_pty_master(&master_fd), "received fd is not a pty master");
    let mut master = File::from(master_fd);

    ctx.start(&id).ok();
    master.write_all(b"tty; echo hi-$((40+2)); exit\n").unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = [0u8; 4096];
        // Ends with EIO once the last slave fd closes.
        while let Ok(n) = master.read(&mut buf) {
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&all).into_owned()
    });
    ctx.wait_status(&id, "stopped");
    assert!(
        wait_until(Duration::from_secs(5), || reader.is_finished()),
        "pty master never reached EOF"
    );
    let output = reader.join().unwrap();
    assert!(
        output.contains("hi-42"),
        "shell output not received through the pty:\n{output:?}"
    );
    assert!(
        output
            .lines()
            .any(|l| matches!(l.trim(), "/dev/pts/0" | "/dev/console")),
        "`tty` inside should name the pty:\n{output:?}"
    );
    ctx.delete(&id).ok();
    ctx.assert_nothing_left(&id);
}

#[test]
fn terminal_without_console_socket_is_an_error_for_create() {
    let ctx = TestCtx::new("terminal::no_socket");
    let mut b = ctx.bundle();
    b.terminal(true).args(&["sh"]);
    let id = ctx.id("nosock");
    let out = ctx.create(&mut b, &id);
    out.fails_with(1);
    assert!(
        out.stderr.contains("console socket") || out.stderr.contains("console-socket"),
        "error should mention the console socket: {}",
        out.stderr
    );
    ctx.assert_nothing_left(&id);
}

/// Runs `cmd` with a new pty as its controlling terminal and stdio (what a
/// person at a terminal gives it), types `input`, and returns everything
/// it printed and its exit code.
fn run_on_a_terminal(mut cmd: std::process::Command, input: &[u8]) -> (String, Option<i32>) {
    use std::os::unix::process::CommandExt;
    let (mut master_fd, mut slave_fd) = (-1, -1);
    // SAFETY: openpty fills two ints; no name, termios or winsize given.
    let rc = unsafe {
        libc::openpty(
            &mut master_fd,
            &mut slave_fd,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: fresh fds from openpty, owned from here on.
    let (master, slave) = unsafe {
        (
            OwnedFd::from_raw_fd(master_fd),
            OwnedFd::from_raw_fd(slave_fd),
        )
    };
    cmd.stdin(slave.try_clone().unwrap())
        .stdout(slave.try_clone().unwrap())
        .stderr(slave.try_clone().unwrap());
    // SAFETY: setsid and the TIOCSCTTY ioctl on fd 0 are async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("spawn on the pty");
    // Only the child may hold the slave now, or the master never sees EOF.
    let argv = format!("{cmd:?}");
    drop(cmd);
    drop(slave);
    let mut master = File::from(master);
    master.write_all(input).unwrap();
    let mut reader = master.try_clone().unwrap();
    let output = std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = [0u8; 4096];
        // EIO once the child and everything it left on the pty are gone.
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&all).into_owned()
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{argv} on a terminal timed out");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(
        wait_until(Duration::from_secs(5), || output.is_finished()),
        "the terminal never reached EOF after {argv} exited"
    );
    drop(master);
    (output.join().unwrap(), status.code())
}

/// `exec -t` from a terminal without --console-socket: rt gives the
/// process a pty of its own and copies between it and rt's terminal, as
/// runc does; the pty belongs to the process's user, not to root.
#[test]
fn exec_tty_without_console_socket_proxies_the_callers_terminal() {
    let ctx = TestCtx::new("terminal::exec_proxy");
    let mut b = ctx.bundle();
    b.args(&["sleep", "1000"]);
    let id = ctx.id("execpty");
    ctx.create(&mut b, &id).ok();
    ctx.start(&id).ok();
    let cmd = ctx.rt_command(&["exec", "-t", "-u", "1000", &id, "sh"]);
    let (out, code) = run_on_a_terminal(
        cmd,
        b"tty; echo hi-$((40+2)); ls -ln $(tty); read x; echo got-$x; exit 3\nfrom-keyboard\n",
    );
    assert_eq!(code, Some(3), "exit status of the shell; output:\n{out}");
    assert!(out.contains("hi-42"), "no shell output:\n{out}");
    assert!(
        out.contains("got-from-keyboard"),
        "input not passed on:\n{out}"
    );
    let pty = out
        .lines()
        .find(|l| l.trim_start().starts_with("crw"))
        .unwrap_or_else(|| panic!("no `ls -ln` of the tty:\n{out}"));
    let owner: Vec<&str> = pty.split_whitespace().skip(2).take(2).collect();
    assert_eq!(owner, ["1000", "5"], "pty owner uid, gid: {pty}");
    // Detached, nobody could hold the terminal: refused as runc does.
    ctx.rt(&["exec", "-t", "-d", &id, "true"])
        .fails_with(255)
        .stderr_has("console socket");
    ctx.delete_force(&id).ok();
    ctx.assert_nothing_left(&id);
}

/// The init's console too belongs to the process's user.
#[test]
fn console_pty_belongs_to_the_process_user() {
    let ctx = TestCtx::new("terminal::console_owner");
    let mut b = ctx.bundle();
    b.terminal(true).user(1000, 1000, &[]).sh("ls -ln $(tty)");
    let id = ctx.id("ttyowner");
    ctx.prepare(&mut b, &id);
    let cmd = ctx.rt_command(&["run", "-b", path(&b.dir), &id]);
    let (out, code) = run_on_a_terminal(cmd, b"");
    assert_eq!(code, Some(0), "output:\n{out}");
    let pty = out
        .lines()
        .find(|l| l.trim_start().starts_with("crw"))
        .unwrap_or_else(|| panic!("no `ls -ln` of the tty:\n{out}"));
    let owner: Vec<&str> = pty.split_whitespace().skip(2).take(2).collect();
    assert_eq!(owner, ["1000", "5"], "pty owner uid, gid: {pty}");
    ctx.assert_nothing_left(&id);
}
