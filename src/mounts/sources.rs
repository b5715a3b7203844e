//! Bind-mount sources that rt takes hold of itself, as the host's root,
//! rather than the init by path.
//!
//! - Plain binds of a container with a user namespace: its init is root of
//!   that namespace only, and cannot reach a source only the host's root
//!   may (one below a directory of mode 0700, say). Once the init is
//!   cloned, rt enters the init's mount namespace, opens each source
//!   (O_PATH) there and sends the fds to the init, which binds them
//!   (`OpenedSources`), as runc does. Opened in that namespace, the
//!   sources are its mounts: the binds keep the locks the kernel put on
//!   them when it copied the host's mounts for a less privileged user
//!   namespace (submounts stay, the host's ro/nosuid/nodev flags stay).
//! - Idmapped mounts (runtime-spec 1.1 `uidMappings`/`gidMappings` on a
//!   mount, the `idmap`/`ridmap` options): rt makes a detached copy of
//!   the source mount (open_tree OPEN_TREE_CLONE) and sets
//!   MOUNT_ATTR_IDMAP on it with the fd of a user namespace carrying the
//!   mapping, which only a process privileged over the source mount may
//!   do; the init moves it into place, as runc 1.2 does. With a container
//!   user namespace the copy is made in the init's mount namespace and
//!   sent like the plain sources (it keeps the locks too); without one,
//!   before the clone (`BindSources`).
//!
//! Other binds are made by the init from the source path.

use super::options::{Idmap, MountOptions};
use crate::error::{Context, Error, Result};
use crate::process::idmap;
use crate::sys;
use oci_spec::runtime::{LinuxIdMapping, Mount, Spec};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// The container's user namespace, which gives `idmap` without mappings
/// of its own its meaning (runc: the container's mappings, or the joined
/// namespace itself).
#[derive(Clone, Copy)]
pub enum ContainerUserns<'a> {
    None,
    New {
        uid: &'a [LinuxIdMapping],
        gid: &'a [LinuxIdMapping],
    },
    Joined(&'a Path),
}

/// Detached, idmapped source trees by index in `mounts`, made before the
/// clone for a container without a user namespace.
#[derive(Default)]
pub struct BindSources {
    trees: Vec<Option<OwnedFd>>,
}

/// Whether `m` is an idmapped mount: an `idmap`/`ridmap` option or
/// mappings of its own.
pub fn is_idmapped(m: &Mount, opts: &MountOptions) -> bool {
    opts.idmap.is_some() || m.uid_mappings().is_some() || m.gid_mappings().is_some()
}

pub fn is_bind(m: &Mount, opts: &MountOptions) -> bool {
    opts.is_bind() || m.typ().as_deref() == Some("bind")
}

/// A bind source as the spec names it: absolute, or relative to the bundle.
pub fn source_path(m: &Mount, bundle: &Path) -> Option<PathBuf> {
    let src = m.source().as_ref()?;
    Some(if src.is_absolute() {
        src.clone()
    } else {
        bundle.join(src)
    })
}

impl BindSources {
    /// For a container without a user namespace (with one, rt makes the
    /// trees in its mount namespace: `OpenedSources`).
    pub fn prepare(spec: &Spec, bundle: &Path, userns: ContainerUserns) -> Result<BindSources> {
        let mut sources = BindSources::default();
        if !matches!(userns, ContainerUserns::None) {
            return Ok(sources);
        }
        let mut namespaces = MappingNamespaces::default();
        for (i, m) in spec.mounts().iter().flatten().enumerate() {
            let opts = MountOptions::parse(m.options().as_deref().unwrap_or(&[]));
            let tree = if is_bind(m, &opts) && is_idmapped(m, &opts) {
                Some(
                    idmapped_tree(m, &opts, bundle, userns, &mut namespaces).map_err(|e| {
                        e.context(format!("mounts[{i}] ({})", m.destination().display()))
                    })?,
                )
            } else {
                None
            };
            sources.trees.push(tree);
        }
        Ok(sources)
    }

    /// The detached tree for `mounts[i]`, if rt made one.
    pub fn tree(&self, i: usize) -> Option<&OwnedFd> {
        self.trees.get(i).and_then(Option::as_ref)
    }
}

