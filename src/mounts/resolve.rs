//! Resolving paths inside the container's root by file descriptor, so a
//! symlink in the image (or one swapped in by a racing container) can never
//! send a mount, mkdir or mknod outside the rootfs (CVE-2021-30465,
//! CVE-2024-45310). openat2(RESOLVE_IN_ROOT) does it in the kernel; where
//! that is missing we walk the path one component at a time, resolving
//! symlinks against the root ourselves.

use crate::error::{Error, Result};
use crate::sys;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

const MAX_SYMLINKS: usize = 40;

/// Opens `path` (taken as relative to `root` whatever its leading slash)
/// with `flags`, never leaving `root`.
pub fn open_in_root(root: &OwnedFd, path: &Path, flags: i32) -> nix::Result<OwnedFd> {
    let rel = relative(path);
    let c = sys::cpath(&rel).map_err(|_| nix::Error::EINVAL)?;
    match sys::openat2(
        root.as_raw_fd(),
        &c,
        flags,
        0,
        sys::RESOLVE_IN_ROOT | sys::RESOLVE_NO_MAGICLINKS,
    ) {
        Err(nix::Error::ENOSYS) => walk(root, &rel, flags),
        other => other,
    }
}

/// `path` without its root component, "." for the root itself.
pub fn relative(path: &Path) -> PathBuf {
    let rel: PathBuf = path
        .components()
        .filter(|c| !matches!(c, Component::RootDir))
        .collect();
    if rel.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        rel
    }
}

/// Userspace fallback for kernels without openat2.
fn walk(root: &OwnedFd, rel: &Path, flags: i32) -> nix::Result<OwnedFd> {
    let mut pending: Vec<std::ffi::OsString> = rel
        .components()
        .rev()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect();
    let mut stack: Vec<OwnedFd> = Vec::new(); // directories below root
    let mut links = 0;
    let dup_root = || nix::unistd::dup(root);
    while let Some(name) = pending.pop() {
        if name == ".." {
            stack.pop(); // ".." at the root stays at the root
            continue;
        }
        let dir = stack
            .last()
            .map(|f| f.as_raw_fd())
            .unwrap_or(root.as_raw_fd());
        let cname = sys::cstr(name.as_encoded_bytes()).map_err(|_| nix::Error::EINVAL)?;
        let last = pending.is_empty();
        let fd = sys::openat(dir, &cname, libc::O_PATH | libc::O_NOFOLLOW, 0)?;
        let st = nix::sys::stat::fstat(&fd)?;
        if st.st_mode & libc::S_IFMT == libc::S_IFLNK {
            if last && flags & libc::O_NOFOLLOW != 0 {
                // As openat2: O_NOFOLLOW opens a final symlink itself (O_PATH)
                // or fails with ELOOP; maskedPaths rely on it.
                return sys::openat(dir, &cname, flags, 0);
            }
            links += 1;
            if links > MAX_SYMLINKS {
                return Err(nix::Error::ELOOP);
            }
            let target = nix::fcntl::readlinkat(&fd, "")?;
            let target = PathBuf::from(target);
            if target.is_absolute() {
                stack.clear();
            }
            for c in target.components().rev() {
                match c {
                    Component::Normal(n) => pending.push(n.to_os_string()),
                    Component::ParentDir => pending.push("..".into()),
                    _ => {}
                }
            }
            continue;
        }
        if last {
            let reopen = sys::cstr(name.as_encoded_bytes()).map_err(|_| nix::Error::EINVAL)?;
            return sys::openat(dir, &reopen, flags | libc::O_NOFOLLOW, 0);
        }
        stack.push(fd);
    }
    match stack.pop() {
        Some(fd) if flags & libc::O_PATH != 0 => Ok(fd),
        Some(fd) => sys::openat(fd.as_raw_fd(), c".", flags, 0),
        None => {
            let r = dup_root()?;
            if flags & libc::O_PATH != 0 {
                Ok(r)
            } else {
                sys::openat(r.as_raw_fd(), c".", flags, 0)
            }
        }
    }
}

/// Creates every missing directory of `path` under `root` (mkdirat on the
/// parent's fd each time) and returns an O_PATH fd of the last one. A
/// dangling symlink on the way is followed inside the root, as the kernel
/// would, and the directories are created where it points.
pub fn mkdir_all(root: &OwnedFd, path: &Path, mode: u32) -> Result<OwnedFd> {
    let mut todo = relative(path);
    for _ in 0..MAX_SYMLINKS {
        match mkdir_all_once(root, &todo, mode)? {
            Ok(fd) => return Ok(fd),
            Err(redirect) => todo = redirect,
        }
    }
    Err(Error::errno(
        format!("mkdir {}", path.display()),
        nix::Error::ELOOP,
    ))
}

