//! Building the container's filesystem view: rootfs propagation, the
//! spec's mounts, /dev, pivot_root, and the masked / read-only paths.
//! Every target is resolved inside the rootfs by fd and mounted onto
//! through that fd (see resolve.rs).

pub mod devices;
pub mod options;
pub mod paths;
pub mod pivot;
pub mod resolve;
pub mod sources;

use crate::cgroups::Placement;
use crate::error::{Error, Result};
use crate::sys;
use oci_spec::runtime::{Mount, Spec};
use options::{
    MOUNT_ATTR__ATIME, MOUNT_ATTR_NOATIME, MOUNT_ATTR_NODEV, MOUNT_ATTR_NODIRATIME,
    MOUNT_ATTR_NOEXEC, MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY, MOUNT_ATTR_RELATIME,
    MOUNT_ATTR_STRICTATIME, MountOptions,
};
use sources::{BindSources, OpenedSources};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// What the mount steps need to know besides the spec.
pub struct RootfsContext<'a> {
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    pub bundle: &'a Path,
    pub cgroup: &'a Placement,
    pub pure_v2: bool,
    pub new_mount_ns: bool,
    /// In a user namespace (a new or joined one, or rt's own, as under
    /// rootless Podman): mknod is refused, device nodes are bind-mounted.
    pub in_user_ns: bool,
    pub new_cgroup_ns: bool,
    /// Called before a step needs the container's cgroups: the init may
    /// still be on its way into them (init::CgroupEntry::SelfWhenReady).
    pub need_cgroups: &'a dyn Fn(CgroupNeed) -> Result<()>,
    /// Idmapped bind sources rt made before the clone.
    pub sources: &'a BindSources,
    /// Bind sources rt opened for an init in a user namespace.
    pub opened: &'a OpenedSources,
    /// Our cgroup2 directory when `cgroup.dirs` cannot tell it (a user's
    /// systemd chose it after the clone); set by `need_cgroups`.
    pub own_cgroup2: &'a std::cell::RefCell<Option<PathBuf>>,
}

/// What a mount step needs of the container's cgroups.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum CgroupNeed {
    /// The directories, with the init in them (cgroup mounts).
    Joined,
    /// Their limits and device rules in force too (before mknod: v1
    /// device rules are written one by one, and a deny-all written before
    /// the allows would fail a mknod in between).
    Limited,
}

/// Before pivot_root: propagation, the rootfs bind, the spec's mounts and
/// /dev. Returns an fd of the rootfs.
pub fn prepare(ctx: &RootfsContext) -> Result<OwnedFd> {
    let rootfs = ctx.rootfs.to_string_lossy().into_owned();
    if ctx.new_mount_ns {
        // Nothing we mount may propagate back to the host: make every mount
        // a slave (or what rootfsPropagation asks) first.
        let prop = ctx
            .spec
            .linux()
            .as_ref()
            .and_then(|l| l.rootfs_propagation().as_deref())
            .and_then(options::propagation)
            .map(|p| p | libc::MS_REC)
            .unwrap_or(libc::MS_SLAVE | libc::MS_REC);
        // "shared" at the root would leak our mounts to the host, and an
        // unbindable tree refuses the rootfs bind below; either mode is
        // applied to the container root after pivot.
        let first = if prop & (libc::MS_SHARED | libc::MS_UNBINDABLE) != 0 {
            libc::MS_SLAVE | libc::MS_REC
        } else {
            prop
        };
        // `first` is recursive and never shared, so no mount of this
        // namespace is shared any more; pivot_root's demand that the new
        // root's parent mount is not shared holds without reading
        // mountinfo (runc reads it because it can leave / rshared).
        sys::mount(None, "/", None, first, None).map_err(|e| Error::errno("make / rslave", e))?;
        // pivot_root needs the new root to be a mount point.
        sys::mount(
            Some(&rootfs),
            &rootfs,
            None,
            libc::MS_BIND | libc::MS_REC,
            None,
        )
        .map_err(|e| Error::errno(format!("bind rootfs {rootfs}"), e))?;
    }
    let root: OwnedFd = std::fs::File::open(ctx.rootfs)
        .map_err(|e| Error::from(e).context(format!("open rootfs {rootfs}")))?
        .into();
    for (i, m) in ctx.spec.mounts().iter().flatten().enumerate() {
        mount_one(ctx, &root, i, m)
            .map_err(|e| e.context(format!("mounts[{i}] ({})", m.destination().display())))?;
    }
    if needs_dev_setup(ctx.spec) {
        (ctx.need_cgroups)(CgroupNeed::Limited)?;
        devices::setup(&root, ctx.spec, ctx.in_user_ns)?;
    }
    Ok(root)
}

