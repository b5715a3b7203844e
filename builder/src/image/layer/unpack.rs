//! Layer tar → directory, in one of two shapes:
//! - `Target::Overlay`: a lower dir for overlayfs. Whiteouts become what
//!   overlay understands (char device 0:0; `trusted.overlay.opaque=y`).
//! - `Target::Flat`: changes applied onto a rootfs holding the layers
//!   below. `.wh.x` deletes x; `.wh..wh..opq` deletes what the lower layers
//!   put in the dir (whatever the entry order, since we remember what this
//!   layer wrote).
//!
//! Every host path is resolved inside the destination (`paths`), so
//! symlinks in the layer cannot redirect writes outside it.

use super::paths::{clean, resolve_full, resolve_parent};
use crate::image::archive::decompress;
use std::collections::HashSet;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Overlay,
    Flat,
}

/// Options for ADD's extraction, which keeps the archive's owners only
/// when asked to (Docker chowns extracted files to root unless --chown).
#[derive(Debug, Clone, Copy)]
pub struct UnpackOptions {
    pub target: Target,
    /// Numeric owner override for every entry.
    pub owner: Option<(u32, u32)>,
}

pub fn unpack_layer<R: Read>(
    reader: R,
    dest: &Path,
    target: Target,
    what: &str,
) -> Result<(), String> {
    unpack(
        reader,
        dest,
        UnpackOptions {
            target,
            owner: None,
        },
        what,
    )
}

/// Unpacks a (possibly compressed) tar stream into `dest`.
pub fn unpack<R: Read>(
    reader: R,
    dest: &Path,
    opts: UnpackOptions,
    what: &str,
) -> Result<(), String> {
    let (plain, _) = decompress(reader, what)?;
    let mut archive = tar::Archive::new(plain);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(opts.owner.is_none());
    archive.set_preserve_mtime(true);
    archive.set_unpack_xattrs(true);
    archive.set_overwrite(true);
    let mut written: HashSet<PathBuf> = HashSet::new();
    // Directory mtimes are set once everything is in place: each entry
    // (and whiteout) written into a directory afterwards would move it.
    let mut dir_times: Vec<(PathBuf, i64)> = Vec::new();
    let entries = archive.entries().map_err(|e| format!("{what}: {e}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("{what}: bad tar entry: {e}"))?;
        let raw = entry
            .path()
            .map_err(|e| format!("{what}: {e}"))?
            .into_owned();
        let rel = clean(&raw);
        let is_dir = entry.header().entry_type().is_dir();
        let mtime = entry.header().mtime().unwrap_or(0);
        apply_entry(&mut entry, &rel, dest, opts, &mut written)
            .map_err(|e| format!("{what}: {}: {e}", raw.display()))?;
        if is_dir && !rel.as_os_str().is_empty() {
            dir_times.push((rel, mtime.min(i64::MAX as u64) as i64));
        }
    }
    for (rel, mtime) in dir_times {
        let path = resolve_parent(dest, &rel, false)?;
        let t = filetime::FileTime::from_unix_time(mtime, 0);
        filetime::set_symlink_file_times(&path, t, t)
            .map_err(|e| format!("{what}: {}: times: {e}", rel.display()))?;
    }
    Ok(())
}

fn apply_entry<R: Read>(
    entry: &mut tar::Entry<R>,
    rel: &Path,
    dest: &Path,
    opts: UnpackOptions,
    written: &mut HashSet<PathBuf>,
) -> Result<(), String> {
    let Some(name) = rel.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Ok(()); // the root itself ("./"): keep the destination's own mode
    };
    let parent_rel = rel.parent().unwrap_or(Path::new("")).to_path_buf();
    if name == ".wh..wh..opq" {
        let dir = resolve_full(dest, &parent_rel)?;
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        match opts.target {
            Target::Overlay => xattr::set(&dir, "trusted.overlay.opaque", b"y")
                .map_err(|e| format!("set opaque xattr: {e}"))?,
            Target::Flat => clear_lower_children(&dir, &parent_rel, written)?,
        }
        return Ok(());
    }
    if let Some(hidden) = name.strip_prefix(".wh.") {
        if hidden.is_empty() {
            return Err("invalid whiteout `.wh.`".into());
        }
        let path = resolve_parent(dest, &parent_rel.join(hidden), true)?;
        remove_existing(&path)?;
        if opts.target == Target::Overlay {
            mknod_whiteout(&path)?;
        }
        return Ok(());
    }
    let path = resolve_parent(dest, rel, true)?;
    let kind = entry.header().entry_type();
    // Replace an existing entry of another type (a dir stays a dir).
    if let Ok(m) = std::fs::symlink_metadata(&path)
        && !(m.is_dir() && kind.is_dir())
    {
        remove_existing(&path)?;
    }
    if kind.is_hard_link() {
        let target = entry
            .link_name()
            .map_err(|e| e.to_string())?
            .ok_or("hard link without a target")?;
        let src = resolve_parent(dest, &clean(&target), false)?;
        std::fs::hard_link(&src, &path)
            .map_err(|e| format!("link to {}: {e}", target.display()))?;
    } else {
        entry.unpack(&path).map_err(|e| e.to_string())?;
        if let Some((uid, gid)) = opts.owner {
            std::os::unix::fs::lchown(&path, Some(uid), Some(gid)).map_err(|e| e.to_string())?;
        }
    }
    written.insert(rel.to_path_buf());
    Ok(())
}

/// For `.wh..wh..opq` on a flat rootfs: delete the dir's children that this
/// layer did not write itself.
fn clear_lower_children(dir: &Path, rel: &Path, written: &HashSet<PathBuf>) -> Result<(), String> {
    let rd = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for e in rd.flatten() {
        let child_rel = rel.join(e.file_name());
        let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
        if is_dir && written.iter().any(|w| w.starts_with(&child_rel)) {
            // Overlay hides lower content at every depth below an opaque
            // dir: keep only what this layer wrote.
            clear_lower_children(&e.path(), &child_rel, written)?;
            continue;
        }
        if written.contains(&child_rel) {
            continue;
        }
        crate::image::store::fsutil::remove_tree(&e.path()).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn remove_existing(path: &Path) -> Result<(), String> {
    crate::image::store::fsutil::remove_tree(path)
        .map_err(|e| format!("remove {}: {e}", path.display()))
}

/// Overlay's whiteout: a character device with number 0:0.
pub fn mknod_whiteout(path: &Path) -> Result<(), String> {
    let c =
        std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).map_err(|e| e.to_string())?;
    // SAFETY: mknod with a valid NUL-terminated path.
    let rc = unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR, 0) };
    if rc != 0 {
        return Err(format!(
            "mknod {}: {}",
            path.display(),
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// True when `m` is an overlay whiteout.
pub fn is_whiteout(m: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::FileTypeExt;
    m.file_type().is_char_device() && m.rdev() == 0
}