/// One pass: Ok(fd) when done, or Err(new path) when a dangling symlink
/// sends the rest of the path elsewhere.
fn mkdir_all_once(
    root: &OwnedFd,
    rel: &Path,
    mode: u32,
) -> Result<std::result::Result<OwnedFd, PathBuf>> {
    let comps: Vec<_> = rel
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            _ => None,
        })
        .collect();
    // Start below the deepest directory that exists, found from the full
    // path upwards: usually only the last component is missing, and
    // resolving every prefix from the root cost a lookup per level.
    let mut existing = comps.len();
    let mut fd = loop {
        if existing == 0 {
            break nix::unistd::dup(root).map_err(|e| Error::errno("dup root", e))?;
        }
        let prefix: PathBuf = comps[..existing].iter().collect();
        match open_in_root(root, &prefix, libc::O_PATH | libc::O_DIRECTORY) {
            Ok(f) => break f,
            Err(nix::Error::ENOENT) => existing -= 1,
            Err(e) => return Err(Error::errno(format!("open {}", prefix.display()), e)),
        }
    };
    let mut cur: PathBuf = comps[..existing].iter().collect();
    // Every component from here on is missing: nothing yet, or a dangling
    // symlink to follow inside the root.
    for (i, name) in comps.iter().enumerate().skip(existing) {
        cur.push(name);
        let c = sys::cstr(name.as_encoded_bytes())?;
        if let Ok(link) = sys::openat(fd.as_raw_fd(), &c, libc::O_PATH | libc::O_NOFOLLOW, 0) {
            let st = nix::sys::stat::fstat(&link).map_err(|e| Error::errno("stat", e))?;
            if st.st_mode & libc::S_IFMT == libc::S_IFLNK {
                let target = PathBuf::from(
                    nix::fcntl::readlinkat(&link, "").map_err(|e| Error::errno("readlink", e))?,
                );
                let mut next = if target.is_absolute() {
                    relative(&target)
                } else {
                    cur.parent().unwrap_or(Path::new("")).join(target)
                };
                for rest in &comps[i + 1..] {
                    next.push(rest);
                }
                return Ok(Err(normalize(&next)));
            }
        }
        // SAFETY: mkdirat relative to a directory fd we hold.
        let rc = unsafe { libc::mkdirat(fd.as_raw_fd(), c.as_ptr(), mode) };
        if rc < 0 && nix::Error::last() != nix::Error::EEXIST {
            return Err(Error::errno(
                format!("mkdir {}", cur.display()),
                nix::Error::last(),
            ));
        }
        fd = open_in_root(root, &cur, libc::O_PATH | libc::O_DIRECTORY)
            .map_err(|e| Error::errno(format!("open {}", cur.display()), e))?;
    }
    Ok(Ok(fd))
}

/// Lexical clean-up of a root-relative path (".." never climbs above it).
fn normalize(p: &Path) -> PathBuf {
    let mut out: Vec<std::ffi::OsString> = Vec::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n.to_os_string()),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out.iter().collect()
}

