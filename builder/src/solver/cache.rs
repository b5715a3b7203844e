//! The step cache: key → what the step produced (a layer or nothing, and
//! when). Keys hash the parent filesystem's key and the step's full
//! definition (see `build`), so equal keys mean equal results.

use crate::image::layer::LayerInfo;
use crate::image::store::Store;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub layer: Option<LayerInfo>,
    pub created: String,
}

/// The version of what steps produce for a given definition. Bump it
/// whenever a fix changes a step's result (COPY's owners or filtering,
/// how RUN forms its command, a layer's tar encoding): records made by
/// an older rt-build would otherwise hand back the old, wrong layer.
/// Version 2: COPY --from keeps owners and setuid bits, excluded
/// directories are not copied empty, `RUN <<EOF` runs its body.
/// Version 3: COPY keeps hard links and makes missing parents with the
/// --chown owner; stages see their base's Env.
const SEMANTICS: &str = "rt-build-cache-v3";

pub fn key(definition: &serde_json::Value) -> String {
    let mut bytes = SEMANTICS.as_bytes().to_vec();
    bytes.push(b'\n');
    // A Value always serialises (its map keys are strings).
    bytes.extend(serde_json::to_vec(definition).unwrap_or_default());
    crate::image::digest::sha256_bytes(&bytes)
}

fn path(store: &Store, key: &str) -> Result<std::path::PathBuf, String> {
    Ok(store
        .state_dir()
        .join("cache")
        .join(crate::image::digest::hex_part(key)?))
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
    crate::image::store::fsutil::write_atomic(&path(store, key)?, &bytes)
}
