//! Thin, checked wrappers around the raw syscalls rt needs. Every `unsafe`
//! block of the runtime lives here or next to a syscall it wraps, each with
//! the reason it is sound.

use crate::error::{Error, Result};
use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

pub fn cstr(s: impl AsRef<[u8]>) -> Result<CString> {
    CString::new(s.as_ref().to_vec()).map_err(|_| Error::new("path contains a NUL byte"))
}

/// Reads a file of proc, sysfs or cgroupfs. Their size reads as 0, so
/// std's read_to_string probes with 32 bytes and doubles: eight reads for
/// a mountinfo; a page-sized first read takes such files whole.
pub fn read_virtual(path: impl AsRef<Path>) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::with_capacity(8192);
    std::fs::File::open(path)?.read_to_string(&mut text)?;
    Ok(text)
}

pub fn cpath(p: &Path) -> Result<CString> {
    use std::os::unix::ffi::OsStrExt;
    cstr(p.as_os_str().as_bytes())
}

fn check(rc: libc::c_long) -> nix::Result<libc::c_long> {
    if rc < 0 {
        Err(nix::Error::last())
    } else {
        Ok(rc)
    }
}

/// `clone3` arguments (include/uapi/linux/sched.h).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

pub const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// clone_process straight into the cgroup2 directory `cgroup_fd` when
/// there is one, else (or where the kernel refuses it: before 5.7, or a
/// cgroup that cannot take the process) a plain clone. Returns the result
/// and whether the child was born in that cgroup.
pub fn clone_process_into(flags: u64, cgroup_fd: Option<RawFd>) -> (nix::Result<i32>, bool) {
    if cgroup_fd.is_some() {
        let r = clone_process(flags, cgroup_fd);
        if r.is_ok() {
            return (r, true);
        }
    }
    (clone_process(flags, None), false)
}

/// Forks like fork(2) but into new namespaces (and optionally straight into
/// a cgroup2 directory). Returns 0 in the child, the child's pid in the
/// parent. rt is single-threaded, so the child may allocate freely.
pub fn clone_process(flags: u64, cgroup_fd: Option<RawFd>) -> nix::Result<i32> {
    let mut args = CloneArgs {
        flags,
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    if let Some(fd) = cgroup_fd {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd as u64;
    }
    // SAFETY: clone3 with no stack behaves like fork: the child gets a
    // copy-on-write copy of our single-threaded address space. `args` lives
    // for the duration of the call and its size is passed.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if rc < 0 {
        let err = nix::Error::last();
        if err == nix::Error::ENOSYS && cgroup_fd.is_none() {
            // Kernels before 5.3: the classic clone with the same flags.
            // SAFETY: as above, fork semantics (null stack, SIGCHLD).
            let rc = unsafe {
                libc::syscall(
                    libc::SYS_clone,
                    (flags as libc::c_ulong) | libc::SIGCHLD as libc::c_ulong,
                    0,
                    0,
                    0,
                    0,
                )
            };
            return check(rc).map(|r| r as i32);
        }
        return Err(err);
    }
    Ok(rc as i32)
}

/// Like `clone_process`, but the child becomes a child of our parent
/// (CLONE_PARENT) and we get a pidfd of it, which stays valid once we are
/// gone. Returns (0, None) in the child.
pub fn clone_sibling(flags: u64) -> nix::Result<(i32, Option<OwnedFd>)> {
    const CLONE_PIDFD: u64 = 0x1000;
    let mut pidfd: RawFd = -1;
    let mut args = CloneArgs {
        flags: flags | libc::CLONE_PARENT as u64 | CLONE_PIDFD,
        pidfd: &mut pidfd as *mut RawFd as u64,
        // Ignored with CLONE_PARENT: the child signals our parent as we do.
        exit_signal: 0,
        ..Default::default()
    };
    // SAFETY: fork semantics as in clone_process; `args` and `pidfd` live
    // for the duration of the call and the size of `args` is passed.
    let rc = check(unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    })?;
    if rc == 0 {
        return Ok((0, None));
    }
    // SAFETY: the kernel stored a fresh pidfd (close-on-exec) for us.
    Ok((rc as i32, Some(unsafe { OwnedFd::from_raw_fd(pidfd) })))
}

