//! Garbage collection of the store, after `rmi` and `prune`.
//!
//! What stays: every blob reachable from index.json (image indexes,
//! manifests, configs, layers), and the layers the step cache still
//! records, except the layers of the images just removed (`released`): so
//! `rmi` frees what only the removed images held, while the build cache of
//! other builds (intermediate stages, say) survives, and `prune` (which
//! drops the step cache first) frees everything no image needs. Cache
//! records whose layer is collected go too (they would be misses anyway),
//! and so do unpacked layers (`unpacked/<diff_id>`) no kept layer has.
//!
//! Builds and imports write blobs before a name points at them, so they
//! hold the GC lock shared for their whole run; collection takes it
//! exclusively without waiting and is skipped while one runs.

use super::Store;
use super::fsutil::{Lock, LockMode};
use crate::image::{self, Descriptor, Index, Manifest};
use std::collections::HashSet;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub blobs: usize,
    pub bytes: u64,
    pub unpacked: usize,
    pub cache_records: usize,
}

/// A flock on `rt-build/gc.lock`, released when dropped.
pub type GcLock = Lock;

/// Collection takes the lock exclusively and only if free (a running build
/// holds it shared): `None` then.
fn lock(store: &Store, exclusive: bool) -> Result<Option<GcLock>, String> {
    let mode = if exclusive {
        LockMode::ExclusiveIfFree
    } else {
        LockMode::Shared
    };
    Lock::take(&store.state_dir().join("gc.lock"), mode)
}

/// Held by a build or an import: no collection meanwhile.
pub fn hold(store: &Store) -> Result<GcLock, String> {
    lock(store, false)?.ok_or_else(|| "gc lock not taken".to_string())
}

/// The layer (and config) blobs of the named manifests.
pub fn blobs_of(store: &Store, manifests: &[Descriptor]) -> HashSet<String> {
    let mut out = HashSet::new();
    for d in manifests {
        let _ = walk(store, d, &mut out, &mut HashSet::new());
    }
    out
}

/// Adds `desc` and what it references to `live`; diff_ids to `diff_ids`.
fn walk(
    store: &Store,
    desc: &Descriptor,
    live: &mut HashSet<String>,
    diff_ids: &mut HashSet<String>,
) -> Result<(), String> {
    if !live.insert(desc.digest.clone()) {
        return Ok(());
    }
    let bytes = store.read_blob(&desc.digest)?;
    let shown = desc.digest.clone();
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| format!("{shown}: {e}"))?;
    if value.get("manifests").is_some() {
        let index: Index = image::from_json(&bytes, &shown)?;
        for m in &index.manifests {
            walk(store, m, live, diff_ids)?;
        }
        return Ok(());
    }
    let manifest: Manifest = image::from_json(&bytes, &shown)?;
    live.insert(manifest.config.digest.clone());
    for l in &manifest.layers {
        live.insert(l.digest.clone());
    }
    if let Ok(cfg) = store.read_blob(&manifest.config.digest)
        && let Ok(c) = serde_json::from_slice::<serde_json::Value>(&cfg)
        && let Some(ids) = c["rootfs"]["diff_ids"].as_array()
    {
        diff_ids.extend(ids.iter().filter_map(|d| d.as_str().map(String::from)));
    }
    Ok(())
}

/// Collects; `None` when a build or import holds the store.
pub fn collect(store: &Store, released: &HashSet<String>) -> Result<Option<Report>, String> {
    let Some(_guard) = lock(store, true)? else {
        return Ok(None);
    };
    let mut live = HashSet::new();
    let mut diff_ids = HashSet::new();
    // An index entry we cannot read aborts the collection: deleting on a
    // partial view would lose data.
    for d in &store.index()?.manifests {
        walk(store, d, &mut live, &mut diff_ids)
            .map_err(|e| format!("not collecting garbage: {e}"))?;
    }
    let mut report = Report::default();
    let cache_dir = store.state_dir().join("cache");
    for e in std::fs::read_dir(&cache_dir)
        .into_iter()
        .flatten()
        .flatten()
    {
        let Ok(bytes) = std::fs::read(e.path()) else {
            continue;
        };
        let Ok(rec) = serde_json::from_slice::<crate::solver::cache::Record>(&bytes) else {
            continue;
        };
        let Some(layer) = rec.layer else { continue };
        let keep = live.contains(&layer.digest)
            || (!released.contains(&layer.digest) && store.has_blob(&layer.digest));
        if keep {
            live.insert(layer.digest);
            diff_ids.insert(layer.diff_id);
        } else if std::fs::remove_file(e.path()).is_ok() {
            report.cache_records += 1;
        }
    }
    let blobs = store.root.join("blobs/sha256");
    for e in std::fs::read_dir(&blobs).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        // Only digest-named files: anything else is not ours to judge.
        if name.len() != 64 || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
            continue;
        }
        if live.contains(&format!("sha256:{name}")) {
            continue;
        }
        let size = e.metadata().map(|m| m.len()).unwrap_or(0);
        if std::fs::remove_file(e.path()).is_ok() {
            report.blobs += 1;
            report.bytes += size;
        }
    }
    let unpacked = store.state_dir().join("unpacked");
    for e in std::fs::read_dir(&unpacked).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.len() != 64 || diff_ids.contains(&format!("sha256:{name}")) {
            continue;
        }
        if super::fsutil::remove_tree(&e.path()).is_ok() {
            super::unsynced::forget(store, &format!("sha256:{name}"));
            report.unpacked += 1;
        }
    }
    Ok(Some(report))
}

/// `prune`: drops the step cache and the cache mounts, then collects.
pub fn prune(store: &Store) -> Result<(usize, usize, Option<Report>), String> {
    let Some(guard) = lock(store, true)? else {
        return Err("a build or import is running on this store; try again after it".into());
    };
    let mut records = 0;
    let cache_dir = store.state_dir().join("cache");
    for e in std::fs::read_dir(&cache_dir)
        .into_iter()
        .flatten()
        .flatten()
    {
        if std::fs::remove_file(e.path()).is_ok() {
            records += 1;
        }
    }
    let mounts = crate::solver::cache_mounts::prune(&store.state_dir())?;
    drop(guard);
    let report = collect(store, &HashSet::new())?;
    Ok((records, mounts, report))
}
