//! The bundle's config.json: load it, check it, and hand out a typed spec.
//! Errors name the file and the JSON path of the offending field.

mod default;
#[cfg(test)]
mod fuzz;
mod validate;

pub use default::{default_spec_json, to_runc_text};
pub use validate::{process_has_no_nul, validate, validate_unified_key};

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
    let text = read_config(&config)?;
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

/// Reads config.json, which must be a regular file. Opened O_NONBLOCK so
/// that a FIFO (or a device) planted there cannot block `create` forever
/// in open(2) or read(2); fstat on the opened fd, not a stat of the path
/// before, so what is checked is what is read.
pub(crate) fn read_config(config: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let ctx = |what: &str| format!("{what} {}", config.display());
    // std opens with O_CLOEXEC.
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(config)
        .map_err(|e| Error::from(e).context(ctx("open")))?;
    let ft = f
        .metadata()
        .map_err(|e| Error::from(e).context(ctx("stat")))?
        .file_type();
    if !ft.is_file() {
        let kind = if ft.is_fifo() {
            "a FIFO"
        } else if ft.is_dir() {
            "a directory"
        } else if ft.is_char_device() || ft.is_block_device() {
            "a device"
        } else if ft.is_socket() {
            "a socket"
        } else {
            "a special file"
        };
        return Err(Error::new(format!(
            "{}: is {kind}, not a regular file",
            config.display()
        )));
    }
    let mut text = Vec::new();
    f.read_to_end(&mut text)
        .map_err(|e| Error::from(e).context(ctx("read")))?;
    Ok(text)
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