/// The pid (in our pid namespace) of the process a pidfd refers to.
pub fn pidfd_pid(pidfd: &impl AsRawFd) -> Result<i32> {
    let info = read_virtual(format!("/proc/self/fdinfo/{}", pidfd.as_raw_fd()))
        .map_err(|e| Error::from(e).context("read pidfd fdinfo"))?;
    info.lines()
        .find_map(|l| l.strip_prefix("Pid:"))
        .and_then(|v| v.trim().parse().ok())
        .filter(|p: &i32| *p > 0)
        .ok_or_else(|| Error::new("pidfd of a process that is gone"))
}

pub fn pidfd_open(pid: i32) -> nix::Result<OwnedFd> {
    // SAFETY: plain syscall with integer arguments.
    let rc = check(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })?;
    // SAFETY: on success the kernel returned a new fd we now own.
    Ok(unsafe { OwnedFd::from_raw_fd(rc as RawFd) })
}

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

pub const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
pub const RESOLVE_IN_ROOT: u64 = 0x10;

/// openat2(2). Returns ENOSYS on old kernels (callers fall back).
pub fn openat2(
    dir: RawFd,
    path: &CStr,
    flags: i32,
    mode: u32,
    resolve: u64,
) -> nix::Result<OwnedFd> {
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: mode as u64,
        resolve,
    };
    // SAFETY: `path` is NUL-terminated, `how` is a valid open_how whose size
    // is passed; the result is a new fd or -1.
    let rc = check(unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir,
            path.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    })?;
    // SAFETY: a fresh fd returned by the kernel.
    Ok(unsafe { OwnedFd::from_raw_fd(rc as RawFd) })
}

pub fn openat(dir: RawFd, path: &CStr, flags: i32, mode: u32) -> nix::Result<OwnedFd> {
    // SAFETY: NUL-terminated path; returns a new fd or -1.
    let rc = unsafe { libc::openat(dir, path.as_ptr(), flags | libc::O_CLOEXEC, mode) };
    if rc < 0 {
        return Err(nix::Error::last());
    }
    // SAFETY: a fresh fd returned by the kernel.
    Ok(unsafe { OwnedFd::from_raw_fd(rc) })
}

/// The path through which the kernel reaches an open fd; mounting onto it
/// mounts onto exactly the inode we opened and checked.
pub fn fd_path(fd: &impl AsRawFd) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