fn idmapped_tree(
    m: &Mount,
    opts: &MountOptions,
    bundle: &Path,
    userns: ContainerUserns,
    namespaces: &mut MappingNamespaces,
) -> Result<OwnedFd> {
    let src = source_path(m, bundle).ok_or_else(|| Error::new("bind mount without source"))?;
    let recursive = opts.flags & libc::MS_REC != 0;
    let tree = sys::open_tree_detached(&sys::cpath(&src)?, recursive)
        .map_err(|e| Error::errno(format!("open bind source {}", src.display()), e))?;
    let ns = match (m.uid_mappings(), m.gid_mappings(), userns) {
        (Some(uid), Some(gid), _) => namespaces.get(uid, gid)?,
        (None, None, ContainerUserns::New { uid, gid }) => namespaces.get(uid, gid)?,
        (None, None, ContainerUserns::Joined(path)) => std::fs::File::open(path)
            .map(OwnedFd::from)
            .ctx(format!("open user namespace {}", path.display()))?,
        // Refused by validation already; kept for callers that skip it.
        _ => {
            return Err(Error::new(
                "an idmapped mount needs uidMappings and gidMappings or a container user namespace",
            ));
        }
    };
    let rec_idmap = opts.idmap == Some(Idmap::Recursive);
    sys::mount_setattr_idmap(tree.as_raw_fd(), ns.as_raw_fd(), rec_idmap).map_err(|e| {
        let why = match e {
            nix::Error::EINVAL => " (the filesystem does not support idmapped mounts)",
            nix::Error::ENOSYS => " (the kernel has no idmapped mounts: 5.12 or later needed)",
            _ => "",
        };
        Error::errno(format!("idmap {}{why}", src.display()), e)
    })?;
    Ok(tree)
}

/// User namespaces made for mappings, one per distinct pair of mappings
/// (most specs give every idmapped mount the same).
#[derive(Default)]
struct MappingNamespaces {
    made: Vec<(Vec<LinuxIdMapping>, Vec<LinuxIdMapping>, OwnedFd)>,
}

impl MappingNamespaces {
    fn get(&mut self, uid: &[LinuxIdMapping], gid: &[LinuxIdMapping]) -> Result<OwnedFd> {
        if let Some((_, _, fd)) = self.made.iter().find(|(u, g, _)| u == uid && g == gid) {
            return fd.try_clone().ctx("dup user namespace fd");
        }
        let fd = idmap::userns_with_maps(uid, gid)?;
        let copy = fd.try_clone().ctx("dup user namespace fd")?;
        self.made.push((uid.to_vec(), gid.to_vec(), fd));
        Ok(copy)
    }
}

/// Whether idmapped bind mounts work here: a detached copy of `/` mapped
/// through a fresh user namespace. For `features`.
pub fn idmap_supported() -> bool {
    let probe = || -> Result<()> {
        let map: Vec<LinuxIdMapping> =
            serde_json::from_str(r#"[{"containerID":0,"hostID":0,"size":1}]"#)
                .map_err(|e| Error::new(e.to_string()))?;
        let ns = idmap::userns_with_maps(&map, &map)?;
        let tree =
            sys::open_tree_detached(c"/", false).map_err(|e| Error::errno("open_tree", e))?;
        sys::mount_setattr_idmap(tree.as_raw_fd(), ns.as_raw_fd(), false)
            .map_err(|e| Error::errno("mount_setattr", e))
    };
    probe().is_ok()
}

/// How rt hands a source to an init in a user namespace.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Opened {
    /// An O_PATH fd of the source: the init binds it.
    Path,
    /// A detached, idmapped tree: the init moves it into place.
    Tree,
}

/// Bind sources opened by rt in the init's mount namespace, by index in
/// `mounts`, as the init received them.
#[derive(Default)]
pub struct OpenedSources {
    fds: Vec<(usize, Opened, OwnedFd)>,
}

/// The binds of `spec`.
fn binds(spec: &Spec) -> impl Iterator<Item = (usize, &Mount, MountOptions)> {
    spec.mounts()
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, m)| {
            (
                i,
                m,
                MountOptions::parse(m.options().as_deref().unwrap_or(&[])),
            )
        })
        .filter(|(_, m, opts)| is_bind(m, opts))
}

/// Whether an init in a user namespace needs rt to open sources for it.
pub fn has_binds(spec: &Spec) -> bool {
    binds(spec).next().is_some()
}

/// Marks the end of the sources on the socket.
const END: &[u8] = b"end";

