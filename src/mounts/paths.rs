//! maskedPaths and readonlyPaths, applied after pivot_root.

use super::resolve;
use crate::error::{Error, Result};
use crate::sys;
use std::os::fd::OwnedFd;
use std::path::Path;

fn open_root() -> Result<OwnedFd> {
    sys::openat(libc::AT_FDCWD, c"/", libc::O_PATH | libc::O_DIRECTORY, 0)
        .map_err(|e| Error::errno("open /", e))
}

/// Hides each path: directories under an empty read-only tmpfs, files under
/// /dev/null — the real /dev/null, checked by device number, so a swapped
/// in symlink cannot redirect the bind (CVE-2025-31133).
pub fn mask(paths: &[String]) -> Result<()> {
    if paths.is_empty() {
        return Ok(());
    }
    let root = open_root()?;
    let null = sys::openat(
        libc::AT_FDCWD,
        c"/dev/null",
        libc::O_PATH | libc::O_NOFOLLOW,
        0,
    )
    .map_err(|e| Error::errno("open /dev/null", e))?;
    let st = nix::sys::stat::fstat(&null).map_err(|e| Error::errno("stat /dev/null", e))?;
    if st.st_mode & libc::S_IFMT != libc::S_IFCHR || st.st_rdev != libc::makedev(1, 3) {
        return Err(Error::new(
            "/dev/null is not the null device: refusing to mask paths with it",
        ));
    }
    for p in paths {
        let target =
            match resolve::open_in_root(&root, Path::new(p), libc::O_PATH | libc::O_NOFOLLOW) {
                Ok(t) => t,
                Err(nix::Error::ENOENT) => continue,
                Err(e) => return Err(Error::errno(format!("maskedPaths: open {p}"), e)),
            };
        let st = nix::sys::stat::fstat(&target)
            .map_err(|e| Error::errno(format!("maskedPaths: stat {p}"), e))?;
        if st.st_mode & libc::S_IFMT == libc::S_IFLNK {
            // The link itself is masked (O_NOFOLLOW above), but a link that
            // loops can never be resolved by anyone: runc fails with ELOOP
            // there, and masking a path that is no path at all would hide a
            // broken config. A dangling link (ENOENT) is masked as a link.
            if let Err(e @ nix::Error::ELOOP) =
                resolve::open_in_root(&root, Path::new(p), libc::O_PATH)
            {
                return Err(Error::errno(format!("maskedPaths: {p}"), e));
            }
        }
        let res = if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
            sys::mount(
                Some("tmpfs"),
                &sys::fd_path(&target),
                Some("tmpfs"),
                libc::MS_RDONLY,
                Some("size=0k"),
            )
        } else {
            sys::mount(
                Some(&sys::fd_path(&null)),
                &sys::fd_path(&target),
                None,
                libc::MS_BIND,
                None,
            )
        };
        res.map_err(|e| Error::errno(format!("maskedPaths: mask {p}"), e))?;
    }
    Ok(())
}

/// Makes each path read-only with a bind onto itself and a remount.
pub fn readonly(paths: &[String]) -> Result<()> {
    if paths.is_empty() {
        return Ok(());
    }
    let root = open_root()?;
    for p in paths {
        let target =
            match resolve::open_in_root(&root, Path::new(p), libc::O_PATH | libc::O_NOFOLLOW) {
                Ok(t) => t,
                Err(nix::Error::ENOENT) => continue,
                Err(e) => return Err(Error::errno(format!("readonlyPaths: open {p}"), e)),
            };
        let fp = sys::fd_path(&target);
        sys::mount(Some(&fp), &fp, None, libc::MS_BIND | libc::MS_REC, None)
            .map_err(|e| Error::errno(format!("readonlyPaths: bind {p}"), e))?;
        let t = resolve::open_in_root(&root, Path::new(p), libc::O_PATH | libc::O_NOFOLLOW)
            .map_err(|e| Error::errno(format!("readonlyPaths: open {p}"), e))?;
        super::remount(&t, libc::MS_BIND | libc::MS_REC | libc::MS_RDONLY)
            .map_err(|e| e.context(format!("readonlyPaths: {p}")))?;
    }
    Ok(())
}
