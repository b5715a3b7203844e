//! Which repositories a blob is known to be in (pulled from, pushed to),
//! so a push to another repository of the same registry can ask for a
//! cross-repository mount instead of uploading the bytes again. One small
//! file per blob under the store's `rt-build/registry-sources/`, lines of
//! `registry/repository`; losing it only costs an upload.

use crate::image::store::Store;
use std::path::PathBuf;

/// Lines kept per blob: enough candidates, bounded file.
const MAX_SOURCES: usize = 16;

fn path(store: &Store, digest: &str) -> Result<PathBuf, String> {
    let hex = crate::image::digest::hex_part(digest)?;
    Ok(store.state_dir().join("registry-sources").join(hex))
}

/// The repositories (`registry/repository`) `digest` is known to be in.
pub fn known(store: &Store, digest: &str) -> Vec<String> {
    let Ok(p) = path(store, digest) else {
        return Vec::new();
    };
    std::fs::read_to_string(p)
        .map(|t| {
            t.lines()
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Remembers that `digest` is in `registry/repository` (best effort: a
/// failure here must not fail a pull or push).
pub fn record(store: &Store, digest: &str, registry: &str, repository: &str) {
    let Ok(p) = path(store, digest) else {
        return;
    };
    let entry = format!("{registry}/{repository}");
    let mut list = known(store, digest);
    if list.contains(&entry) {
        return;
    }
    list.insert(0, entry);
    list.truncate(MAX_SOURCES);
    if let Some(dir) = p.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ =
        crate::image::store::fsutil::write_atomic(&p, format!("{}\n", list.join("\n")).as_bytes());
}

/// Repositories on `registry` other than `repository` holding `digest`.
pub fn mount_candidates(
    store: &Store,
    digest: &str,
    registry: &str,
    repository: &str,
) -> Vec<String> {
    known(store, digest)
        .into_iter()
        .filter_map(|l| {
            l.strip_prefix(&format!("{registry}/"))
                .filter(|repo| *repo != repository)
                .map(str::to_string)
        })
        .collect()
}
