//! The image store: a plain OCI image layout (`oci-layout`, `index.json`,
//! `blobs/sha256/`) that skopeo and umoci read as `oci:DIR:name`. Names
//! are `org.opencontainers.image.ref.name` annotations in index.json.
//! Builder state lives beside it under `rt-build/` (extra files are allowed
//! in a layout): unpacked layers, the step cache, the file-hash cache, temp
//! files and the runtime's state dir.
//!
//! Every write is atomic: blobs are written to a temp file and renamed to
//! their digest; index.json is rewritten through a temp file under a lock.
//! A build killed half-way leaves at most unreferenced temp files, which
//! the next `open` sweeps.

pub mod fsutil;
pub mod gc;
pub mod unsynced;

use crate::image::digest::{HashWriter, hex_part, sha256_bytes};
use crate::image::{self, Descriptor, ImageConfig, Index, Manifest};
use fsutil::{Lock, write_atomic};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

pub struct Store {
    pub root: PathBuf,
}

/// An image read from the store (or from any layout).
#[derive(Debug, Clone)]
pub struct Image {
    pub manifest_desc: Descriptor,
    pub manifest: Manifest,
    pub config: ImageConfig,
}

/// `/var/lib/rt` for root, `$XDG_DATA_HOME/rt` (or `~/.local/share/rt`)
/// otherwise.
pub fn default_root() -> PathBuf {
    // SAFETY: geteuid has no failure mode.
    if unsafe { libc::geteuid() } == 0 {
        return PathBuf::from("/var/lib/rt");
    }
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x).join("rt");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/".into());
    PathBuf::from(home).join(".local/share/rt")
}

/// `name` → `name:latest`; a digest reference stays as it is.
pub fn normalize_name(name: &str) -> String {
    let last = name.rsplit('/').next().unwrap_or(name);
    if last.contains(':') || name.contains('@') {
        name.to_string()
    } else {
        format!("{name}:latest")
    }
}