pub fn mount(
    src: Option<&str>,
    target: &str,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> nix::Result<()> {
    let src = src.map(|s| CString::new(s).unwrap_or_default());
    let target = CString::new(target).unwrap_or_default();
    let fstype = fstype.map(|s| CString::new(s).unwrap_or_default());
    let data = data
        .filter(|d| !d.is_empty())
        .map(|s| CString::new(s).unwrap_or_default());
    let p = |c: &Option<CString>| c.as_ref().map(|c| c.as_ptr()).unwrap_or(std::ptr::null());
    // SAFETY: every pointer is NUL-terminated or null, as mount(2) allows.
    let rc = unsafe {
        libc::mount(
            p(&src),
            target.as_ptr(),
            p(&fstype),
            flags,
            p(&data) as *const libc::c_void,
        )
    };
    if rc < 0 {
        Err(nix::Error::last())
    } else {
        Ok(())
    }
}

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// mount_setattr(2) with AT_RECURSIVE on the mount at `target` (an fd path).
pub fn mount_setattr_recursive(dirfd: RawFd, attr_set: u64, attr_clr: u64) -> nix::Result<()> {
    let attr = MountAttr {
        attr_set,
        attr_clr,
        propagation: 0,
        userns_fd: 0,
    };
    let empty = c"";
    // SAFETY: empty path with AT_EMPTY_PATH acts on `dirfd`; `attr` is valid
    // for the call and its size is passed.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            dirfd,
            empty.as_ptr(),
            (libc::AT_EMPTY_PATH | libc::AT_RECURSIVE) as libc::c_uint,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    check(rc).map(|_| ())
}

pub fn setns(fd: RawFd, nstype: i32) -> nix::Result<()> {
    // SAFETY: setns on an fd; no memory involved.
    check(unsafe { libc::setns(fd, nstype) } as libc::c_long).map(|_| ())
}

pub fn unshare(flags: i32) -> nix::Result<()> {
    // SAFETY: no memory involved.
    check(unsafe { libc::unshare(flags) } as libc::c_long).map(|_| ())
}

/// symlinkat(2): a link `name` in the directory `dir`, pointing at `target`.
pub fn symlinkat(target: &CStr, dir: RawFd, name: &CStr) -> nix::Result<()> {
    // SAFETY: NUL-terminated strings; `name` relative to the fd `dir`.
    check(unsafe { libc::symlinkat(target.as_ptr(), dir, name.as_ptr()) } as libc::c_long)
        .map(|_| ())
}

pub fn pivot_root(new_root: &CStr, put_old: &CStr) -> nix::Result<()> {
    // SAFETY: NUL-terminated paths.
    check(unsafe { libc::syscall(libc::SYS_pivot_root, new_root.as_ptr(), put_old.as_ptr()) })
        .map(|_| ())
}

/// close_range(first, ~0, CLOSE_RANGE_CLOEXEC) and nothing else: it does
/// not allocate, so it may run between fork and exec (`pre_exec`).
pub fn cloexec_range_from(first: u32) -> std::io::Result<()> {
    // SAFETY: close_range only changes fd flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Marks every fd from `first` up close-on-exec (close_range(2)), falling
/// back to walking /proc/self/fd on kernels without CLOSE_RANGE_CLOEXEC.
pub fn cloexec_from(first: u32) {
    if cloexec_range_from(first).is_ok() {
        return;
    }
    if let Ok(rd) = std::fs::read_dir("/proc/self/fd") {
        let fds: Vec<i32> = rd
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .collect();
        for fd in fds.into_iter().filter(|fd| *fd >= first as i32) {
            // SAFETY: setting FD_CLOEXEC on an fd number; harmless if closed.
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
    }
}

pub fn prctl(option: i32, arg: libc::c_ulong) -> nix::Result<()> {
    // SAFETY: integer-only prctl options.
    check(unsafe { libc::prctl(option, arg, 0, 0, 0) } as libc::c_long).map(|_| ())
}

pub fn set_dumpable(on: bool) -> nix::Result<()> {
    prctl(libc::PR_SET_DUMPABLE, on as libc::c_ulong)
}

/// SCM_RIGHTS: sends `fd` with `payload` over a connected unix socket.
pub fn send_fd(sock: RawFd, payload: &[u8], fd: RawFd) -> nix::Result<()> {
    use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
    let iov = [std::io::IoSlice::new(payload)];
    let fds = [fd];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    sendmsg::<()>(sock, &iov, &cmsg, MsgFlags::empty(), None).map(|_| ())
}

/// Most fds `send_fds` sends and `recv_fds` takes in one datagram.
pub const MAX_FDS_PER_DATAGRAM: usize = 32;

/// Sends `fds` (at most MAX_FDS_PER_DATAGRAM) with SCM_RIGHTS in one
/// datagram; an empty list sends the payload alone.
pub fn send_fds(sock: RawFd, payload: &[u8], fds: &[RawFd]) -> nix::Result<()> {
    use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
    if fds.len() > MAX_FDS_PER_DATAGRAM {
        return Err(nix::Error::E2BIG);
    }
    let iov = [std::io::IoSlice::new(payload)];
    let cmsg = [ControlMessage::ScmRights(fds)];
    let cmsg: &[ControlMessage] = if fds.is_empty() { &[] } else { &cmsg };
    sendmsg::<()>(sock, &iov, cmsg, MsgFlags::empty(), None).map(|_| ())
}

/// Receives the fds of one `send_fds` datagram (close-on-exec), in order.
pub fn recv_fds(sock: RawFd) -> nix::Result<Vec<OwnedFd>> {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
    let mut buf = [0u8; 64];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; MAX_FDS_PER_DATAGRAM]);
    let msg = recvmsg::<()>(sock, &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)?;
    let mut out = Vec::new();
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            // SAFETY: the kernel just installed these fds for us.
            out.extend(fds.iter().map(|fd| unsafe { OwnedFd::from_raw_fd(*fd) }));
        }
    }
    if msg.bytes == 0 {
        // The other side closed the channel.
        return Err(nix::Error::ECONNRESET);
    }
    Ok(out)
}

