//! `RUN --mount=type=cache` directories: persistent, kept across builds
//! under the store (`rt-build/cache-mounts/<sha256 of the id>`), never
//! part of a layer or a cache key. Sharing between concurrent builders
//! follows BuildKit: `shared` (default) lets everyone in, `locked` waits
//! for an exclusive flock, `private` takes the first free instance
//! (`<hash>`, `<hash>-1`, ...). A new directory gets the mount's
//! mode/uid/gid (0755, 0:0 by default) and, with `from=`, the content of
//! `from`'s source as its initial content.

use crate::image::store::fsutil::{Lock, LockMode, TempDir, remove_tree};
use std::path::{Path, PathBuf};

pub fn root(state_dir: &Path) -> PathBuf {
    state_dir.join("cache-mounts")
}

/// A cache directory in use; its lock (if any) is held until dropped.
pub struct CacheDir {
    pub path: PathBuf,
    _lock: Option<Lock>,
}

pub struct NewDirOptions<'a> {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Initial content, copied in when the directory is created.
    pub seed: Option<&'a Path>,
}

/// Opens (creating on first use) the cache directory for `id`.
pub fn acquire(
    state_dir: &Path,
    id: &str,
    sharing: &str,
    new: &NewDirOptions,
) -> Result<CacheDir, String> {
    let base = root(state_dir);
    std::fs::create_dir_all(&base).map_err(|e| format!("{}: {e}", base.display()))?;
    let hash = crate::image::digest::sha256_bytes(id.as_bytes());
    let name = crate::image::digest::hex_part(&hash)?.to_string();
    let (path, lock) = match sharing {
        "locked" => {
            let lock = flock(&base.join(format!("{name}.lock")), true)?
                .ok_or("cache mount lock not taken")?;
            (base.join(&name), Some(lock))
        }
        "private" => {
            let mut found = None;
            for n in 0..1000 {
                let instance = if n == 0 {
                    name.clone()
                } else {
                    format!("{name}-{n}")
                };
                if let Some(l) = flock(&base.join(format!("{instance}.lock")), false)? {
                    found = Some((base.join(&instance), Some(l)));
                    break;
                }
            }
            found.ok_or_else(|| format!("cache mount {id:?}: no free private instance"))?
        }
        _ => (base.join(&name), None),
    };
    if !path.exists() {
        create(&base, &path, new).map_err(|e| format!("cache mount {id:?}: {e}"))?;
    }
    Ok(CacheDir { path, _lock: lock })
}

/// Builds the directory aside and renames it into place, so a builder
/// that dies half way leaves no half-seeded cache.
fn create(base: &Path, path: &Path, new: &NewDirOptions) -> Result<(), String> {
    let tmp = TempDir::new(base, ".new")?;
    let dir = tmp.path.join("d");
    std::fs::create_dir(&dir).map_err(|e| e.to_string())?;
    if let Some(seed) = new.seed {
        crate::solver::snapshot::merge_copy(seed, &dir)?;
    }
    std::os::unix::fs::chown(&dir, Some(new.uid), Some(new.gid)).map_err(|e| e.to_string())?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(new.mode))
        .map_err(|e| e.to_string())?;
    match std::fs::rename(&dir, path) {
        Ok(()) => Ok(()),
        // Another builder made it first: use theirs.
        Err(_) if path.is_dir() => Ok(()),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Removes every cache directory; returns how many there were.
pub fn prune(state_dir: &Path) -> Result<usize, String> {
    let base = root(state_dir);
    let Ok(rd) = std::fs::read_dir(&base) else {
        return Ok(0);
    };
    let mut n = 0;
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            // Skip directories a running build holds locked.
            let lock_path = base.join(format!("{}.lock", e.file_name().to_string_lossy()));
            let held = match flock(&lock_path, false) {
                Ok(Some(l)) => Some(l),
                _ => continue,
            };
            remove_tree(&p).map_err(|err| format!("{}: {err}", p.display()))?;
            drop(held);
            let _ = std::fs::remove_file(&lock_path);
            n += 1;
        }
    }
    Ok(n)
}

/// An exclusive lock on `path`; `None` when busy and not `wait`ing.
fn flock(path: &Path, wait: bool) -> Result<Option<Lock>, String> {
    let mode = if wait {
        LockMode::Exclusive
    } else {
        LockMode::ExclusiveIfFree
    };
    Lock::take(path, mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_instances_and_prune() {
        let state = std::env::temp_dir().join(format!("cache-mounts-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&state);
        let opts = NewDirOptions {
            mode: 0o700,
            uid: 0,
            gid: 0,
            seed: None,
        };
        let a = acquire(&state, "x", "private", &opts).unwrap();
        let b = acquire(&state, "x", "private", &opts).unwrap();
        assert_ne!(a.path, b.path);
        let shared = acquire(&state, "x", "shared", &opts).unwrap();
        assert_eq!(shared.path, a.path);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&a.path).unwrap().permissions().mode();
        assert_eq!(mode & 0o7777, 0o700);
        std::fs::write(a.path.join("f"), b"kept").unwrap();
        drop(b);
        let again = acquire(&state, "x", "shared", &opts).unwrap();
        assert_eq!(std::fs::read(again.path.join("f")).unwrap(), b"kept");
        // `a` is locked (private): prune leaves it, removes the free one.
        assert_eq!(prune(&state).unwrap(), 1);
        assert!(a.path.exists());
        drop(a);
        assert_eq!(prune(&state).unwrap(), 1);
        std::fs::remove_dir_all(&state).unwrap();
    }
}
