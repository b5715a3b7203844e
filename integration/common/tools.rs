//! Helpers for tests that drive real callers of the runtime (podman,
//! dockerd, buildah): finding their binaries, skipping without them, and
//! cleaning up the daemons, monitors and mounts they leave.

use super::bundle::populate_rootfs;
use super::exec::{command, default_timeout, run_logged};
use super::path;
use std::fs;
use std::path::{Path, PathBuf};

pub fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
}

/// True (and prints why) when one of `tools` is missing: these tests skip
/// rather than fail on machines without the caller; CI installs them
/// (hack/deps.sh).
pub fn skip_without(test: &str, tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools.iter().copied().filter(|t| !which(t)).collect();
    if missing.is_empty() {
        return false;
    }
    eprintln!(
        "note: skipping {test}: {} not installed (hack/deps.sh installs it)",
        missing.join(", ")
    );
    true
}

/// Pids of processes (other than this one) whose argv contains `needle`,
/// e.g. a temp dir only our daemons and monitors were given.
pub fn pids_with_arg_containing(needle: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    let mut pids = Vec::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        if String::from_utf8_lossy(&cmdline).contains(needle) {
            pids.push(pid);
        }
    }
    pids
}

/// SIGKILLs every process whose argv contains `needle`.
pub fn kill_processes_with_arg(needle: &str) {
    for pid in pids_with_arg_containing(needle) {
        // SAFETY: kill(2) of a process started for this test (its argv
        // names the test's private temp dir).
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

/// Detaches every mount at or below `dir` (deepest first) in this mount
/// namespace: what a caller mounted for its containers and did not undo.
pub fn unmount_under(dir: &Path) {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut mounts: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(PathBuf::from)
        .filter(|m| m.starts_with(dir))
        .collect();
    mounts.sort_by_key(|m| std::cmp::Reverse(m.components().count()));
    for m in mounts {
        let Ok(c) = std::ffi::CString::new(m.as_os_str().as_encoded_bytes()) else {
            continue;
        };
        // SAFETY: detaching a mount below the test's own temp dir.
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    }
}

/// A tarball of the busybox test rootfs (users root, daemon, tester 1000,
/// nobody 65534), for `podman import` and friends.
pub fn busybox_rootfs_tar(dir: &Path) -> PathBuf {
    let rootfs = dir.join("image-rootfs");
    populate_rootfs(&rootfs);
    let tar = dir.join("busybox-rootfs.tar");
    let mut cmd = command("tar");
    cmd.args([
        "--numeric-owner",
        "-C",
        path(&rootfs),
        "-cf",
        path(&tar),
        ".",
    ]);
    let out = run_logged(cmd, dir, default_timeout());
    assert!(out.success(), "tar of the rootfs failed:\n{}", out.stderr);
    tar
}