pub fn write_all(fd: RawFd, mut data: &[u8]) -> nix::Result<()> {
    while !data.is_empty() {
        // SAFETY: `data` is a valid buffer of the given length.
        let n = unsafe { libc::write(fd, data.as_ptr() as *const libc::c_void, data.len()) };
        if n < 0 {
            let e = nix::Error::last();
            if e == nix::Error::EINTR {
                continue;
            }
            return Err(e);
        }
        data = &data[n as usize..];
    }
    Ok(())
}

/// Waits for a process to exit using its pidfd (works for processes that
/// are not our children). Returns false on timeout.
pub fn wait_exit(pid: i32, timeout_ms: i32) -> bool {
    let Ok(fd) = pidfd_open(pid) else { return true };
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        // SAFETY: one valid pollfd.
        let rc = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        if rc < 0 && nix::Error::last() == nix::Error::EINTR {
            continue;
        }
        return rc > 0;
    }
}

/// Receives one fd sent with SCM_RIGHTS (and drops the payload).
pub fn recv_fd(sock: RawFd) -> nix::Result<OwnedFd> {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
    let mut buf = [0u8; 4096];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(sock, &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)?;
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(fd) = fds.first() {
                // SAFETY: the kernel just installed this fd for us.
                return Ok(unsafe { OwnedFd::from_raw_fd(*fd) });
            }
        }
    }
    Err(nix::Error::EBADMSG)
}

/// One datagram and the fd it carries, if any (close-on-exec).
pub fn recv_with_fd(sock: RawFd) -> nix::Result<(Vec<u8>, Option<OwnedFd>)> {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
    let mut buf = [0u8; 64];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(sock, &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)?;
    let mut fd = None;
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            for (k, raw) in fds.iter().enumerate() {
                // SAFETY: the kernel just installed these fds for us; the
                // first is kept, any other closed when dropped.
                let owned = unsafe { OwnedFd::from_raw_fd(*raw) };
                if k == 0 && fd.is_none() {
                    fd = Some(owned);
                }
            }
        }
    }
    let n = msg.bytes;
    Ok((buf[..n].to_vec(), fd))
}

/// open_tree(2) with OPEN_TREE_CLONE: a detached bind mount of `path`
/// (followed through magic links such as /proc/self/exe), close-on-exec.
pub fn open_tree_clone(path: &CStr) -> nix::Result<OwnedFd> {
    const OPEN_TREE_CLONE: libc::c_uint = 1;
    // SAFETY: NUL-terminated path; returns a new fd or -1.
    let rc = check(unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            path.as_ptr(),
            OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint,
        )
    })?;
    // SAFETY: a fresh fd returned by the kernel.
    Ok(unsafe { OwnedFd::from_raw_fd(rc as RawFd) })
}

/// open_tree(2) with OPEN_TREE_CLONE of `path`: a detached copy of the
/// mount there (with its submounts when `recursive`), close-on-exec.
/// Symlinks are followed, as mount(2) follows a bind source.
pub fn open_tree_detached(path: &CStr, recursive: bool) -> nix::Result<OwnedFd> {
    const OPEN_TREE_CLONE: libc::c_uint = 1;
    let mut flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint;
    if recursive {
        flags |= libc::AT_RECURSIVE as libc::c_uint;
    }
    // SAFETY: NUL-terminated path; returns a new fd or -1.
    let rc =
        check(unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, path.as_ptr(), flags) })?;
    // SAFETY: a fresh fd returned by the kernel.
    Ok(unsafe { OwnedFd::from_raw_fd(rc as RawFd) })
}

pub const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;

/// mount_setattr(2) with MOUNT_ATTR_IDMAP on the detached mount `fd` (and
/// its submounts when `recursive`): ids are mapped through `userns_fd`.
pub fn mount_setattr_idmap(fd: RawFd, userns_fd: RawFd, recursive: bool) -> nix::Result<()> {
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_IDMAP,
        attr_clr: 0,
        propagation: 0,
        userns_fd: userns_fd as u64,
    };
    let mut flags = libc::AT_EMPTY_PATH as libc::c_uint;
    if recursive {
        flags |= libc::AT_RECURSIVE as libc::c_uint;
    }
    // SAFETY: empty path with AT_EMPTY_PATH acts on `fd`; `attr` is valid
    // for the call and its size is passed.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd,
            c"".as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    check(rc).map(|_| ())
}

