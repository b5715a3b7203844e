//! COPY / ADD file semantics (Docker's):
//! - sources are paths or Go-style wildcards relative to the source root
//!   (the context, a stage, an image); `.dockerignore` and `--exclude`
//!   hide entries; a source that matches nothing is an error;
//! - a directory source copies its *contents*; with several sources (or a
//!   wildcard) the destination must end in `/`; a destination ending in
//!   `/` or naming an existing directory receives `basename(src)`;
//! - `--parents` keeps each source's path (from the root, or from a `/./`
//!   pivot in the pattern) under the destination;
//! - files keep their mode and mtime; owners become `--chown`'s, else
//!   0:0 for the context, heredocs and URLs, while files from a stage or
//!   an image keep their uid/gid (BuildKit and buildah do the same);
//!   `--chmod` rewrites the permission bits of everything copied.

use crate::frontend::context::ignore::IgnoreRules;
use crate::image::layer::paths::{clean, resolve_full, resolve_parent};
use crate::solver::chmod::Chmod;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// One matched source: a path relative to the source root, and the part
/// `--parents` keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    pub rel: PathBuf,
    pub keep: PathBuf,
    pub wildcard: bool,
}

/// What filters the source tree.
pub struct Filter<'a> {
    pub ignore: Option<&'a IgnoreRules>,
    pub exclude: Option<IgnoreRules>,
}

impl Filter<'_> {
    pub fn new<'a>(
        ignore: Option<&'a IgnoreRules>,
        excludes: &[String],
    ) -> Result<Filter<'a>, String> {
        let exclude = if excludes.is_empty() {
            None
        } else {
            Some(IgnoreRules::parse(&excludes.join("\n"), "--exclude").map_err(|e| e.message)?)
        };
        Ok(Filter { ignore, exclude })
    }

    /// `rel` from the source root; `within` from the matched source.
    pub fn hides(&self, rel: &Path, within: &Path) -> bool {
        let r = rel.to_string_lossy();
        if self.ignore.is_some_and(|i| i.is_excluded(&r)) {
            return true;
        }
        self.exclude.as_ref().is_some_and(|x| {
            x.is_excluded(&r)
                || (!within.as_os_str().is_empty() && x.is_excluded(&within.to_string_lossy()))
        })
    }
}

fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

fn component_matches(pattern: &str, name: &str) -> bool {
    IgnoreRules::parse(pattern, "pattern").is_ok_and(|r| r.is_excluded(name))
}

/// Expands one source pattern against `root`.
pub fn expand(root: &Path, pattern: &str, filter: &Filter) -> Result<Vec<Match>, String> {
    // `--parents` pivot: `a/./b/c` keeps `b/c`.
    let (pivot, pat) = match pattern.split_once("/./") {
        Some((pre, post)) => (Some(clean(Path::new(pre))), format!("{pre}/{post}")),
        None => (None, pattern.to_string()),
    };
    let cleaned = clean(Path::new(&pat));
    let wildcard = has_wildcard(&pat);
    let mut found = vec![PathBuf::new()];
    for comp in cleaned.components() {
        let c = comp.as_os_str().to_string_lossy().into_owned();
        let mut next = Vec::new();
        for base in &found {
            if has_wildcard(&c) {
                let dir = resolve_full(root, base)?;
                let Ok(rd) = std::fs::read_dir(&dir) else {
                    continue;
                };
                let mut names: Vec<String> = rd
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect();
                names.sort();
                for n in names {
                    if component_matches(&c, &n) {
                        next.push(base.join(n));
                    }
                }
            } else {
                next.push(base.join(&c));
            }
        }
        found = next;
    }
    let mut out = Vec::new();
    for rel in found {
        let host = resolve_full(root, &rel)?;
        if std::fs::symlink_metadata(&host).is_err() {
            continue;
        }
        if !rel.as_os_str().is_empty()
            && filter
                .ignore
                .is_some_and(|i| i.is_excluded(&rel.to_string_lossy()) && !i.has_exceptions())
        {
            continue;
        }
        let keep = match &pivot {
            Some(p) => rel.strip_prefix(p).unwrap_or(&rel).to_path_buf(),
            None => rel.clone(),
        };
        out.push(Match {
            rel,
            keep,
            wildcard,
        });
    }
    if out.is_empty() {
        return Err(format!(
            "{pattern}: not found in the source (or excluded by .dockerignore)"
        ));
    }
    Ok(out)
}

/// Where and how things are copied.
pub struct Dest<'a> {
    pub rootfs: &'a Path,
    /// Absolute path in the image; a trailing `/` means "a directory".
    pub path: String,
    /// `None`: every copied entry keeps its source's uid/gid (COPY --from
    /// without --chown); new files and directories are then 0:0.
    pub owner: Option<(u32, u32)>,
    pub chmod: Option<&'a Chmod>,
    pub parents: bool,
    /// Source (dev, inode) → where this COPY wrote it: files hard-linked
    /// in the source stay hard-linked in the copy (BuildKit's copier).
    pub links: std::cell::RefCell<std::collections::HashMap<(u64, u64), PathBuf>>,
}

