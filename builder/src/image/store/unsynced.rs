//! Unpacked layers whose files were never synced to disk.
//!
//! A step's overlay is mounted `volatile` (solver/snapshot.rs: no sync of
//! the whole store filesystem at every unmount), so an upper dir that
//! becomes `unpacked/<hex>` may be incomplete after a crash or a power
//! loss, while the layer's blob, which is fsynced, is whole. Such a dir is
//! recorded in `unsynced/<hex>` with the boot it was made in (the marker
//! is synced before the dir is moved into place); in a later boot the dir
//! is not trusted and the layer is unpacked again from its blob.

use super::Store;
use super::fsutil::{remove_tree, write_atomic};
use std::path::PathBuf;

fn marker(store: &Store, diff_id: &str) -> Result<PathBuf, String> {
    let dir = store.unpacked_dir(diff_id)?;
    let name = dir.file_name().unwrap_or_default().to_owned();
    Ok(store.state_dir().join("unsynced").join(name))
}

/// This boot's id (the kernel's random boot_id); empty if unreadable, in
/// which case no unsynced dir is ever trusted across processes that
/// cannot read it either.
fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Records, durably, that the unpacked dir of `diff_id` about to be put in
/// place was not synced.
pub fn mark(store: &Store, diff_id: &str) -> Result<(), String> {
    let path = marker(store, diff_id)?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    write_atomic(&path, boot_id().as_bytes())
}

/// Whether the unpacked dir of `diff_id` can be used: synced, or made in
/// this boot (its pages are then in the page cache whatever happened on
/// the disk).
pub fn trusted(store: &Store, diff_id: &str) -> bool {
    let Ok(path) = marker(store, diff_id) else {
        return false;
    };
    match std::fs::read_to_string(&path) {
        Ok(made_in) => {
            let now = boot_id();
            !now.is_empty() && made_in == now
        }
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    }
}

/// Drops the unpacked dir of `diff_id` and its marker (the layer is then
/// unpacked again from its blob when needed).
pub fn discard(store: &Store, diff_id: &str) -> Result<(), String> {
    let dir = store.unpacked_dir(diff_id)?;
    remove_tree(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    forget(store, diff_id);
    Ok(())
}

/// Removes the marker of `diff_id`, if any.
pub fn forget(store: &Store, diff_id: &str) {
    if let Ok(path) = marker(store, diff_id) {
        let _ = std::fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dir_made_in_another_boot_is_not_trusted() {
        let tmp = crate::image::store::fsutil::TempDir::new(&std::env::temp_dir(), "unsynced-test")
            .unwrap();
        let store = Store::open(&tmp.path).unwrap();
        let id = format!("sha256:{}", "ab".repeat(32));
        assert!(trusted(&store, &id), "no marker: synced");
        mark(&store, &id).unwrap();
        assert!(trusted(&store, &id), "marked in this boot");
        std::fs::write(marker(&store, &id).unwrap(), "another-boot").unwrap();
        assert!(!trusted(&store, &id), "marked in another boot");
        let dir = store.unpacked_dir(&id).unwrap();
        std::fs::create_dir_all(dir.join("etc")).unwrap();
        discard(&store, &id).unwrap();
        assert!(!dir.exists());
        assert!(trusted(&store, &id), "marker gone with the dir");
    }
}
