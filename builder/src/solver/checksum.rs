//! Content checksums of COPY/ADD sources for cache keys, BuildKit-style:
//! per entry its relative path, type, permission bits, size, symlink
//! target and content hash; never the mtime (touching a file does not
//! invalidate the cache) and not the owner (COPY resets it anyway).
//!
//! Content hashes are remembered in the store by (path, size, mtime,
//! inode, ctime), so a rebuild with unchanged files reads none of them.

use crate::image::digest::{hex, sha256_file};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Stat {
    size: u64,
    mtime_ns: i128,
    ino: u64,
    ctime_ns: i128,
    hash: String,
}

/// The persistent (path, stat) → content hash table.
pub struct FileHashes {
    path: PathBuf,
    map: BTreeMap<String, Stat>,
    dirty: bool,
    /// Files looked at and files actually read in this build.
    pub checked: usize,
    pub hashed: usize,
}

impl FileHashes {
    pub fn load(store_state: &Path) -> FileHashes {
        let path = store_state.join("file-hashes.json");
        let map = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        FileHashes {
            path,
            map,
            dirty: false,
            checked: 0,
            hashed: 0,
        }
    }

    pub fn save(&mut self) -> Result<(), String> {
        if !self.dirty {
            return Ok(());
        }
        let bytes = serde_json::to_vec(&self.map).map_err(|e| e.to_string())?;
        crate::image::store::fsutil::write_atomic(&self.path, &bytes)?;
        self.dirty = false;
        Ok(())
    }

    fn content_hash(&mut self, host: &Path, m: &std::fs::Metadata) -> Result<String, String> {
        self.checked += 1;
        let key = host.display().to_string();
        let stat = |hash: String| Stat {
            size: m.size(),
            mtime_ns: m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128,
            ino: m.ino(),
            ctime_ns: m.ctime() as i128 * 1_000_000_000 + m.ctime_nsec() as i128,
            hash,
        };
        if let Some(s) = self.map.get(&key)
            && *s == stat(s.hash.clone())
        {
            return Ok(s.hash.clone());
        }
        self.hashed += 1;
        let hash = sha256_file(host).map_err(|e| format!("{}: {e}", host.display()))?;
        self.map.insert(key, stat(hash.clone()));
        self.dirty = true;
        Ok(hash)
    }

    /// Checksum of `files` (relative to `root`, symlinks not followed
    /// except the top-level sources, as the copy does).
    pub fn checksum(
        &mut self,
        root: &Path,
        files: &[PathBuf],
        top: &[PathBuf],
    ) -> Result<String, String> {
        let mut h = Sha256::new();
        for rel in files {
            let host = if top.contains(rel) {
                crate::image::layer::paths::resolve_full(root, rel)?
            } else {
                crate::image::layer::paths::resolve_parent(root, rel, false)?
            };
            let m = if top.contains(rel) {
                std::fs::metadata(&host)
            } else {
                std::fs::symlink_metadata(&host)
            }
            .map_err(|e| format!("{}: {e}", rel.display()))?;
            let ft = m.file_type();
            let (kind, extra) = if ft.is_file() {
                ('f', self.content_hash(&host, &m)?)
            } else if ft.is_dir() {
                ('d', String::new())
            } else if ft.is_symlink() {
                (
                    'l',
                    std::fs::read_link(&host)
                        .map(|t| t.display().to_string())
                        .unwrap_or_default(),
                )
            } else {
                ('o', format!("{}", m.rdev()))
            };
            h.update(
                format!(
                    "{}\0{kind}\0{:o}\0{}\0{extra}\n",
                    rel.display(),
                    m.mode() & 0o7777,
                    m.size() * (kind == 'f') as u64
                )
                .as_bytes(),
            );
        }
        Ok(format!("sha256:{}", hex(&h.finalize())))
    }
}