impl OpenedSources {
    /// In rt: opens the bind sources inside the mount namespace of `pid`
    /// (not yet changed by its init; idmapped ones as trees) and sends
    /// them over `sock`.
    pub fn open_and_send(
        spec: &Spec,
        bundle: &Path,
        userns: ContainerUserns,
        pid: i32,
        sock: &OwnedFd,
    ) -> Result<()> {
        let opened = in_mount_ns_of(pid, || {
            let mut namespaces = MappingNamespaces::default();
            binds(spec)
                .map(|(i, m, opts)| {
                    let at = || format!("mounts[{i}] ({})", m.destination().display());
                    if is_idmapped(m, &opts) {
                        let tree = idmapped_tree(m, &opts, bundle, userns, &mut namespaces)
                            .map_err(|e| e.context(at()))?;
                        return Ok((i, Opened::Tree, tree));
                    }
                    let src = source_path(m, bundle)
                        .ok_or_else(|| Error::new("bind mount without source").context(at()))?;
                    let c = sys::cpath(&src)?;
                    sys::openat(libc::AT_FDCWD, &c, libc::O_PATH | libc::O_CLOEXEC, 0)
                        .map(|fd| (i, Opened::Path, fd))
                        .map_err(|e| {
                            Error::errno(format!("open bind source {}", src.display()), e)
                                .context(at())
                        })
                })
                .collect::<Result<Vec<_>>>()
        })??;
        for (i, kind, fd) in &opened {
            let mut payload = (*i as u32).to_le_bytes().to_vec();
            payload.push(if *kind == Opened::Tree { b't' } else { b'p' });
            sys::send_fd(sock.as_raw_fd(), &payload, fd.as_raw_fd())
                .map_err(|e| Error::errno("send bind sources to the init", e))?;
        }
        sys::write_all(sock.as_raw_fd(), END)
            .map_err(|e| Error::errno("send bind sources to the init", e))
    }

    /// In the init: the sources rt sent, up to the end mark.
    pub fn receive(sock: &OwnedFd) -> Result<OpenedSources> {
        let mut fds = Vec::new();
        loop {
            let (payload, fd) = sys::recv_with_fd(sock.as_raw_fd())
                .map_err(|e| Error::errno("receive bind sources", e))?;
            match (payload.as_slice(), fd) {
                (END, None) => return Ok(OpenedSources { fds }),
                ([a, b, c, d, kind @ (b'p' | b't')], Some(fd)) => {
                    let i = u32::from_le_bytes([*a, *b, *c, *d]) as usize;
                    let kind = if *kind == b't' {
                        Opened::Tree
                    } else {
                        Opened::Path
                    };
                    fds.push((i, kind, fd));
                }
                _ => return Err(Error::new("receive bind sources: unexpected message")),
            }
        }
    }

    pub fn get(&self, i: usize) -> Option<(Opened, &OwnedFd)> {
        self.fds
            .iter()
            .find(|(j, _, _)| *j == i)
            .map(|(_, kind, fd)| (*kind, fd))
    }
}

/// Runs `f` in the mount namespace of `pid` and comes back to ours (and
/// our cwd, which setns resets). rt is single-threaded, as setns needs.
fn in_mount_ns_of<T>(pid: i32, f: impl FnOnce() -> T) -> Result<T> {
    let theirs: OwnedFd = std::fs::File::open(format!("/proc/{pid}/ns/mnt"))
        .ctx("open the init's mount namespace")?
        .into();
    let ours: OwnedFd = std::fs::File::open("/proc/self/ns/mnt")
        .ctx("open our mount namespace")?
        .into();
    let same = |a: &OwnedFd, b: &OwnedFd| -> bool {
        match (nix::sys::stat::fstat(a), nix::sys::stat::fstat(b)) {
            (Ok(x), Ok(y)) => x.st_ino == y.st_ino && x.st_dev == y.st_dev,
            _ => false,
        }
    };
    if same(&theirs, &ours) {
        return Ok(f());
    }
    let cwd = sys::openat(libc::AT_FDCWD, c".", libc::O_PATH | libc::O_DIRECTORY, 0)
        .map_err(|e| Error::errno("open cwd", e))?;
    sys::setns(theirs.as_raw_fd(), libc::CLONE_NEWNS)
        .map_err(|e| Error::errno("enter the init's mount namespace", e))?;
    let out = f();
    sys::setns(ours.as_raw_fd(), libc::CLONE_NEWNS)
        .map_err(|e| Error::errno("return to our mount namespace", e))?;
    nix::unistd::fchdir(&cwd).map_err(|e| Error::errno("return to our cwd", e))?;
    Ok(out)
}
