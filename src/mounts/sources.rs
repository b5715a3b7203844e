//! Bind-mount sources that rt takes hold of itself, as the host's root in
//! the host's mount namespace, before the init is cloned: detached copies
//! of the source mounts (open_tree with OPEN_TREE_CLONE), id-mapped where
//! the spec asks. The init moves each into place (move_mount) instead of
//! binding the source by path.
//!
//! Two cases need this:
//! - a container with a user namespace: its init is root of that
//!   namespace only, and cannot reach a source only the host's root may
//!   (a directory of mode 0700, say); runc opens those sources from its
//!   privileged parent too.
//! - idmapped mounts (runtime-spec 1.1 `uidMappings`/`gidMappings` on a
//!   mount, the `idmap`/`ridmap` options): MOUNT_ATTR_IDMAP is set on a
//!   detached mount with the fd of a user namespace carrying the mapping,
//!   which only a process privileged over the source mount may do.
//!
//! Other binds are made by the init from the source path, as before:
//! open_tree costs a mount namespace copy per source.

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

/// Detached source trees by index in `mounts`; None where the init binds
/// the source by path.
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
    pub fn prepare(spec: &Spec, bundle: &Path, userns: ContainerUserns) -> Result<BindSources> {
        let mut sources = BindSources::default();
        let mut namespaces = MappingNamespaces::default();
        for (i, m) in spec.mounts().iter().flatten().enumerate() {
            let opts = MountOptions::parse(m.options().as_deref().unwrap_or(&[]));
            let idmapped = is_idmapped(m, &opts);
            let wanted =
                is_bind(m, &opts) && (idmapped || !matches!(userns, ContainerUserns::None));
            let tree = if wanted {
                Some(
                    detached_tree(m, &opts, idmapped, bundle, userns, &mut namespaces).map_err(
                        |e| e.context(format!("mounts[{i}] ({})", m.destination().display())),
                    )?,
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

fn detached_tree(
    m: &Mount,
    opts: &MountOptions,
    idmapped: bool,
    bundle: &Path,
    userns: ContainerUserns,
    namespaces: &mut MappingNamespaces,
) -> Result<OwnedFd> {
    let src = source_path(m, bundle).ok_or_else(|| Error::new("bind mount without source"))?;
    let recursive = opts.flags & libc::MS_REC != 0;
    let tree = sys::open_tree_detached(&sys::cpath(&src)?, recursive)
        .map_err(|e| Error::errno(format!("open bind source {}", src.display()), e))?;
    if !idmapped {
        return Ok(tree);
    }
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