/// runc creates the default devices unless /dev is bind-mounted from the host.
fn needs_dev_setup(spec: &Spec) -> bool {
    !spec.mounts().iter().flatten().any(|m| {
        m.destination() == Path::new("/dev")
            && MountOptions::parse(m.options().as_deref().unwrap_or(&[])).is_bind()
    })
}

/// The flags of a read-only /dev that rt fills itself (not a bind): it is
/// mounted writable, so the nodes, /dev/pts and /dev/console can be made
/// in it, and remounted read-only at the end (`finish`), as runc does.
pub fn readonly_dev_flags(spec: &Spec) -> Option<libc::c_ulong> {
    let m = spec
        .mounts()
        .iter()
        .flatten()
        .rfind(|m| m.destination() == Path::new("/dev"))?;
    let opts = MountOptions::parse(m.options().as_deref().unwrap_or(&[]));
    let filled = !opts.is_bind() && m.typ().as_deref() != Some("bind");
    (filled && opts.flags & libc::MS_RDONLY != 0).then_some(opts.flags)
}

/// After the container's /dev is complete: a read-only /dev becomes so.
pub fn finish_dev(spec: &Spec) -> Result<()> {
    let Some(flags) = readonly_dev_flags(spec) else {
        return Ok(());
    };
    let dev = sys::openat(
        libc::AT_FDCWD,
        c"/dev",
        libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW,
        0,
    )
    .map_err(|e| Error::errno("open /dev", e))?;
    remount(&dev, libc::MS_BIND | flags).map_err(|e| e.context("make /dev read-only"))
}

fn mount_one(ctx: &RootfsContext, root: &OwnedFd, i: usize, m: &Mount) -> Result<()> {
    let mut opts = MountOptions::parse(m.options().as_deref().unwrap_or(&[]));
    let typ = m.typ().as_deref().unwrap_or("none");
    let dest = m.destination();
    if dest == Path::new("/dev") && readonly_dev_flags(ctx.spec).is_some() {
        opts.flags &= !libc::MS_RDONLY;
    }
    refuse_symlinked_system_dir(root, dest, typ)?;
    let binds_cgroupfs = m
        .source()
        .as_ref()
        .is_some_and(|s| s.starts_with("/sys/fs/cgroup"));
    if typ == "cgroup" || typ == "cgroup2" || binds_cgroupfs {
        (ctx.need_cgroups)(CgroupNeed::Joined)?;
    }
    match (ctx.sources.tree(i), ctx.opened.get(i)) {
        (Some(tree), _) | (None, Some((sources::Opened::Tree, tree))) => {
            return move_tree(root, tree, m, &opts);
        }
        (None, Some((sources::Opened::Path, fd))) => {
            return bind_mount(ctx, root, m, &opts, Some(fd));
        }
        (None, None) => {}
    }
    if opts.is_bind() || typ == "bind" {
        return bind_mount(ctx, root, m, &opts, None);
    }
    if typ == "cgroup" || typ == "cgroup2" {
        return mount_cgroup(ctx, root, dest, &opts);
    }
    let target = resolve::ensure_target(root, dest, true)?;
    let source = m
        .source()
        .as_ref()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| typ.to_string());
    let data = opts.data.join(",");
    let res = sys::mount(
        Some(&source),
        &sys::fd_path(&target),
        Some(typ),
        opts.flags,
        Some(&data),
    );
    match res {
        Ok(()) => {}
        // sysfs cannot be mounted in a user namespace that does not own the
        // network namespace; runc binds the host's /sys instead.
        Err(nix::Error::EPERM) if typ == "sysfs" => {
            sys::mount(
                Some("/sys"),
                &sys::fd_path(&target),
                None,
                libc::MS_BIND | libc::MS_REC,
                None,
            )
            .map_err(|e| Error::errno("bind /sys", e))?;
            let t = reopen(root, dest)?;
            remount(&t, opts.flags | libc::MS_BIND | libc::MS_REC)?;
        }
        Err(e) => {
            return Err(Error::errno(
                format!("mount {typ} on {}", dest.display()),
                e,
            ));
        }
    }
    finish(root, dest, &opts)
}