/// move_mount(2) of the detached mount `from` onto the file or directory
/// `onto` refers to (an O_PATH fd is enough).
pub fn move_mount_onto(from: RawFd, onto: RawFd) -> nix::Result<()> {
    move_mount(from, onto, c"")
}

/// move_mount(2) of the detached mount `from` onto `name` in the directory
/// `dir` (the final component is not followed if it is a symlink).
pub fn move_mount_into(from: RawFd, dir: RawFd, name: &CStr) -> nix::Result<()> {
    move_mount(from, dir, name)
}

/// move_mount(2) of `from` to `name` under `to`, or to `to` itself when
/// `name` is empty.
fn move_mount(from: RawFd, to: RawFd, name: &CStr) -> nix::Result<()> {
    const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
    const MOVE_MOUNT_T_EMPTY_PATH: libc::c_uint = 0x40;
    let mut flags = MOVE_MOUNT_F_EMPTY_PATH;
    if name.is_empty() {
        flags |= MOVE_MOUNT_T_EMPTY_PATH;
    }
    // SAFETY: the empty source path with F_EMPTY_PATH acts on `from`; the
    // target is `name` (NUL-terminated) relative to `to`, or `to` itself
    // with T_EMPTY_PATH.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from,
            c"".as_ptr(),
            to,
            name.as_ptr(),
            flags,
        )
    };
    check(rc).map(|_| ())
}

/// mount_setattr(2) on the mount `fd` refers to (itself only, not its
/// children); works on detached mounts from open_tree_clone.
pub fn mount_setattr_fd(fd: RawFd, attr_set: u64) -> nix::Result<()> {
    let attr = MountAttr {
        attr_set,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: empty path with AT_EMPTY_PATH acts on `fd`; `attr` is valid
    // for the call and its size is passed.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd,
            c"".as_ptr(),
            libc::AT_EMPTY_PATH as libc::c_uint,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    check(rc).map(|_| ())
}

/// memfd_create(2), close-on-exec, sealable.
pub fn memfd_create_sealable(name: &CStr) -> nix::Result<OwnedFd> {
    // SAFETY: NUL-terminated name; returns a new fd or -1.
    let rc =
        unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
    check(rc as libc::c_long)?;
    // SAFETY: a fresh fd returned by the kernel.
    Ok(unsafe { OwnedFd::from_raw_fd(rc) })
}

/// The seals of a memfd (F_GET_SEALS); EINVAL for files that are not.
pub fn get_seals(fd: RawFd) -> nix::Result<i32> {
    // SAFETY: F_GET_SEALS only reads the fd's seal flags.
    check(unsafe { libc::fcntl(fd, libc::F_GET_SEALS) } as libc::c_long).map(|s| s as i32)
}

pub fn add_seals(fd: RawFd, seals: i32) -> nix::Result<()> {
    // SAFETY: F_ADD_SEALS only changes the fd's seal flags.
    check(unsafe { libc::fcntl(fd, libc::F_ADD_SEALS, seals) } as libc::c_long).map(|_| ())
}

/// Whether the mount `fd` lives on is read-only (fstatvfs ST_RDONLY).
pub fn on_read_only_mount(fd: RawFd) -> nix::Result<bool> {
    // SAFETY: statvfs is plain data; all-zero is a valid value.
    let mut vfs: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: fstatvfs fills the struct we pass for an fd the caller owns.
    check(unsafe { libc::fstatvfs(fd, &mut vfs) } as libc::c_long)?;
    Ok(vfs.f_flag & libc::ST_RDONLY != 0)
}

/// execveat(fd, "", argv, envp, AT_EMPTY_PATH): runs the file `fd` refers
/// to. Returns only on failure.
pub fn execveat_fd(fd: RawFd, argv: &[CString], envp: &[CString]) -> nix::Error {
    let mut argv_ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    let mut envp_ptrs: Vec<*const libc::c_char> = envp.iter().map(|e| e.as_ptr()).collect();
    envp_ptrs.push(std::ptr::null());
    // SAFETY: argv and envp are NULL-terminated arrays of NUL-terminated
    // strings that outlive the call; on success the call does not return.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            fd,
            c"".as_ptr(),
            argv_ptrs.as_ptr(),
            envp_ptrs.as_ptr(),
            libc::AT_EMPTY_PATH,
        );
    }
    nix::Error::last()
}