impl Store {
    /// Opens (creating if needed) the layout at `root`.
    pub fn open(root: &Path) -> Result<Store, String> {
        std::fs::create_dir_all(root).map_err(|e| format!("{}: {e}", root.display()))?;
        // Absolute from here on: store paths end up in runtime specs (the
        // RUN network namespace, bind sources), which take no relative path.
        let root = std::fs::canonicalize(root).map_err(|e| format!("{}: {e}", root.display()))?;
        let s = Store { root };
        for d in [
            s.root.join("blobs/sha256"),
            s.state_dir().join("tmp"),
            s.state_dir().join("unpacked"),
            s.state_dir().join("cache"),
        ] {
            std::fs::create_dir_all(&d).map_err(|e| format!("{}: {e}", d.display()))?;
        }
        let layout = s.root.join("oci-layout");
        if !layout.exists() {
            write_atomic(&layout, br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        }
        let index = s.root.join("index.json");
        if !index.exists() {
            write_atomic(&index, &image::to_json(&Index::default()))?;
        }
        s.sweep_tmp();
        Ok(s)
    }

    /// Removes temp entries left by builds that died (their pid is gone).
    fn sweep_tmp(&self) {
        let Ok(rd) = std::fs::read_dir(self.tmp_dir()) else {
            return;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            // unique_name: PREFIX-PID-N-TIME, and PREFIX may hold dashes.
            let pid: Option<i32> = name.rsplit('-').nth(2).and_then(|p| p.parse().ok());
            let alive = pid.is_some_and(fsutil::pid_alive);
            if !alive {
                let _ = fsutil::remove_tree(&e.path());
            }
        }
    }

    pub fn state_dir(&self) -> PathBuf {
        self.root.join("rt-build")
    }

    pub fn tmp_dir(&self) -> PathBuf {
        self.state_dir().join("tmp")
    }

    pub fn blob_path(&self, digest: &str) -> Result<PathBuf, String> {
        Ok(self.root.join("blobs/sha256").join(hex_part(digest)?))
    }

    pub fn has_blob(&self, digest: &str) -> bool {
        self.blob_path(digest).is_ok_and(|p| p.exists())
    }

    pub fn read_blob(&self, digest: &str) -> Result<Vec<u8>, String> {
        let p = self.blob_path(digest)?;
        std::fs::read(&p).map_err(|e| format!("blob {digest}: {e}"))
    }

    /// Stores `data`; returns its digest.
    pub fn write_blob(&self, data: &[u8]) -> Result<String, String> {
        let digest = sha256_bytes(data);
        let path = self.blob_path(&digest)?;
        if !path.exists() {
            write_atomic(&path, data)?;
        }
        Ok(digest)
    }

    pub fn blob_writer(&self) -> Result<BlobWriter, String> {
        let tmp = self.tmp_dir().join(fsutil::unique_name("blob"));
        let f = File::create(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
        Ok(BlobWriter {
            inner: Some(HashWriter::new(BufWriter::new(f))),
            tmp,
            blobs: self.root.join("blobs/sha256"),
        })
    }

    pub fn index(&self) -> Result<Index, String> {
        let p = self.root.join("index.json");
        let bytes = std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        image::from_json(&bytes, &p.display().to_string())
    }

    /// Read-modify-write of index.json under the store lock.
    pub fn update_index<T>(
        &self,
        f: impl FnOnce(&mut Index) -> Result<T, String>,
    ) -> Result<T, String> {
        let _lock = Lock::acquire(&self.state_dir().join("lock"))?;
        let mut index = self.index()?;
        let out = f(&mut index)?;
        write_atomic(&self.root.join("index.json"), &image::to_json(&index))?;
        Ok(out)
    }

    /// Points `name` at a manifest (replacing what it, or an equivalent
    /// spelling like `name:latest`, named before). The name is stored as
    /// given, so `skopeo inspect oci:DIR:name` finds it.
    pub fn set_ref(&self, name: &str, manifest: &Descriptor) -> Result<(), String> {
        let full = normalize_name(name);
        let name = name.to_string();
        self.update_index(|index| {
            index
                .manifests
                .retain(|d| d.ref_name().map(normalize_name) != Some(full.clone()));
            let mut d = manifest.clone();
            d.annotations = Some(BTreeMap::from([(
                image::REF_NAME.to_string(),
                name.clone(),
            )]));
            index.manifests.push(d);
            Ok(())
        })
    }

    /// The manifest a name (`name`, `name:tag`) or a manifest digest
    /// (`sha256:...` or a unique hex prefix of at least 12 digits) names.
    pub fn resolve(&self, name: &str) -> Result<Option<Descriptor>, String> {
        let index = self.index()?;
        let full = normalize_name(name);
        let exact = index.manifests.iter().find(|d| d.ref_name() == Some(name));
        let equivalent = || {
            index
                .manifests
                .iter()
                .find(|d| d.ref_name().map(normalize_name) == Some(full.clone()))
        };
        if let Some(d) = exact.or_else(equivalent) {
            return Ok(Some(d.clone()));
        }
        let hex = name.strip_prefix("sha256:").unwrap_or(name);
        if hex.len() >= 12 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            let hits: Vec<&Descriptor> = index
                .manifests
                .iter()
                .filter(|d| d.digest["sha256:".len()..].starts_with(hex))
                .collect();
            if let Some(first) = hits.first()
                && hits.iter().all(|d| d.digest == first.digest)
            {
                return Ok(Some((*first).clone()));
            }
        }
        Ok(None)
    }

    pub fn load_image(&self, desc: &Descriptor) -> Result<Image, String> {
        load_image_from(&self.root, desc)
    }

    /// Stores a manifest + config for `layers`; returns the manifest descriptor.
    pub fn write_image(
        &self,
        config: &ImageConfig,
        layers: &[Descriptor],
    ) -> Result<Descriptor, String> {
        let config_bytes = image::to_json(config);
        let config_digest = self.write_blob(&config_bytes)?;
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(image::MT_MANIFEST.to_string()),
            config: Descriptor::new(image::MT_CONFIG, config_digest, config_bytes.len() as u64),
            layers: layers.to_vec(),
            annotations: None,
        };
        let bytes = image::to_json(&manifest);
        let digest = self.write_blob(&bytes)?;
        Ok(Descriptor::new(
            image::MT_MANIFEST,
            digest,
            bytes.len() as u64,
        ))
    }

