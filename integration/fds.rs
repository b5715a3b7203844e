//! File descriptors: inherited fds must not leak into the container, and
//! `--preserve-fds N` passes exactly fds 3..3+N.

use crate::common::*;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::Command;

/// Makes `file` appear as fd `target` (not close-on-exec) in the child.
fn with_fd(cmd: &mut Command, file: &File, target: i32) {
    let src = file.as_raw_fd();
    // SAFETY: dup2 is async-signal-safe; `src` stays open in the parent
    // until the child has exec'ed (the File outlives the spawn).
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(src, target) < 0 {
                return Err(std::io::Error::last_os_error());
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
    with_fd(&mut cmd, &extra, 5);
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
    with_fd(&mut create, &extra, 5);
    let created = ctx.exec(create);
    created.ok();
    let mut start = ctx.rt_command(&["start", &id]);
    with_fd(&mut start, &extra, 6);
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
    with_fd(&mut cmd, &file, 3);
    with_fd(&mut cmd, &leak, 4);
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
