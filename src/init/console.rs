//! process.terminal: a pty from the container's own devpts, its peer as the
//! init's stdio and /dev/console, the master sent to --console-socket in
//! one sendmsg (name as payload, fd as SCM_RIGHTS), exactly as runc.

use crate::error::{Error, Result};
use crate::mounts::resolve;
use crate::sys;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

const DEVPTS_SUPER_MAGIC: i64 = 0x1cd1;
const TIOCGPTPEER: libc::c_ulong = 0x5441;

/// The container init's console: also shown as /dev/console. `owner` is
/// the process's uid, which the pty is given.
pub fn setup(socket: &OwnedFd, size: Option<oci_spec::runtime::Box>, owner: u32) -> Result<()> {
    open_pty(socket, size, owner, true)
}

/// An exec'd process's terminal: a new pty, no /dev/console change.
pub fn setup_pty_only(
    socket: &OwnedFd,
    size: Option<oci_spec::runtime::Box>,
    owner: u32,
) -> Result<()> {
    open_pty(socket, size, owner, false)
}

/// devpts makes the pty its opener's (root here): a process running as
/// another user could not reopen or chmod its own terminal (`tty`, `mesg`,
/// ssh-style tools). As runc, hand the uid over and keep devpts' group.
/// EINVAL/EPERM (uid not mapped in a user namespace) leave it as it is.
fn give_to(peer: &OwnedFd, owner: u32) -> Result<()> {
    // SAFETY: fchown on a pty fd we hold; -1 keeps the group.
    if unsafe { libc::fchown(peer.as_raw_fd(), owner, u32::MAX) } < 0 {
        let e = nix::Error::last();
        if e != nix::Error::EINVAL && e != nix::Error::EPERM {
            return Err(Error::errno(format!("chown pty to uid {owner}"), e));
        }
    }
    Ok(())
}

fn open_pty(
    socket: &OwnedFd,
    size: Option<oci_spec::runtime::Box>,
    owner: u32,
    bind_dev_console: bool,
) -> Result<()> {
    let master = sys::openat(
        libc::AT_FDCWD,
        c"/dev/pts/ptmx",
        libc::O_RDWR | libc::O_NOCTTY | libc::O_NOFOLLOW,
        0,
    )
    .map_err(|e| Error::errno("open /dev/pts/ptmx", e))?;
    let fs = nix::sys::statfs::fstatfs(&master).map_err(|e| Error::errno("statfs ptmx", e))?;
    if fs.filesystem_type().0 as i64 != DEVPTS_SUPER_MAGIC {
        return Err(Error::new("/dev/pts/ptmx is not on a devpts filesystem"));
    }
    let unlock: libc::c_int = 0;
    let mut n: libc::c_uint = 0;
    // SAFETY: ioctls on the master we opened, with pointers to locals.
    unsafe {
        if libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) < 0 {
            return Err(Error::errno("unlockpt", nix::Error::last()));
        }
        if libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut n) < 0 {
            return Err(Error::errno("ptsname", nix::Error::last()));
        }
    }
    // The peer straight from the master: no path lookup an attacker could
    // redirect (CVE-2025-52565).
    // SAFETY: TIOCGPTPEER returns a new fd for the pty's slave side.
    let peer = unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            TIOCGPTPEER as _,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    if peer < 0 {
        return Err(Error::errno("open pty peer", nix::Error::last()));
    }
    // SAFETY: a fresh fd from the kernel.
    let peer = unsafe { OwnedFd::from_raw_fd(peer) };
    if let Some(sz) = size {
        let ws = libc::winsize {
            ws_row: sz.height() as u16,
            ws_col: sz.width() as u16,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads the struct we pass.
        unsafe { libc::ioctl(peer.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    }
    give_to(&peer, owner)?;
    let name = format!("/dev/pts/{n}");
    if bind_dev_console {
        bind_console(&peer)?;
    }
    sys::send_fd(socket.as_raw_fd(), name.as_bytes(), master.as_raw_fd())
        .map_err(|e| Error::errno("send pty master to console socket", e))?;
    drop(master);
    // SAFETY: make the peer our controlling terminal and our stdio.
    unsafe {
        if libc::ioctl(peer.as_raw_fd(), libc::TIOCSCTTY, 0) < 0 {
            return Err(Error::errno("set controlling terminal", nix::Error::last()));
        }
        for fd in 0..3 {
            if libc::dup2(peer.as_raw_fd(), fd) < 0 {
                return Err(Error::errno("dup2 console", nix::Error::last()));
            }
        }
    }
    Ok(())
}

/// /dev/console shows the pty to programs that open it by name.
fn bind_console(peer: &OwnedFd) -> Result<()> {
    let root = sys::openat(libc::AT_FDCWD, c"/", libc::O_PATH | libc::O_DIRECTORY, 0)
        .map_err(|e| Error::errno("open /", e))?;
    let target = resolve::ensure_target(&root, Path::new("/dev/console"), false)?;
    sys::mount(
        Some(&sys::fd_path(peer)),
        &sys::fd_path(&target),
        None,
        libc::MS_BIND,
        None,
    )
    .map_err(|e| Error::errno("bind /dev/console", e))
}