    pub fn unpacked_dir(&self, diff_id: &str) -> Result<PathBuf, String> {
        Ok(self.state_dir().join("unpacked").join(hex_part(diff_id)?))
    }
}

/// Reads a manifest (following a one-level index to linux/amd64) and its
/// config from the layout at `root`.
pub fn load_image_from(root: &Path, desc: &Descriptor) -> Result<Image, String> {
    let read = |d: &str| -> Result<Vec<u8>, String> {
        let p = root.join("blobs/sha256").join(hex_part(d)?);
        std::fs::read(&p).map_err(|e| format!("blob {d} in {}: {e}", root.display()))
    };
    let mut desc = desc.clone();
    if desc.media_type == image::MT_INDEX
        || desc.media_type == "application/vnd.docker.distribution.manifest.list.v2+json"
    {
        let index: Index = image::from_json(&read(&desc.digest)?, &desc.digest)?;
        let pick = index
            .manifests
            .iter()
            .find(|m| {
                m.platform
                    .as_ref()
                    .is_none_or(|p| p["os"] == "linux" && p["architecture"] == "amd64")
            })
            .ok_or_else(|| format!("image index {} has no linux/amd64 manifest", desc.digest))?;
        desc = pick.clone();
    }
    let bytes = read(&desc.digest)?;
    if crate::image::digest::sha256_bytes(&bytes) != desc.digest {
        return Err(format!(
            "manifest {} does not match its digest",
            desc.digest
        ));
    }
    let manifest: Manifest = image::from_json(&bytes, &format!("manifest {}", desc.digest))?;
    let config_bytes = read(&manifest.config.digest)?;
    let config: ImageConfig =
        image::from_json(&config_bytes, &format!("config {}", manifest.config.digest))?;
    if config.rootfs.diff_ids.len() != manifest.layers.len() {
        return Err(format!(
            "image {}: config has {} diff_ids but the manifest {} layers",
            desc.digest,
            config.rootfs.diff_ids.len(),
            manifest.layers.len()
        ));
    }
    Ok(Image {
        manifest_desc: desc,
        manifest,
        config,
    })
}

/// A blob being written: hashed on the way, renamed to its digest at the end.
pub struct BlobWriter {
    inner: Option<HashWriter<BufWriter<File>>>,
    tmp: PathBuf,
    blobs: PathBuf,
}

impl BlobWriter {
    /// Moves the blob into place; returns (digest, size).
    pub fn finish(mut self) -> Result<(String, u64), String> {
        let tmp = self.tmp.clone();
        let inner = self.inner.take().expect("blob writer used after finish");
        let blobs = self.blobs.clone();
        let result = (|| {
            let (buf, digest, size) = inner.finish();
            let f = buf.into_inner().map_err(|e| e.to_string())?;
            f.sync_all().map_err(|e| e.to_string())?;
            let dest = blobs.join(hex_part(&digest)?);
            std::fs::rename(&tmp, &dest).map_err(|e| format!("{}: {e}", dest.display()))?;
            Ok((digest, size))
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.inner.as_mut().expect("open blob writer").write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.as_mut().expect("open blob writer").flush()
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        // After a successful finish the temp file was renamed away.
        let _ = std::fs::remove_file(&self.tmp);
    }
}
