//! Switching the init's root to the rootfs.

use crate::error::{Error, Result};
use crate::sys;
use std::os::fd::AsRawFd;
use std::path::Path;

/// pivot_root(".", ".") as runc does: the old root ends up stacked under
/// the new one and is detached without ever being reachable by path.
pub fn pivot_root(rootfs: &Path) -> Result<()> {
    let old = sys::openat(libc::AT_FDCWD, c"/", libc::O_DIRECTORY | libc::O_RDONLY, 0)
        .map_err(|e| Error::errno("open /", e))?;
    let new = sys::openat(
        libc::AT_FDCWD,
        &sys::cpath(rootfs)?,
        libc::O_DIRECTORY | libc::O_RDONLY,
        0,
    )
    .map_err(|e| Error::errno(format!("open {}", rootfs.display()), e))?;
    nix::unistd::fchdir(&new).map_err(|e| Error::errno("chdir rootfs", e))?;
    sys::pivot_root(c".", c".").map_err(|e| Error::errno("pivot_root", e))?;
    nix::unistd::fchdir(&old).map_err(|e| Error::errno("chdir old root", e))?;
    // Keep the unmount from propagating to the host.
    sys::mount(None, ".", None, libc::MS_SLAVE | libc::MS_REC, None)
        .map_err(|e| Error::errno("make old root rslave", e))?;
    nix::mount::umount2(".", nix::mount::MntFlags::MNT_DETACH)
        .map_err(|e| Error::errno("unmount old root", e))?;
    nix::unistd::chdir("/").map_err(|e| Error::errno("chdir /", e))?;
    let _ = old.as_raw_fd();
    Ok(())
}

/// `--no-pivot`: move the rootfs over / and chroot (for ramdisk hosts
/// where pivot_root is impossible).
pub fn move_root(rootfs: &Path) -> Result<()> {
    nix::unistd::chdir(rootfs).map_err(|e| Error::errno("chdir rootfs", e))?;
    let r = rootfs.to_string_lossy();
    sys::mount(Some(&r), "/", None, libc::MS_MOVE, None)
        .map_err(|e| Error::errno("move rootfs to /", e))?;
    nix::unistd::chroot(".").map_err(|e| Error::errno("chroot", e))?;
    nix::unistd::chdir("/").map_err(|e| Error::errno("chdir /", e))
}

/// Without a mount namespace there is nothing to pivot: chroot only.
pub fn chroot_only(rootfs: &Path) -> Result<()> {
    nix::unistd::chroot(rootfs).map_err(|e| Error::errno("chroot", e))?;
    nix::unistd::chdir("/").map_err(|e| Error::errno("chdir /", e))
}
