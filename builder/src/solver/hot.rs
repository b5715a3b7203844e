//! Hot layers: COPY and WORKDIR steps keep their overlay upper dir on a
//! tmpfs of this builder process instead of the store's disk.
//!
//! Why: a COPY makes one inode per file, and making inodes is what such a
//! step costs on a disk filesystem. On ext4 without a journal each
//! allocation also skips every recently deleted inode of its group, so
//! after a big `rmi` or prune it grows with the number deleted: here,
//! copying a 20,000-file context takes 11 s onto ext4 and 1.8 s into a
//! tmpfs upper dir (the same overlay, the same lower dirs).
//!
//! Nothing else changes: the step runs the same copy code on the same
//! overlay; only the upper dir lives elsewhere, and the layer is written
//! from it as from any upper dir, so the image is the same byte for byte
//! (tests/hot_layers.rs builds with and without and compares digests).
//! The upper dir then stays on the tmpfs as a lower dir for the later
//! steps of this build, in place of the on-disk unpacked-layer cache.
//!
//! The tmpfs is mounted in the builder's private mount namespace, so it
//! goes away with the process, whatever ends it; a later build that needs
//! one of its layers unpacks the layer from its blob, as for any layer
//! not in the cache. It is bounded (`RT_BUILD_TMPFS_MB`, default a
//! quarter of the available memory and at most 2 GiB; 0 turns hot layers
//! off). A step that fails on the tmpfs (full, or for any other reason)
//! is done again on disk, so the tmpfs can never change a result.

use crate::image::store::Store;
use crate::image::store::fsutil::TempDir;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Default ceiling of the tmpfs.
const MAX_DEFAULT_BYTES: u64 = 2 << 30;

struct Area {
    /// The tmpfs mount point: a temp dir of the store, swept by a later
    /// store open once this process is gone.
    dir: PathBuf,
    /// diff_id → upper dir kept on the tmpfs.
    layers: HashMap<String, PathBuf>,
}

/// The area of this process: None until first used; Some(None) when hot
/// layers are off or the tmpfs could not be mounted.
static AREA: Mutex<Option<Option<Area>>> = Mutex::new(None);

/// The tmpfs's size in bytes: `RT_BUILD_TMPFS_MB`, else a quarter of
/// MemAvailable capped at 2 GiB. 0: no hot layers.
fn budget() -> u64 {
    if let Some(mb) = std::env::var("RT_BUILD_TMPFS_MB")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        return mb.saturating_mul(1 << 20);
    }
    let available = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemAvailable:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb.saturating_mul(1024));
    (available / 4).min(MAX_DEFAULT_BYTES)
}

fn mount_area(store: &Store) -> Option<Area> {
    let bytes = budget();
    if bytes < (16 << 20) {
        return None;
    }
    let dir = TempDir::new(&store.tmp_dir(), "hot").ok()?.keep();
    let opts = format!("size={}k,mode=0700", bytes / 1024);
    // The builder is in its own mount namespace (cli::build enters it
    // before any step), so this mount never reaches the host.
    if crate::solver::snapshot::mount("tmpfs", &dir, "tmpfs", 0, &opts).is_err() {
        let _ = std::fs::remove_dir(&dir);
        return None;
    }
    Some(Area {
        dir,
        layers: HashMap::new(),
    })
}

/// Where hot snapshots of this process go (a tmpfs), mounting it on
/// first use; None when hot layers are off or cannot be had.
pub fn area(store: &Store) -> Option<PathBuf> {
    let mut guard = AREA.lock().unwrap_or_else(|e| e.into_inner());
    guard
        .get_or_insert_with(|| mount_area(store))
        .as_ref()
        .map(|a| a.dir.clone())
}

/// Where the layer `diff_id`'s upper dir is kept on the tmpfs.
pub fn layer_dir(diff_id: &str) -> Option<PathBuf> {
    let guard = AREA.lock().unwrap_or_else(|e| e.into_inner());
    let area = guard.as_ref()?.as_ref()?;
    let hex = diff_id.strip_prefix("sha256:").unwrap_or(diff_id);
    Some(area.dir.join("layers").join(hex))
}

/// Records that `dir` (made by `layer_dir`) holds the layer `diff_id`.
pub fn keep(diff_id: &str, dir: PathBuf) {
    let mut guard = AREA.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(Some(area)) = guard.as_mut() {
        area.layers.insert(diff_id.to_string(), dir);
    }
}

/// The tmpfs copy of layer `diff_id`, if this process holds one.
pub fn lookup(diff_id: &str) -> Option<PathBuf> {
    let guard = AREA.lock().unwrap_or_else(|e| e.into_inner());
    let area = guard.as_ref()?.as_ref()?;
    area.layers.get(diff_id).cloned()
}

/// True when `path` lies on the hot tmpfs.
pub fn holds(path: &Path) -> bool {
    let guard = AREA.lock().unwrap_or_else(|e| e.into_inner());
    guard
        .as_ref()
        .and_then(|a| a.as_ref())
        .is_some_and(|a| path.starts_with(&a.dir))
}
