//! Resolving a path inside a root directory the way the container would
//! see it: symlinks are followed *within* the root (an absolute target is
//! taken relative to the root, `..` stops at the root), so a crafted layer
//! or build context can never make us write outside it.

use std::path::{Component, Path, PathBuf};

/// Splits a tar or Dockerfile path into clean components: leading `/` and
/// `.` dropped, `..` clamped at the root.
pub fn clean(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

/// The host path of `rel` inside `root`, following symlinks in every
/// component but the last within the root. With `create`, missing parent
/// directories are made (mode 0755, owned by the caller).
pub fn resolve_parent(root: &Path, rel: &Path, create: bool) -> Result<PathBuf, String> {
    let rel = clean(rel);
    let Some(name) = rel.file_name() else {
        return Ok(root.to_path_buf());
    };
    let parent = rel.parent().unwrap_or(Path::new(""));
    let dir = resolve_dir(root, parent, create, 0)?;
    Ok(dir.join(name))
}

/// Like `resolve_parent` but also follows a final symlink.
pub fn resolve_full(root: &Path, rel: &Path) -> Result<PathBuf, String> {
    resolve_dir(root, &clean(rel), false, 0)
}

fn resolve_dir(root: &Path, rel: &Path, create: bool, depth: u32) -> Result<PathBuf, String> {
    if depth > 40 {
        return Err(format!(
            "{}: too many levels of symbolic links",
            rel.display()
        ));
    }
    // `cur` is always a clean path relative to root with no symlinks.
    let mut cur = PathBuf::new();
    let comps: Vec<_> = rel.components().collect();
    for (i, c) in comps.iter().enumerate() {
        let Component::Normal(n) = c else { continue };
        let candidate = cur.join(n);
        let host = root.join(&candidate);
        match std::fs::symlink_metadata(&host) {
            Ok(m) if m.file_type().is_symlink() => {
                let target =
                    std::fs::read_link(&host).map_err(|e| format!("{}: {e}", host.display()))?;
                let joined = if target.is_absolute() {
                    target
                } else {
                    cur.join(target)
                };
                let rest: PathBuf = comps[i + 1..].iter().collect();
                return resolve_dir(root, &clean(&joined.join(rest)), create, depth + 1);
            }
            Ok(_) => cur = candidate,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
                std::fs::create_dir(&host).map_err(|e| format!("mkdir {}: {e}", host.display()))?;
                cur = candidate;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => cur = candidate,
            Err(e) => return Err(format!("{}: {e}", host.display())),
        }
    }
    Ok(root.join(cur))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_stay_inside_the_root() {
        let root = std::env::temp_dir().join(format!("rt-build-paths-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("real")).unwrap();
        std::os::unix::fs::symlink("/etc", root.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../real", root.join("rel")).unwrap();
        assert_eq!(
            resolve_parent(&root, Path::new("/abs/passwd"), false).unwrap(),
            root.join("etc/passwd")
        );
        assert_eq!(
            resolve_parent(&root, Path::new("rel/x"), false).unwrap(),
            root.join("real/x")
        );
        assert_eq!(clean(Path::new("/../a/./b/../c")), PathBuf::from("a/c"));
        let made = resolve_parent(&root, Path::new("abs/d/e"), true).unwrap();
        assert!(made.starts_with(&root) && root.join("etc/d").is_dir());
        std::fs::remove_dir_all(&root).unwrap();
    }
}