/// Propagation changes and recursive attributes, applied to the new mount.
fn finish(root: &OwnedFd, dest: &Path, opts: &MountOptions) -> Result<()> {
    if opts.propagation.is_empty() && opts.attr_set == 0 && opts.attr_clr == 0 {
        return Ok(());
    }
    let t = reopen(root, dest)?;
    for p in &opts.propagation {
        sys::mount(None, &sys::fd_path(&t), None, *p, None)
            .map_err(|e| Error::errno(format!("set propagation of {}", dest.display()), e))?;
    }
    if opts.attr_set != 0 || opts.attr_clr != 0 {
        sys::mount_setattr_recursive(t.as_raw_fd(), opts.attr_set, opts.attr_clr)
            .map_err(|e| Error::errno(format!("mount_setattr {}", dest.display()), e))?;
    }
    Ok(())
}

/// After mounting onto a target fd, that fd still names the covered inode;
/// the new mount is reached by resolving the path again.
fn reopen(root: &OwnedFd, dest: &Path) -> Result<OwnedFd> {
    resolve::open_in_root(root, dest, libc::O_PATH)
        .map_err(|e| Error::errno(format!("open {}", dest.display()), e))
}

/// CVE-2019-19921 / CVE-2023-27561: /proc, /sys (and /dev) in the image must
/// not be symlinks, or a mount meant for them lands elsewhere; procfs and
/// sysfs go on directories only.
fn refuse_symlinked_system_dir(root: &OwnedFd, dest: &Path, typ: &str) -> Result<()> {
    let system = ["/proc", "/sys", "/dev"]
        .iter()
        .any(|d| dest == Path::new(d));
    if !(system || typ == "proc" || typ == "sysfs") {
        return Ok(());
    }
    let rel = resolve::relative(dest);
    let parent = rel
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let Ok(dir) = resolve::open_in_root(root, &parent, libc::O_PATH | libc::O_DIRECTORY) else {
        return Ok(());
    };
    let name = rel
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    let c = sys::cstr(name.as_encoded_bytes())?;
    if let Ok(fd) = sys::openat(dir.as_raw_fd(), &c, libc::O_PATH | libc::O_NOFOLLOW, 0) {
        let st = nix::sys::stat::fstat(&fd).map_err(|e| Error::errno("stat", e))?;
        let kind = st.st_mode & libc::S_IFMT;
        // runc's wording for procfs and sysfs, which scripts match on.
        if (typ == "proc" || typ == "sysfs") && kind != libc::S_IFDIR {
            return Err(Error::new(format!(
                "filesystem {typ:?} must be mounted on ordinary directory ({} is {})",
                dest.display(),
                if kind == libc::S_IFLNK {
                    "a symlink in the rootfs"
                } else {
                    "not a directory"
                }
            )));
        }
        if kind == libc::S_IFLNK {
            return Err(Error::new(format!(
                "mount destination {} is a symlink in the rootfs: refusing ({typ})",
                dest.display()
            )));
        }
    }
    Ok(())
}

