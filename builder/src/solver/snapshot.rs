//! A writable view of an image's filesystem for one build step.
//!
//! Overlay mode: overlayfs with the parent's unpacked layers as lowerdirs
//! and a fresh upper dir, which afterwards *is* the new layer (overlay
//! already records deletions as whiteouts). redirect_dir, metacopy and
//! index are off so the upper dir stands alone.
//!
//! Copy mode (no overlayfs, or too many layers for one mount's options):
//! the layers are copied into a plain dir, every entry's (inode, ctime) is
//! remembered, and afterwards the changed entries are copied into an
//! upper dir in overlay's format, so layer writing is the same for both.
//!
//! Mounts are made in the builder's private mount namespace (see
//! `namespace`) and unmounted when the step ends.

use crate::image::layer::unpack::{is_whiteout, mknod_whiteout};
use crate::image::store::fsutil::{TempDir, remove_tree};
use std::collections::HashMap;
use std::ffi::CString;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

pub struct Snapshot {
    pub merged: PathBuf,
    pub upper: PathBuf,
    dir: TempDir,
    mounted: bool,
    /// Mounted `volatile`: the upper dir's files were never synced.
    pub volatile: bool,
    baseline: Option<HashMap<PathBuf, Stamp>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    ino: u64,
    ctime: (i64, i64),
    is_dir: bool,
}

/// Whether RUN/COPY steps use overlayfs or copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Auto,
    Copy,
}

impl Snapshot {
    /// `lowers` bottom to top (the image's layer order).
    pub fn prepare(tmp: &Path, lowers: &[PathBuf], mode: Mode) -> Result<Snapshot, String> {
        let mut snap = Snapshot::unmounted(tmp)?;
        if mode == Mode::Auto && snap.mount_overlay(lowers).is_ok() {
            return Ok(snap);
        }
        for lower in lowers {
            merge_copy(lower, &snap.merged)?;
        }
        let mut base = HashMap::new();
        stamp_tree(&snap.merged, Path::new(""), &mut base)?;
        snap.baseline = Some(base);
        Ok(snap)
    }

    /// The snapshot's directories, nothing mounted yet.
    fn unmounted(tmp: &Path) -> Result<Snapshot, String> {
        let dir = TempDir::new(tmp, "snap")?;
        let merged = dir.path.join("merged");
        let upper = dir.path.join("upper");
        for d in [&merged, &upper] {
            std::fs::create_dir(d).map_err(|e| format!("{}: {e}", d.display()))?;
        }
        Ok(Snapshot {
            merged,
            upper,
            dir,
            mounted: false,
            volatile: false,
            baseline: None,
        })
    }

    /// An overlay snapshot with its upper dir under `tmp`, or an error
    /// when overlayfs cannot be mounted (no copy-mode fallback: the
    /// caller has a disk path to fall back to).
    pub fn prepare_overlay(tmp: &Path, lowers: &[PathBuf]) -> Result<Snapshot, String> {
        let mut snap = Snapshot::unmounted(tmp)?;
        snap.mount_overlay(lowers)?;
        Ok(snap)
    }

    fn mount_overlay(&mut self, lowers: &[PathBuf]) -> Result<(), String> {
        let work = self.dir.path.join("work");
        std::fs::create_dir(&work).map_err(|e| e.to_string())?;
        let mut lower_list: Vec<String> = lowers
            .iter()
            .rev()
            .map(|p| p.display().to_string())
            .collect();
        if lower_list.is_empty() {
            let empty = self.dir.path.join("empty");
            std::fs::create_dir(&empty).map_err(|e| e.to_string())?;
            lower_list.push(empty.display().to_string());
        }
        let opts = format!(
            "lowerdir={},upperdir={},workdir={},redirect_dir=off,metacopy=off,index=off",
            lower_list.join(":"),
            self.upper.display(),
            work.display()
        );
        if opts.len() >= 4000 {
            return Err("too many layers for one overlay mount".into());
        }
        // volatile (Linux 5.10+): no syncs to the upper filesystem. The
        // last unmount of an overlay otherwise syncs the whole filesystem
        // the upper dir is on (the store's disk: every dirty page on it,
        // not only the step's), which took 220 ms per RUN step here on a
        // busy machine. Nothing of a step is meant to be durable before
        // its layer is: the work dir is thrown away after each step, an
        // upper dir kept as a lower dir is marked unsynced (see
        // image/store/unsynced.rs), and on an older kernel the mount is
        // made without the option.
        let volatile = format!("{opts},volatile");
        self.volatile = mount("overlay", &self.merged, "overlay", 0, &volatile).is_ok();
        if !self.volatile {
            mount("overlay", &self.merged, "overlay", 0, &opts)?;
        }
        self.mounted = true;
        Ok(())
    }

