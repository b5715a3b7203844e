//! File descriptors: inherited fds must not leak into the container, and
//! `--preserve-fds N` passes exactly fds 3..3+N.

use crate::common::*;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::Command;

/// Makes each file appear at its target fd (not close-on-exec) in the child.
pub(crate) fn with_fds(cmd: &mut Command, files: &[(&File, i32)]) {
    let pairs: Vec<(i32, i32)> = files.iter().map(|(f, t)| (f.as_raw_fd(), *t)).collect();
    assert!(pairs.len() <= 8, "with_fds handles up to 8 fds");
    // SAFETY: only fcntl/dup2/close (async-signal-safe) run in the child; the
    // Files outlive the spawn. Sources are first copied above 100 so that a
    // source equal to some target (dup2 would be a no-op that keeps
    // FD_CLOEXEC) or overwritten by an earlier dup2 cannot happen.
    unsafe {
        cmd.pre_exec(move || {
            let mut high = [0i32; 8];
            for (i, (src, _)) in pairs.iter().enumerate() {
                high[i] = libc::fcntl(*src, libc::F_DUPFD_CLOEXEC, 100);
                if high[i] < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            for (i, (_, target)) in pairs.iter().enumerate() {
                if libc::dup2(high[i], *target) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(high[i]);
            }
            Ok(())
        });
    }
}

fn fd_list(out: &str) -> Vec<u32> {
    let mut fds: Vec<u32> = out
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect();
    fds.sort();
    fds
}

#[test]
fn inherited_fds_do_not_leak_into_the_container() {
    let ctx = TestCtx::new("fds::no_leak");
    let extra = File::open("/etc/hostname")
        .or_else(|_| File::open("/etc/passwd"))
        .unwrap();

    // run: the runtime itself holds fd 5.
    let mut b = ctx.bundle();
    b.args(&["ls", "/proc/self/fd"]);
    let id = ctx.id("leakrun");
    ctx.prepare(&mut b, &id);
    let mut cmd = ctx.rt_command(&["run", "-b", path(&b.dir), &id]);
    with_fds(&mut cmd, &[(&extra, 5)]);
    let out = ctx.exec(cmd);
    out.ok();
    // fd 3 is the directory `ls` opened itself.
    assert_eq!(
        fd_list(&out.stdout),
        [0, 1, 2, 3],
        "leaked fds: {}",
        out.stdout
    );
    ctx.assert_nothing_left(&id);

    // create + start: each invocation holds an extra fd.
    let mut b = ctx.bundle();
    b.args(&["ls", "/proc/self/fd"]);
    let id = ctx.id("leakcreate");
    ctx.prepare(&mut b, &id);
    let mut create = ctx.rt_command(&["create", "-b", path(&b.dir), &id]);
    with_fds(&mut create, &[(&extra, 5)]);
    let created = ctx.exec(create);
    created.ok();
    let mut start = ctx.rt_command(&["start", &id]);
    with_fds(&mut start, &[(&extra, 6)]);
    ctx.exec(start).ok();
    ctx.wait_status(&id, "stopped");
    assert_eq!(
        fd_list(&created.stdout_now()),
        [0, 1, 2, 3],
        "leaked fds: {}",
        created.stdout_now()
    );
    ctx.delete(&id).ok();
    ctx.assert_nothing_left(&id);
}

#[test]
fn preserve_fds_passes_fd_3() {
    let ctx = TestCtx::new("fds::preserve");
    let payload = ctx.dir.join("payload");
    std::fs::write(&payload, "preserved-content\n").unwrap();
    let file = File::open(&payload).unwrap();
    let leak = File::open(&payload).unwrap();
    let mut b = ctx.bundle();
    b.sh("cat <&3; ls /proc/self/fd | tr '\\n' ' '");
    let id = ctx.id("keep3");
    ctx.prepare(&mut b, &id);
    let mut cmd = ctx.rt_command(&["run", "--preserve-fds", "1", "-b", path(&b.dir), &id]);
    with_fds(&mut cmd, &[(&file, 3), (&leak, 4)]);
    let out = ctx.exec(cmd);
    out.ok();
    let mut lines = out.stdout.lines();
    assert_eq!(lines.next(), Some("preserved-content"));
    // 0-2, the preserved 3, and the dir fd `ls` opens (4); not the extra fd 4.
    assert_eq!(
        fd_list(lines.next().unwrap_or("")),
        [0, 1, 2, 3, 4],
        "{}",
        out.stdout
    );
    ctx.assert_nothing_left(&id);
}