/// A bind by source path, or through `opened`, the source rt opened for
/// us (sources.rs).
fn bind_mount(
    ctx: &RootfsContext,
    root: &OwnedFd,
    m: &Mount,
    opts: &MountOptions,
    opened: Option<&OwnedFd>,
) -> Result<()> {
    let dest = m.destination();
    let src = m
        .source()
        .as_ref()
        .ok_or_else(|| Error::new("bind mount without source"))?;
    let src = if src.is_absolute() {
        src.clone()
    } else {
        ctx.bundle.join(src)
    };
    let own;
    let src_fd: &OwnedFd = match opened {
        Some(fd) => fd,
        None => {
            own = std::fs::File::options()
                .read(true)
                .custom_flags_path()
                .open(&src)
                .map_err(|e| Error::from(e).context(format!("open bind source {}", src.display())))?
                .into();
            &own
        }
    };
    let is_dir = nix::sys::stat::fstat(src_fd)
        .map(|s| s.st_mode & libc::S_IFMT == libc::S_IFDIR)
        .unwrap_or(false);
    let target = resolve::ensure_target(root, dest, is_dir)?;
    let rec = opts.flags & libc::MS_REC;
    sys::mount(
        Some(&sys::fd_path(src_fd)),
        &sys::fd_path(&target),
        None,
        libc::MS_BIND | rec,
        None,
    )
    .map_err(|e| Error::errno(format!("bind {} to {}", src.display(), dest.display()), e))?;
    bind_flags_and_finish(root, dest, opts)
}

/// After a bind: its own flags (ro, nosuid, ...) by a remount, then
/// propagation and recursive attributes.
fn bind_flags_and_finish(root: &OwnedFd, dest: &Path, opts: &MountOptions) -> Result<()> {
    let extra = opts.flags & !(libc::MS_BIND | libc::MS_REC | libc::MS_REMOUNT);
    if extra != 0 {
        let t = reopen(root, dest)?;
        remount(&t, libc::MS_BIND | extra)?;
    }
    finish(root, dest, opts)
}

/// A bind whose source rt opened before the clone (sources.rs): the
/// detached tree is moved onto the target, then gets the bind's flags.
fn move_tree(root: &OwnedFd, tree: &OwnedFd, m: &Mount, opts: &MountOptions) -> Result<()> {
    let dest = m.destination();
    let is_dir = nix::sys::stat::fstat(tree)
        .map(|s| s.st_mode & libc::S_IFMT == libc::S_IFDIR)
        .unwrap_or(false);
    let target = resolve::ensure_target(root, dest, is_dir)?;
    sys::move_mount_onto(tree.as_raw_fd(), target.as_raw_fd()).map_err(|e| {
        let src = m.source().as_deref().unwrap_or(Path::new(""));
        Error::errno(
            format!("move bind of {} to {}", src.display(), dest.display()),
            e,
        )
    })?;
    bind_flags_and_finish(root, dest, opts)
}

/// Bind-remount with new flags. Inside a user namespace the kernel refuses
/// to drop flags the mount was locked with (nosuid, nodev, noexec, atime):
/// on EPERM, retry keeping the mount's current flags.
pub fn remount(target: &OwnedFd, flags: libc::c_ulong) -> Result<()> {
    let path = sys::fd_path(target);
    match sys::mount(None, &path, None, flags | libc::MS_REMOUNT, None) {
        Err(nix::Error::EPERM) => {
            let st = nix::sys::statvfs::fstatvfs(target).map_err(|e| Error::errno("statvfs", e))?;
            use nix::sys::statvfs::FsFlags;
            let f = st.flags();
            let mut keep = 0;
            for (fs, ms) in [
                (FsFlags::ST_NOSUID, libc::MS_NOSUID),
                (FsFlags::ST_NODEV, libc::MS_NODEV),
                (FsFlags::ST_NOEXEC, libc::MS_NOEXEC),
                (FsFlags::ST_NOATIME, libc::MS_NOATIME),
                (FsFlags::ST_NODIRATIME, libc::MS_NODIRATIME),
                (FsFlags::ST_RELATIME, libc::MS_RELATIME),
                (FsFlags::ST_RDONLY, libc::MS_RDONLY),
            ] {
                if f.contains(fs) {
                    keep |= ms;
                }
            }
            sys::mount(None, &path, None, flags | keep | libc::MS_REMOUNT, None)
                .map_err(|e| Error::errno("remount", e))
        }
        other => other.map_err(|e| Error::errno("remount", e)),
    }
}

