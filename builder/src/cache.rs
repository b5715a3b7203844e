//! The step cache: key → what the step produced (a layer or nothing, and
//! when). Keys hash the parent filesystem's key and the step's full
//! definition (see `build`), so equal keys mean equal results.

use crate::layer::LayerInfo;
use crate::store::Store;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub layer: Option<LayerInfo>,
    pub created: String,
}

pub fn key(definition: &serde_json::Value) -> String {
    crate::digest::sha256_bytes(&serde_json::to_vec(definition).expect("JSON"))
}

fn path(store: &Store, key: &str) -> Result<std::path::PathBuf, String> {
    Ok(store
        .state_dir()
        .join("cache")
        .join(crate::digest::hex_part(key)?))
}

/// A usable record: its layer blob must still be in the store.
pub fn lookup(store: &Store, key: &str) -> Option<Record> {
    let bytes = std::fs::read(path(store, key).ok()?).ok()?;
    let rec: Record = serde_json::from_slice(&bytes).ok()?;
    match &rec.layer {
        Some(l) if !store.has_blob(&l.digest) => None,
        _ => Some(rec),
    }
}

pub fn save(store: &Store, key: &str, rec: &Record) -> Result<(), String> {
    let bytes = serde_json::to_vec(rec).map_err(|e| e.to_string())?;
    crate::store::fsutil::write_atomic(&path(store, key)?, &bytes)
}