/// Makes sure a mount target exists: a directory, or an empty file when the
/// source is not a directory. Returns an O_PATH fd to mount onto.
pub fn ensure_target(root: &OwnedFd, path: &Path, want_dir: bool) -> Result<OwnedFd> {
    if let Ok(fd) = open_in_root(root, path, libc::O_PATH) {
        return Ok(fd);
    }
    let rel = relative(path);
    if want_dir {
        return mkdir_all(root, &rel, 0o755);
    }
    let parent = rel.parent().unwrap_or(Path::new(""));
    let name = rel
        .file_name()
        .ok_or_else(|| Error::new(format!("bad mount target {}", path.display())))?;
    let dir = mkdir_all(root, parent, 0o755)?;
    let dirfd = sys::openat(dir.as_raw_fd(), c".", libc::O_DIRECTORY | libc::O_RDONLY, 0)
        .map_err(|e| Error::errno(format!("open {}", parent.display()), e))?;
    let c = sys::cstr(name.as_encoded_bytes())?;
    match sys::openat(
        dirfd.as_raw_fd(),
        &c,
        libc::O_CREAT | libc::O_WRONLY | libc::O_NOFOLLOW,
        0o644,
    ) {
        Ok(_) | Err(nix::Error::EEXIST) => {}
        Err(e) => return Err(Error::errno(format!("create {}", path.display()), e)),
    }
    open_in_root(root, &rel, libc::O_PATH)
        .map_err(|e| Error::errno(format!("open {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("rt-resolve-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn open_root(p: &Path) -> OwnedFd {
        std::fs::File::open(p).unwrap().into()
    }

    #[test]
    fn symlinks_stay_inside_root_both_ways() {
        let d = tmp("sym");
        std::fs::create_dir_all(d.join("real")).unwrap();
        std::fs::write(d.join("real/f"), "in").unwrap();
        symlink("/real", d.join("abs")).unwrap();
        symlink("../../../../real", d.join("up")).unwrap();
        symlink("/etc", d.join("hostetc")).unwrap(); // must not reach the host's /etc
        let root = open_root(&d);
        for via in ["abs/f", "up/f"] {
            for fd in [
                open_in_root(&root, Path::new(via), libc::O_RDONLY).unwrap(),
                walk(&root, Path::new(via), libc::O_RDONLY).unwrap(),
            ] {
                let s = std::fs::read_to_string(sys::fd_path(&fd)).unwrap();
                assert_eq!(s, "in", "via {via}");
            }
        }
        assert_eq!(
            open_in_root(&root, Path::new("etc/passwd"), libc::O_RDONLY).err(),
            Some(nix::Error::ENOENT)
        );
        assert_eq!(
            walk(&root, Path::new("etc/passwd"), libc::O_RDONLY).err(),
            Some(nix::Error::ENOENT)
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn nofollow_opens_a_final_symlink_itself_both_ways() {
        let d = tmp("nofollow");
        std::fs::write(d.join("target"), "t").unwrap();
        symlink("/target", d.join("link")).unwrap();
        let root = open_root(&d);
        let flags = libc::O_PATH | libc::O_NOFOLLOW;
        for fd in [
            open_in_root(&root, Path::new("link"), flags).unwrap(),
            walk(&root, Path::new("link"), flags).unwrap(),
        ] {
            let st = nix::sys::stat::fstat(&fd).unwrap();
            assert_eq!(st.st_mode & libc::S_IFMT, libc::S_IFLNK);
        }
        let read_nofollow = libc::O_RDONLY | libc::O_NOFOLLOW;
        assert_eq!(
            walk(&root, Path::new("link"), read_nofollow).err(),
            open_in_root(&root, Path::new("link"), read_nofollow).err()
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn mkdir_all_creates_what_is_missing_below_what_exists() {
        let d = tmp("levels");
        std::fs::create_dir_all(d.join("a/b")).unwrap();
        std::fs::write(d.join("a/file"), "").unwrap();
        symlink("/a/b/deep", d.join("a/dangling")).unwrap();
        let root = open_root(&d);
        for (path, made) in [
            ("/a/b", "a/b"),
            ("/a/b/c/d/e", "a/b/c/d/e"),
            ("/x/y", "x/y"),
            ("/a/dangling/z", "a/b/deep/z"),
        ] {
            let fd = mkdir_all(&root, Path::new(path), 0o755).unwrap();
            let want = std::fs::metadata(d.join(made)).unwrap();
            let got = nix::sys::stat::fstat(&fd).unwrap();
            assert!(want.is_dir(), "{made}");
            assert_eq!(
                got.st_ino,
                std::os::unix::fs::MetadataExt::ino(&want),
                "{path}"
            );
        }
        assert!(mkdir_all(&root, Path::new("/a/file/sub"), 0o755).is_err());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn mkdir_all_through_symlink_stays_inside() {
        let d = tmp("mkdir");
        let outside = tmp("mkdir-outside");
        symlink(&outside, d.join("escape")).unwrap();
        let root = open_root(&d);
        mkdir_all(&root, Path::new("/escape/a/b"), 0o755).unwrap();
        assert!(
            d.join(outside.strip_prefix("/").unwrap())
                .join("a/b")
                .is_dir()
        );
        assert!(!outside.join("a").exists(), "mkdir escaped the root");
        std::fs::remove_dir_all(&d).unwrap();
        std::fs::remove_dir_all(&outside).unwrap();
    }
}