trait OpenPath {
    fn custom_flags_path(&mut self) -> &mut Self;
}
impl OpenPath for std::fs::OpenOptions {
    fn custom_flags_path(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.custom_flags(libc::O_PATH | libc::O_CLOEXEC)
    }
}

/// `type: cgroup`: cgroup2 (or a bind of our cgroup) on pure v2; on v1 and
/// hybrid hosts a tmpfs holding one bind of the container's cgroup per
/// hierarchy, as runc lays it out.
fn mount_cgroup(
    ctx: &RootfsContext,
    root: &OwnedFd,
    dest: &Path,
    opts: &MountOptions,
) -> Result<()> {
    let ro = opts.flags & libc::MS_RDONLY;
    let base =
        opts.flags & (libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC | libc::MS_RELATIME);
    let target = resolve::ensure_target(root, dest, true)?;
    if ctx.pure_v2 {
        // As runc: a fresh cgroup2 mount. With a cgroup namespace it shows
        // the container's subtree; without one the whole hierarchy. Where
        // the kernel refuses (user namespace without cgroupns: EPERM, or
        // EBUSY as root of one), bind it, as runc does.
        let flags = base | ro;
        if let Err(e) = sys::mount(
            Some("cgroup2"),
            &sys::fd_path(&target),
            Some("cgroup2"),
            flags,
            None,
        ) {
            if !matches!(e, nix::Error::EPERM | nix::Error::EBUSY) {
                return Err(Error::errno("mount cgroup2", e));
            }
            // With a cgroup namespace, what it would show: our own cgroup.
            let v2 = ctx.cgroup.dirs.iter().find(|d| d.v2);
            let own = ctx.own_cgroup2.borrow().clone();
            let dir = match (v2, own) {
                (Some(_), Some(own)) if ctx.new_cgroup_ns => own,
                (Some(d), _) if ctx.new_cgroup_ns => d.full(),
                (Some(d), _) => d.mount.clone(),
                (None, _) => PathBuf::from("/sys/fs/cgroup"),
            };
            bind_path(&dir, &target)?;
            remount(&reopen(root, dest)?, libc::MS_BIND | base | ro)?;
        }
        return Ok(());
    }
    sys::mount(
        Some("tmpfs"),
        &sys::fd_path(&target),
        Some("tmpfs"),
        base,
        Some("mode=755"),
    )
    .map_err(|e| Error::errno("mount tmpfs for cgroups", e))?;
    // The tmpfs is new and holds only what we make in it, so its
    // directories are named relative to it, with no walk from the root.
    // Each hierarchy's cgroup goes in as a detached clone moved into its
    // directory; one recursive mount_setattr then gives the tmpfs and every
    // clone the mount's flags (where runc binds and remounts each one).
    let tmpfs = reopen(root, dest)?;
    for d in &ctx.cgroup.dirs {
        let Some(name) = d.mount.file_name() else {
            continue;
        };
        let cname = sys::cstr(name.as_encoded_bytes())?;
        let shown = || dest.join(name).display().to_string();
        // SAFETY: mkdirat relative to the tmpfs fd, NUL-terminated name.
        if unsafe { libc::mkdirat(tmpfs.as_raw_fd(), cname.as_ptr(), 0o755) } < 0 {
            return Err(Error::errno(
                format!("mkdir {}", shown()),
                nix::Error::last(),
            ));
        }
        let full = d.full();
        let clone = sys::open_tree_detached(&sys::cpath(&full)?, true)
            .map_err(|e| Error::errno(format!("bind {}", full.display()), e))?;
        sys::move_mount_into(clone.as_raw_fd(), tmpfs.as_raw_fd(), &cname)
            .map_err(|e| Error::errno(format!("bind {} to {}", full.display(), shown()), e))?;
        link_combined_controllers(&tmpfs, name.as_encoded_bytes())
            .map_err(|e| e.context(format!("in {}", dest.display())))?;
    }
    set_tree_flags(&tmpfs, base | ro)
        .map_err(|e| Error::errno(format!("mount_setattr {}", dest.display()), e))
}