impl Dest<'_> {
    /// True when the destination is a directory to copy into.
    pub fn is_dir(&self, multiple: bool) -> Result<bool, String> {
        if self.path.ends_with('/') || self.parents {
            return Ok(true);
        }
        let existing = resolve_full(self.rootfs, Path::new(&self.path))?;
        if existing.is_dir() {
            return Ok(true);
        }
        if multiple {
            return Err(format!(
                "when using COPY with more than one source file, the destination must be a directory and end with a / ({})",
                self.path
            ));
        }
        Ok(false)
    }

    /// Creates the destination directory (owned by the copy's owner).
    pub fn ensure_dir(&self, rel: &Path) -> Result<PathBuf, String> {
        mkdir_all(self.rootfs, rel, self.owner.unwrap_or((0, 0)))
    }

    /// The host path `rel` will be written at, its missing parents made
    /// (owned like ensure_dir's).
    pub fn prepare_parent(&self, rel: &Path) -> Result<PathBuf, String> {
        if let Some(parent) = clean(rel).parent() {
            self.ensure_dir(parent)?;
        }
        resolve_parent(self.rootfs, rel, false)
    }
}

/// `mkdir -p` inside `root` (symlinks followed within it): every directory
/// it makes is mode 0755 and owned by `owner`, as BuildKit's MkdirAll for
/// COPY destinations (with --chown's owner) and WORKDIR (the USER's).
pub fn mkdir_all(root: &Path, rel: &Path, owner: (u32, u32)) -> Result<PathBuf, String> {
    let rel = clean(rel);
    let mut prefix = PathBuf::new();
    let mut path = root.to_path_buf();
    for c in rel.components() {
        prefix.push(c);
        path = resolve_parent(root, &prefix, false)?;
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => continue,
            Ok(_) => {
                return Err(format!(
                    "{}: exists and is not a directory",
                    prefix.display()
                ));
            }
            Err(_) => {}
        }
        if std::fs::symlink_metadata(&path).is_ok() {
            // A dangling symlink: its target is what must exist.
            path = resolve_full(root, &prefix)?;
        }
        std::fs::create_dir(&path).map_err(|e| format!("mkdir {}: {e}", prefix.display()))?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| format!("chmod {}: {e}", prefix.display()))?;
        std::os::unix::fs::lchown(&path, Some(owner.0), Some(owner.1))
            .map_err(|e| format!("chown {}: {e}", prefix.display()))?;
    }
    Ok(path)
}

/// Copies the matches from `root` to `dest`.
/// `several_sources`: the instruction names more than one source.
pub fn copy_matches(
    root: &Path,
    matches: &[Match],
    dest: &Dest,
    filter: &Filter,
    several_sources: bool,
) -> Result<(), String> {
    let multiple = several_sources || matches.len() > 1 || matches.iter().any(|m| m.wildcard);
    let into_dir = dest.is_dir(multiple)?;
    let dest_rel = clean(Path::new(&dest.path));
    for m in matches {
        // A source named directly is followed if it is a symlink.
        let src = resolve_full(root, &m.rel)?;
        let meta = std::fs::metadata(&src).map_err(|e| format!("{}: {e}", m.rel.display()))?;
        let target_rel = if dest.parents {
            dest_rel.join(&m.keep)
        } else if meta.is_dir() {
            dest_rel.clone()
        } else if into_dir {
            dest_rel.join(m.rel.file_name().unwrap_or_default())
        } else {
            dest_rel.clone()
        };
        if meta.is_dir() {
            // The destination of a directory's contents is made like any
            // missing destination dir (0755, root or --chown), not copied
            // from the source dir (BuildKit's CreateDestPath MkdirAll).
            let dir = dest.ensure_dir(&target_rel)?;
            copy_tree(&src, &m.rel, Path::new(""), &dir, dest, filter)?;
        } else {
            let out = dest.prepare_parent(&target_rel)?;
            let out = if out.is_dir() {
                out.join(m.rel.file_name().unwrap_or_default())
            } else {
                out
            };
            copy_one(&src, &out, &meta, dest)?;
        }
    }
    Ok(())
}

fn copy_tree(
    src: &Path,
    src_rel: &Path,
    within: &Path,
    out_dir: &Path,
    dest: &Dest,
    filter: &Filter,
) -> Result<(), String> {
    let mut names: Vec<_> = std::fs::read_dir(src)
        .map_err(|e| format!("{}: {e}", src.display()))?
        .flatten()
        .map(|e| e.file_name())
        .collect();
    names.sort();
    for n in names {
        let rel = src_rel.join(&n);
        let w = within.join(&n);
        let s = src.join(&n);
        let m = std::fs::symlink_metadata(&s).map_err(|e| e.to_string())?;
        let hidden = filter.hides(&rel, &w);
        // An excluded directory is still walked when `!` exceptions may
        // re-include something inside it, but (as in Docker) it is only
        // copied if something inside it is.
        if hidden && !(m.is_dir() && filter.ignore.is_some_and(|i| i.has_exceptions())) {
            continue;
        }
        let o = out_dir.join(&n);
        if m.is_dir() {
            if std::fs::symlink_metadata(&o).is_ok_and(|x| !x.is_dir()) {
                crate::image::store::fsutil::remove_tree(&o).map_err(|e| e.to_string())?;
            }
            let created = !o.exists();
            if created {
                std::fs::create_dir(&o).map_err(|e| format!("mkdir {}: {e}", o.display()))?;
            }
            copy_tree(&s, &rel, &w, &o, dest, filter)?;
            if hidden && created && is_empty_dir(&o)? {
                std::fs::remove_dir(&o).map_err(|e| format!("rmdir {}: {e}", o.display()))?;
                continue;
            }
            set_meta(&s, &o, &m, dest)?;
        } else {
            copy_one(&s, &o, &m, dest)?;
        }
    }
    Ok(())
}

