//! The bundle's config.json: load it, check it, and hand out a typed spec.
//! Errors name the file and the JSON path of the offending field.

mod default;
mod validate;

pub use default::default_spec_json;
pub use validate::validate;

use crate::error::{Error, Result};
use oci_spec::runtime::Spec;
use std::path::{Path, PathBuf};

/// A loaded, validated bundle.
pub struct Bundle {
    /// Absolute bundle directory.
    pub dir: PathBuf,
    pub spec: Spec,
    /// Absolute path of the root filesystem.
    pub rootfs: PathBuf,
}

/// Reads and validates `<bundle>/config.json`.
pub fn load_bundle(dir: &Path) -> Result<Bundle> {
    let dir = std::fs::canonicalize(dir)
        .map_err(|e| Error::from(e).context(format!("bundle {}", dir.display())))?;
    let config = dir.join("config.json");
    let text = std::fs::read(&config)
        .map_err(|e| Error::from(e).context(format!("open {}", config.display())))?;
    let spec = parse(&text).map_err(|e| e.context("config.json"))?;
    validate(&spec).map_err(|e| e.context("config.json"))?;
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| Error::new("config.json: root: must be set"))?;
    let rootfs = if root.path().is_absolute() {
        root.path().clone()
    } else {
        dir.join(root.path())
    };
    let meta = std::fs::metadata(&rootfs)
        .map_err(|e| Error::from(e).context(format!("rootfs {}", rootfs.display())))?;
    if !meta.is_dir() {
        return Err(Error::new(format!(
            "rootfs {}: not a directory",
            rootfs.display()
        )));
    }
    Ok(Bundle { dir, spec, rootfs })
}

/// Parses config.json text. Type errors carry the JSON path
/// (`process.user.uid: invalid type ...`), syntax errors line and column.
pub fn parse(text: &[u8]) -> Result<Spec> {
    // Tracking the path costs a wrapper per value on every create; only a
    // config that fails is parsed again to say where.
    if let Ok(spec) = serde_json::from_slice(text) {
        return Ok(spec);
    }
    let de = &mut serde_json::Deserializer::from_slice(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() || path == "." {
            Error::new(inner.to_string())
        } else {
            Error::new(format!("{path}: {inner}"))
        }
    })
}