/// A hierarchy of several controllers ("cpu,cpuacct", "net_cls,net_prio")
/// is also reached by each controller's name, a symlink to it, as runc
/// makes them and as the host has them: a program reading
/// /sys/fs/cgroup/cpu/cpu.cfs_quota_us finds it. One that exists (the
/// host's layout named a controller twice) is left alone.
fn link_combined_controllers(dir: &OwnedFd, name: &[u8]) -> Result<()> {
    if !name.contains(&b',') {
        return Ok(());
    }
    let target = sys::cstr(name)?;
    for controller in name.split(|b| *b == b',').filter(|c| !c.is_empty()) {
        let link = sys::cstr(controller)?;
        match sys::symlinkat(&target, dir.as_raw_fd(), &link) {
            Ok(()) | Err(nix::Error::EEXIST) => {}
            Err(e) => {
                return Err(Error::errno(
                    format!(
                        "symlink {} -> {}",
                        link.to_string_lossy(),
                        target.to_string_lossy()
                    ),
                    e,
                ));
            }
        }
    }
    Ok(())
}

/// mount(2) flags as mount_setattr(2) attributes, on a mount and every
/// mount under it. The access-time mode is changed only where the flags
/// name one; a user namespace may not change one its mount was locked
/// with, so on EPERM the mount's own mode is kept, as `remount` does.
fn set_tree_flags(tree: &OwnedFd, flags: libc::c_ulong) -> nix::Result<()> {
    let mut set = 0;
    for (ms, attr) in [
        (libc::MS_RDONLY, MOUNT_ATTR_RDONLY),
        (libc::MS_NOSUID, MOUNT_ATTR_NOSUID),
        (libc::MS_NODEV, MOUNT_ATTR_NODEV),
        (libc::MS_NOEXEC, MOUNT_ATTR_NOEXEC),
        (libc::MS_NODIRATIME, MOUNT_ATTR_NODIRATIME),
    ] {
        if flags & ms != 0 {
            set |= attr;
        }
    }
    let atime = if flags & libc::MS_NOATIME != 0 {
        Some(MOUNT_ATTR_NOATIME)
    } else if flags & libc::MS_STRICTATIME != 0 {
        Some(MOUNT_ATTR_STRICTATIME)
    } else if flags & libc::MS_RELATIME != 0 {
        Some(MOUNT_ATTR_RELATIME)
    } else {
        None
    };
    let fd = tree.as_raw_fd();
    match atime {
        Some(a) => match sys::mount_setattr_recursive(fd, set | a, MOUNT_ATTR__ATIME) {
            Err(nix::Error::EPERM) => sys::mount_setattr_recursive(fd, set, 0),
            other => other,
        },
        None => sys::mount_setattr_recursive(fd, set, 0),
    }
}

fn bind_path(src: &Path, target: &OwnedFd) -> Result<()> {
    let s = src.to_string_lossy();
    sys::mount(
        Some(&s),
        &sys::fd_path(target),
        None,
        libc::MS_BIND | libc::MS_REC,
        None,
    )
    .map_err(|e| Error::errno(format!("bind {s}"), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As runc: "cpu,cpuacct" gets "cpu" and "cpuacct" links to it; a
    /// single-controller hierarchy gets none; a name already there stays.
    #[test]
    fn combined_hierarchies_are_linked_by_each_controller() {
        let dir = std::env::temp_dir().join(format!("rt-cgroup-links-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("cpu,cpuacct")).unwrap();
        std::fs::create_dir_all(dir.join("net_prio")).unwrap();
        let fd: OwnedFd = std::fs::File::open(&dir).unwrap().into();
        link_combined_controllers(&fd, b"cpu,cpuacct").unwrap();
        link_combined_controllers(&fd, b"net_cls,net_prio").unwrap();
        link_combined_controllers(&fd, b"memory").unwrap();
        for (link, to) in [
            ("cpu", "cpu,cpuacct"),
            ("cpuacct", "cpu,cpuacct"),
            ("net_cls", "net_cls,net_prio"),
        ] {
            assert_eq!(std::fs::read_link(dir.join(link)).unwrap(), Path::new(to));
        }
        assert!(dir.join("net_prio").is_dir(), "existing entry kept");
        assert!(!dir.join("memory").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