fn is_empty_dir(dir: &Path) -> Result<bool, String> {
    let mut entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(entries.next().is_none())
}

fn copy_one(src: &Path, out: &Path, m: &std::fs::Metadata, dest: &Dest) -> Result<(), String> {
    if std::fs::symlink_metadata(out).is_ok() {
        crate::image::store::fsutil::remove_tree(out).map_err(|e| e.to_string())?;
    }
    let linked = m.is_file() && m.nlink() > 1;
    if linked && let Some(first) = dest.links.borrow().get(&(m.dev(), m.ino())) {
        // Its metadata came with the first path.
        return std::fs::hard_link(first, out).map_err(|e| format!("link {}: {e}", out.display()));
    }
    crate::solver::snapshot::make_node(src, out, m)?;
    set_meta(src, out, m, dest)?;
    if linked {
        dest.links
            .borrow_mut()
            .insert((m.dev(), m.ino()), out.to_path_buf());
    }
    Ok(())
}

/// Owner, mode, file capability and mtime of one copied entry, in the
/// order that keeps them all: chown clears setuid/setgid bits and the
/// `security.capability` xattr, so the mode and xattr come after it, and
/// both may touch times, so the mtime comes last.
fn set_meta(src: &Path, out: &Path, m: &std::fs::Metadata, dest: &Dest) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let (uid, gid) = dest.owner.unwrap_or((m.uid(), m.gid()));
    std::os::unix::fs::lchown(out, Some(uid), Some(gid))
        .map_err(|e| format!("chown {}: {e}", out.display()))?;
    if !m.file_type().is_symlink() {
        let mode = match dest.chmod {
            Some(c) => c.apply(m.mode(), m.is_dir()),
            None => m.mode() & 0o7777,
        };
        std::fs::set_permissions(out, std::fs::Permissions::from_mode(mode))
            .map_err(|e| format!("chmod {}: {e}", out.display()))?;
        if m.is_file()
            && let Ok(Some(cap)) = xattr::get(src, "security.capability")
        {
            xattr::set(out, "security.capability", &cap)
                .map_err(|e| format!("security.capability on {}: {e}", out.display()))?;
        }
    }
    let t = filetime::FileTime::from_last_modification_time(m);
    filetime::set_symlink_file_times(out, t, t)
        .map_err(|e| format!("utimes {}: {e}", out.display()))
}

/// Writes `data` as a new file (COPY heredocs, ADD URLs).
pub fn write_file(
    dest: &Dest,
    name: &str,
    data: &[u8],
    mode: u32,
    into_dir: bool,
) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let dest_rel = clean(Path::new(&dest.path));
    let target = if into_dir {
        dest_rel.join(name)
    } else {
        dest_rel
    };
    let out = dest.prepare_parent(&target)?;
    let _ = crate::image::store::fsutil::remove_tree(&out);
    std::fs::write(&out, data).map_err(|e| format!("{}: {e}", target.display()))?;
    let (uid, gid) = dest.owner.unwrap_or((0, 0));
    std::os::unix::fs::lchown(&out, Some(uid), Some(gid)).map_err(|e| e.to_string())?;
    let mode = dest.chmod.map_or(mode, |c| c.apply(mode, false));
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(mode)).map_err(|e| e.to_string())
}

/// Every regular file, dir and symlink a match set covers, relative to the
/// root, after filtering: what the cache checksum is computed over.
pub fn list_files(root: &Path, matches: &[Match], filter: &Filter) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for m in matches {
        out.push(m.rel.clone());
        let host = resolve_full(root, &m.rel)?;
        if host.is_dir() {
            walk(&host, &m.rel, Path::new(""), filter, &mut out)?;
        }
    }
    Ok(out)
}

fn walk(
    dir: &Path,
    rel: &Path,
    within: &Path,
    filter: &Filter,
    out: &mut Vec<PathBuf>,
) -> Result<(), String> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.file_name())
        .collect();
    names.sort();
    for n in names {
        let r = rel.join(&n);
        let w = within.join(&n);
        let h = dir.join(&n);
        let is_dir = std::fs::symlink_metadata(&h).is_ok_and(|m| m.is_dir());
        if filter.hides(&r, &w) && !(is_dir && filter.ignore.is_some_and(|i| i.has_exceptions())) {
            continue;
        }
        out.push(r.clone());
        if is_dir {
            walk(&h, &r, &w, filter, out)?;
        }
    }
    Ok(())
}