    pub fn is_overlay(&self) -> bool {
        self.mounted
    }

    /// Ends the step: unmounts, or in copy mode fills the upper dir with
    /// the differences. The upper dir is then the layer's content.
    pub fn finish(&mut self) -> Result<(), String> {
        if self.mounted {
            umount(&self.merged)?;
            self.mounted = false;
            // The work dir holds overlay's private state; not layer content.
            let _ = remove_tree(&self.dir.path.join("work"));
            return Ok(());
        }
        if let Some(base) = self.baseline.take() {
            diff_into_upper(&self.merged, &self.upper, &base)?;
        }
        Ok(())
    }

    /// Moves the upper dir to `dest` (the unpacked-layer cache).
    pub fn take_upper(&self, dest: &Path) -> Result<(), String> {
        if dest.exists() {
            return Ok(());
        }
        std::fs::rename(&self.upper, dest).map_err(|e| format!("{}: {e}", dest.display()))
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        if self.mounted {
            let _ = umount(&self.merged);
        }
    }
}

fn cstr(s: &str) -> Result<CString, String> {
    CString::new(s).map_err(|e| e.to_string())
}

pub fn mount(
    source: &str,
    target: &Path,
    fstype: &str,
    flags: libc::c_ulong,
    data: &str,
) -> Result<(), String> {
    let (src, tgt, ty, dat) = (
        cstr(source)?,
        cstr(&target.display().to_string())?,
        cstr(fstype)?,
        cstr(data)?,
    );
    // SAFETY: all pointers are valid NUL-terminated strings for the call.
    let rc = unsafe {
        libc::mount(
            src.as_ptr(),
            tgt.as_ptr(),
            ty.as_ptr(),
            flags,
            dat.as_ptr() as *const libc::c_void,
        )
    };
    if rc != 0 {
        return Err(format!(
            "mount {fstype} on {}: {}",
            target.display(),
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

pub fn umount(target: &Path) -> Result<(), String> {
    let t = cstr(&target.display().to_string())?;
    // SAFETY: valid path string.
    let rc = unsafe { libc::umount2(t.as_ptr(), libc::MNT_DETACH) };
    if rc != 0 {
        return Err(format!(
            "umount {}: {}",
            target.display(),
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// Read-only merged view of `lowers` (for COPY --from): overlay needs two
/// lowers at least when there is no upper dir.
pub struct ReadOnlyView {
    pub root: PathBuf,
    _dir: TempDir,
    mounted: bool,
}

impl ReadOnlyView {
    pub fn new(tmp: &Path, lowers: &[PathBuf], mode: Mode) -> Result<ReadOnlyView, String> {
        let dir = TempDir::new(tmp, "view")?;
        let root = dir.path.join("root");
        std::fs::create_dir(&root).map_err(|e| e.to_string())?;
        let empty = dir.path.join("empty");
        std::fs::create_dir(&empty).map_err(|e| e.to_string())?;
        let mut list: Vec<String> = lowers
            .iter()
            .rev()
            .map(|p| p.display().to_string())
            .collect();
        list.push(empty.display().to_string());
        let opts = format!("lowerdir={}", list.join(":"));
        if mode == Mode::Auto
            && opts.len() < 4000
            && mount("overlay", &root, "overlay", libc::MS_RDONLY, &opts).is_ok()
        {
            return Ok(ReadOnlyView {
                root,
                _dir: dir,
                mounted: true,
            });
        }
        for lower in lowers {
            merge_copy(lower, &root)?;
        }
        Ok(ReadOnlyView {
            root,
            _dir: dir,
            mounted: false,
        })
    }
}

impl Drop for ReadOnlyView {
    fn drop(&mut self) {
        if self.mounted {
            let _ = umount(&self.root);
        }
    }
}

/// Copies an overlay-format layer dir onto `dest`, applying its whiteouts
/// and opaque dirs as overlay would.
pub fn merge_copy(layer: &Path, dest: &Path) -> Result<(), String> {
    let rd = std::fs::read_dir(layer).map_err(|e| format!("{}: {e}", layer.display()))?;
    for e in rd {
        let e = e.map_err(|e| e.to_string())?;
        let src = e.path();
        let dst = dest.join(e.file_name());
        let m = std::fs::symlink_metadata(&src).map_err(|e| e.to_string())?;
        if is_whiteout(&m) {
            remove_tree(&dst).map_err(|e| e.to_string())?;
            continue;
        }
        let existing = std::fs::symlink_metadata(&dst).ok();
        if m.is_dir() {
            let opaque = xattr::get(&src, "trusted.overlay.opaque")
                .ok()
                .flatten()
                .is_some_and(|v| v == b"y");
            if existing.as_ref().is_some_and(|x| !x.is_dir()) || (opaque && existing.is_some()) {
                remove_tree(&dst).map_err(|e| e.to_string())?;
            }
            if !dst.exists() {
                std::fs::create_dir(&dst).map_err(|e| format!("{}: {e}", dst.display()))?;
            }
            merge_copy(&src, &dst)?;
            copy_meta(&src, &dst, &m)?;
        } else {
            if existing.is_some() {
                remove_tree(&dst).map_err(|e| e.to_string())?;
            }
            copy_node(&src, &dst, &m)?;
        }
    }
    Ok(())
}

/// Copies one non-directory entry, keeping owner, mode and mtime.
pub fn copy_node(src: &Path, dst: &Path, m: &std::fs::Metadata) -> Result<(), String> {
    make_node(src, dst, m)?;
    copy_meta(src, dst, m)
}

/// Creates `dst` as a copy of the non-directory `src` (content, link
/// target or device), leaving its metadata to the caller.
pub fn make_node(src: &Path, dst: &Path, m: &std::fs::Metadata) -> Result<(), String> {
    let ft = m.file_type();
    if ft.is_symlink() {
        let t = std::fs::read_link(src).map_err(|e| e.to_string())?;
        std::os::unix::fs::symlink(&t, dst).map_err(|e| format!("{}: {e}", dst.display()))?;
    } else if ft.is_file() {
        std::fs::copy(src, dst).map_err(|e| format!("copy {}: {e}", src.display()))?;
    } else {
        let c = CString::new(dst.as_os_str().as_encoded_bytes()).map_err(|e| e.to_string())?;
        // SAFETY: mknod with a valid path; mode and rdev come from lstat.
        let rc = unsafe {
            libc::mknod(
                c.as_ptr(),
                m.mode() as libc::mode_t,
                m.rdev() as libc::dev_t,
            )
        };
        if rc != 0 {
            return Err(format!(
                "mknod {}: {}",
                dst.display(),
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}

/// Owner, permissions (not for symlinks), capability xattr and mtime.
pub fn copy_meta(src: &Path, dst: &Path, m: &std::fs::Metadata) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::os::unix::fs::lchown(dst, Some(m.uid()), Some(m.gid()))
        .map_err(|e| format!("chown {}: {e}", dst.display()))?;
    if !m.file_type().is_symlink() {
        std::fs::set_permissions(dst, std::fs::Permissions::from_mode(m.mode() & 0o7777))
            .map_err(|e| format!("chmod {}: {e}", dst.display()))?;
        if let Ok(Some(cap)) = xattr::get(src, "security.capability") {
            let _ = xattr::set(dst, "security.capability", &cap);
        }
    }
    let mtime = filetime::FileTime::from_last_modification_time(m);
    filetime::set_symlink_file_times(dst, mtime, mtime)
        .map_err(|e| format!("utimes {}: {e}", dst.display()))
}

fn stamp_tree(root: &Path, rel: &Path, out: &mut HashMap<PathBuf, Stamp>) -> Result<(), String> {
    let dir = root.join(rel);
    for e in std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let e = e.map_err(|e| e.to_string())?;
        let child = rel.join(e.file_name());
        let m = std::fs::symlink_metadata(root.join(&child)).map_err(|e| e.to_string())?;
        out.insert(
            child.clone(),
            Stamp {
                ino: m.ino(),
                ctime: (m.ctime(), m.ctime_nsec()),
                is_dir: m.is_dir(),
            },
        );
        if m.is_dir() {
            stamp_tree(root, &child, out)?;
        }
    }
    Ok(())
}

/// Copy mode's diff: what changed in `merged` since `base` was taken, in
/// overlay's upper-dir format. Returns whether anything below `rel` changed.
fn diff_into_upper(
    merged: &Path,
    upper: &Path,
    base: &HashMap<PathBuf, Stamp>,
) -> Result<(), String> {
    let mut now = HashMap::new();
    stamp_tree(merged, Path::new(""), &mut now)?;
    let mut changed: Vec<&PathBuf> = now
        .iter()
        .filter(|(p, s)| base.get(*p).is_none_or(|b| b != *s))
        .map(|(p, _)| p)
        .collect();
    changed.sort();
    // Per dir: how many entries it had and how many of them are gone.
    let mut children: HashMap<PathBuf, (usize, usize)> = HashMap::new();
    for p in base.keys() {
        let e = children
            .entry(p.parent().unwrap_or(Path::new("")).to_path_buf())
            .or_default();
        e.0 += 1;
        e.1 += usize::from(!now.contains_key(p));
    }
    let mut opaque: Vec<PathBuf> = Vec::new();
    for rel in changed {
        let src = merged.join(rel);
        let dst = upper.join(rel);
        ensure_parents(merged, upper, rel)?;
        let m = std::fs::symlink_metadata(&src).map_err(|e| e.to_string())?;
        if m.is_dir() {
            if !dst.exists() {
                std::fs::create_dir(&dst).map_err(|e| e.to_string())?;
            }
            copy_meta(&src, &dst, &m)?;
            // A dir that replaced another (new inode), or one whose old
            // entries are all gone (`rm -rf d && mkdir d` may reuse the
            // inode), hides the old content: opaque, as overlay records it.
            let emptied = children
                .get(rel.as_path())
                .is_some_and(|(all, gone)| all == gone);
            if base
                .get(rel)
                .is_some_and(|b| b.is_dir && (b.ino != m.ino() || emptied))
            {
                xattr::set(&dst, "trusted.overlay.opaque", b"y").map_err(|e| e.to_string())?;
                opaque.push(rel.clone());
            }
        } else {
            let _ = remove_tree(&dst);
            copy_node(&src, &dst, &m)?;
        }
    }
    let mut gone: Vec<&PathBuf> = base.keys().filter(|p| !now.contains_key(*p)).collect();
    gone.sort();
    for rel in gone {
        // Below a replaced (opaque) dir nothing of the old content shows.
        if opaque.iter().any(|o| rel.starts_with(o)) {
            continue;
        }
        // Only the topmost deleted path needs a whiteout.
        if rel
            .ancestors()
            .skip(1)
            .any(|a| !a.as_os_str().is_empty() && base.contains_key(a) && !now.contains_key(a))
        {
            continue;
        }
        ensure_parents(merged, upper, rel)?;
        mknod_whiteout(&upper.join(rel))?;
    }
    Ok(())
}

/// Creates `rel`'s parent dirs in `upper` with the metadata they have in
/// `merged`.
fn ensure_parents(merged: &Path, upper: &Path, rel: &Path) -> Result<(), String> {
    let Some(parent) = rel.parent() else {
        return Ok(());
    };
    let mut cur = PathBuf::new();
    for c in parent.components() {
        cur.push(c);
        let dst = upper.join(&cur);
        if !dst.exists() {
            std::fs::create_dir(&dst).map_err(|e| e.to_string())?;
            if let Ok(m) = std::fs::symlink_metadata(merged.join(&cur)) {
                copy_meta(&merged.join(&cur), &dst, &m)?;
            }
        }
    }
    Ok(())
}
