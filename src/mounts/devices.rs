//! /dev inside the container: the default device nodes every runtime
//! provides, `linux.devices`, and the standard symlinks. In a user
//! namespace mknod is not allowed, so the host's nodes are bind-mounted.

use super::resolve;
use crate::error::{Error, Result};
use crate::sys;
use oci_spec::runtime::{LinuxDeviceType, Spec};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

struct Node {
    path: PathBuf,
    kind: libc::mode_t,
    major: u64,
    minor: u64,
    mode: u32,
    uid: u32,
    gid: u32,
}

const DEFAULTS: [(&str, u64, u64); 6] = [
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

pub fn setup(root: &OwnedFd, spec: &Spec, in_user_ns: bool) -> Result<()> {
    let mut nodes: Vec<Node> = DEFAULTS
        .iter()
        .map(|(p, ma, mi)| Node {
            path: p.into(),
            kind: libc::S_IFCHR,
            major: *ma,
            minor: *mi,
            mode: 0o666,
            uid: 0,
            gid: 0,
        })
        .collect();
    let devices = spec.linux().as_ref().and_then(|l| l.devices().as_ref());
    for (i, d) in devices.into_iter().flatten().enumerate() {
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => libc::S_IFCHR,
            LinuxDeviceType::B => libc::S_IFBLK,
            LinuxDeviceType::P => libc::S_IFIFO,
            LinuxDeviceType::A => {
                return Err(Error::new(format!(
                    "linux.devices[{i}].type: \"a\" is not a device type"
                )));
            }
        };
        if d.major() < 0 || d.minor() < 0 {
            return Err(Error::new(format!(
                "linux.devices[{i}]: negative major/minor"
            )));
        }
        nodes.retain(|n| n.path != *d.path());
        nodes.push(Node {
            path: d.path().clone(),
            kind,
            major: d.major() as u64,
            minor: d.minor() as u64,
            mode: d.file_mode().unwrap_or(0o666) & 0o7777,
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        });
    }
    // Most nodes share /dev: each parent directory is made and opened once.
    let mut parents = Parents::default();
    for n in &nodes {
        if !n.path.starts_with("/dev") {
            return Err(Error::new(format!(
                "device {} is not under /dev",
                n.path.display()
            )));
        }
        create_node(root, &mut parents, n, in_user_ns)
            .map_err(|e| e.context(format!("device {}", n.path.display())))?;
    }
    let dev = match parents.find(Path::new("dev")) {
        Some(fd) => fd,
        None => resolve::open_in_root(root, Path::new("/dev"), libc::O_DIRECTORY | libc::O_RDONLY)
            .map_err(|e| Error::errno("open /dev", e))?,
    };
    symlinks(&dev)
}

/// Directories of device nodes, opened (made if need be) inside the root.
#[derive(Default)]
struct Parents(Vec<(PathBuf, OwnedFd)>);

impl Parents {
    fn find(&mut self, rel: &Path) -> Option<OwnedFd> {
        let i = self.0.iter().position(|(p, _)| p == rel)?;
        Some(self.0.swap_remove(i).1)
    }

    fn open(&mut self, root: &OwnedFd, rel: &Path) -> Result<RawFd> {
        if let Some((_, fd)) = self.0.iter().find(|(p, _)| p == rel) {
            return Ok(fd.as_raw_fd());
        }
        let dir = resolve::mkdir_all(root, rel, 0o755)?;
        let fd = sys::openat(dir.as_raw_fd(), c".", libc::O_DIRECTORY | libc::O_RDONLY, 0)
            .map_err(|e| Error::errno("open parent", e))?;
        let raw = fd.as_raw_fd();
        self.0.push((rel.to_path_buf(), fd));
        Ok(raw)
    }
}

fn create_node(root: &OwnedFd, parents: &mut Parents, n: &Node, in_user_ns: bool) -> Result<()> {
    let rel = resolve::relative(&n.path);
    let parent = rel.parent().unwrap_or(Path::new(""));
    let name = rel.file_name().ok_or_else(|| Error::new("no file name"))?;
    let dirfd = parents.open(root, parent)?;
    let cname = sys::cstr(name.as_encoded_bytes())?;
    if in_user_ns {
        // Bind the host's node onto an empty file.
        match sys::openat(
            dirfd,
            &cname,
            libc::O_CREAT | libc::O_WRONLY | libc::O_NOFOLLOW,
            0o644,
        ) {
            Ok(_) | Err(nix::Error::EEXIST) => {}
            Err(e) => return Err(Error::errno("create bind target", e)),
        }
        let target =
            resolve::open_in_root(root, &rel, libc::O_PATH).map_err(|e| Error::errno("open", e))?;
        let host = n.path.to_string_lossy();
        return sys::mount(
            Some(&host),
            &sys::fd_path(&target),
            None,
            libc::MS_BIND,
            None,
        )
        .map_err(|e| Error::errno(format!("bind {host}"), e));
    }
    // An image may ship its own node or file there; the configured one wins.
    // SAFETY: unlinkat relative to a directory fd we hold.
    unsafe { libc::unlinkat(dirfd, cname.as_ptr(), 0) };
    let dev = libc::makedev(n.major as u32, n.minor as u32);
    // SAFETY: mknodat relative to our directory fd with a NUL-terminated name.
    let rc = unsafe { libc::mknodat(dirfd, cname.as_ptr(), n.kind | n.mode, dev) };
    if rc < 0 {
        return Err(Error::errno("mknod", nix::Error::last()));
    }
    // SAFETY: fchmodat/fchownat relative to our directory fd, no symlink follow.
    unsafe {
        if libc::fchmodat(dirfd, cname.as_ptr(), n.mode, 0) < 0 {
            return Err(Error::errno("chmod", nix::Error::last()));
        }
        if libc::fchownat(
            dirfd,
            cname.as_ptr(),
            n.uid,
            n.gid,
            libc::AT_SYMLINK_NOFOLLOW,
        ) < 0
        {
            return Err(Error::errno("chown", nix::Error::last()));
        }
    }
    Ok(())
}

/// The standard links in `dev`, an fd of the container's /dev.
fn symlinks(dev: &OwnedFd) -> Result<()> {
    let mut links = vec![
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ];
    if Path::new("/proc/kcore").exists() {
        links.push(("core", "/proc/kcore"));
    }
    for (name, target) in links {
        let n = sys::cstr(name)?;
        let t = sys::cstr(target)?;
        match sys::symlinkat(&t, dev.as_raw_fd(), &n) {
            Ok(()) | Err(nix::Error::EEXIST) => {}
            Err(e) => return Err(Error::errno(format!("symlink /dev/{name}"), e)),
        }
    }
    // /dev/ptmx must be the devpts instance's ptmx of this container.
    let n = c"ptmx";
    // SAFETY: unlinkat of a NUL-terminated name relative to the /dev fd.
    unsafe { libc::unlinkat(dev.as_raw_fd(), n.as_ptr(), 0) };
    sys::symlinkat(c"pts/ptmx", dev.as_raw_fd(), n)
        .map_err(|e| Error::errno("symlink /dev/ptmx", e))
}
