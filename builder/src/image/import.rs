//! Bringing images into the store: `oci:DIR[:ref]`, `oci-archive:FILE[:ref]`,
//! `docker-archive:FILE[:ref]`, or a name already in the store. Blobs are
//! copied with their digests verified; Docker-archive layers keep their
//! bytes (uncompressed tars become OCI `tar` layers, digest = diff_id).

use crate::image::archive::{Compression, decompress};
use crate::image::digest::{HashReader, hex_part, sha256_bytes};
use crate::image::store::fsutil::TempDir;
use crate::image::store::{Image, Store, load_image_from};
use crate::image::{self, Descriptor, ImageConfig, Index, Manifest};
use serde::Deserialize;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Splits `PATH[:ref]`: a ref is what follows the last `:` if it has no `/`.
fn split_ref(s: &str) -> (&str, Option<&str>) {
    match s.rsplit_once(':') {
        Some((p, r)) if !r.contains('/') && !p.is_empty() => (p, Some(r)),
        _ => (s, None),
    }
}

/// Resolves an image reference, importing it when it is not a store name.
pub fn resolve(store: &Store, reference: &str) -> Result<Image, String> {
    if let Some(rest) = reference.strip_prefix("oci:") {
        let (dir, r) = split_ref(rest);
        return import_layout(store, Path::new(dir), r);
    }
    if let Some(rest) = reference.strip_prefix("oci-archive:") {
        let (file, r) = split_ref(rest);
        let tmp = TempDir::new(&store.tmp_dir(), "oci-archive")?;
        extract_tar(Path::new(file), &tmp.path)?;
        return import_layout(store, &tmp.path, r);
    }
    if let Some(rest) = reference.strip_prefix("docker-archive:") {
        let (file, r) = split_ref(rest);
        return import_docker_archive(store, Path::new(file), r);
    }
    match store.resolve(reference)? {
        Some(desc) => store.load_image(&desc),
        None => Err(format!(
            "image {reference:?} not found in the store {} (use `rt-build import`, or oci:DIR, oci-archive:FILE, docker-archive:FILE)",
            store.root.display()
        )),
    }
}

fn extract_tar(file: &Path, dest: &Path) -> Result<(), String> {
    let f = std::fs::File::open(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let (plain, _) = decompress(f, &file.display().to_string())?;
    let mut a = tar::Archive::new(plain);
    a.set_preserve_ownerships(false);
    a.unpack(dest)
        .map_err(|e| format!("{}: {e}", file.display()))
}

/// Copies a blob into the store, checking its digest.
fn copy_blob(store: &Store, src_root: &Path, digest: &str) -> Result<(), String> {
    if store.has_blob(digest) {
        return Ok(());
    }
    let src = src_root.join("blobs/sha256").join(hex_part(digest)?);
    let f =
        std::fs::File::open(&src).map_err(|e| format!("blob {digest}: {}: {e}", src.display()))?;
    let mut w = store.blob_writer()?;
    std::io::copy(&mut std::io::BufReader::new(f), &mut w)
        .map_err(|e| format!("copying blob {digest}: {e}"))?;
    let (got, _) = w.finish()?;
    if got != digest {
        return Err(format!(
            "blob {digest} in {} has digest {got}",
            src_root.display()
        ));
    }
    Ok(())
}

fn import_layout(store: &Store, dir: &Path, reference: Option<&str>) -> Result<Image, String> {
    let index_path = dir.join("index.json");
    let bytes = std::fs::read(&index_path).map_err(|e| format!("{}: {e}", index_path.display()))?;
    let index: Index = image::from_json(&bytes, &index_path.display().to_string())?;
    let desc = match reference {
        Some(r) => index
            .manifests
            .iter()
            .find(|d| {
                d.ref_name() == Some(r)
                    || d.ref_name().is_some_and(|n| {
                        crate::image::store::normalize_name(n)
                            == crate::image::store::normalize_name(r)
                    })
            })
            .ok_or_else(|| format!("{}: no image named {r:?}", dir.display()))?,
        None if index.manifests.len() == 1 => &index.manifests[0],
        None => {
            return Err(format!(
                "{}: {} images in the layout, name one (oci:DIR:NAME)",
                dir.display(),
                index.manifests.len()
            ));
        }
    };
    let img = load_image_from(dir, desc)?;
    if desc.media_type == image::MT_INDEX {
        copy_blob(store, dir, &desc.digest)?;
    }
    copy_blob(store, dir, &img.manifest_desc.digest)?;
    copy_blob(store, dir, &img.manifest.config.digest)?;
    for l in &img.manifest.layers {
        copy_blob(store, dir, &l.digest)?;
    }
    Ok(img)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifestEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

fn import_docker_archive(
    store: &Store,
    file: &Path,
    reference: Option<&str>,
) -> Result<Image, String> {
    let tmp = TempDir::new(&store.tmp_dir(), "docker-archive")?;
    extract_tar(file, &tmp.path)?;
    let mpath = tmp.path.join("manifest.json");
    let bytes =
        std::fs::read(&mpath).map_err(|e| format!("{}: no manifest.json: {e}", file.display()))?;
    let entries: Vec<DockerManifestEntry> =
        image::from_json(&bytes, "docker-archive manifest.json")?;
    let entry = match reference {
        Some(r) => entries
            .iter()
            .find(|e| {
                e.repo_tags.iter().flatten().any(|t| {
                    crate::image::store::normalize_name(t) == crate::image::store::normalize_name(r)
                })
            })
            .ok_or_else(|| format!("{}: no image tagged {r:?}", file.display()))?,
        None => entries
            .first()
            .ok_or_else(|| format!("{}: manifest.json lists no image", file.display()))?,
    };
    let inside = |p: &str| -> Result<PathBuf, String> {
        let c = crate::image::layer::paths::clean(Path::new(p));
        Ok(tmp.path.join(c))
    };
    let config_bytes =
        std::fs::read(inside(&entry.config)?).map_err(|e| format!("{}: {e}", entry.config))?;
    let config: ImageConfig = image::from_json(&config_bytes, &entry.config)?;
    if config.rootfs.diff_ids.len() != entry.layers.len() {
        return Err(format!(
            "{}: config has {} diff_ids for {} layers",
            file.display(),
            config.rootfs.diff_ids.len(),
            entry.layers.len()
        ));
    }
    let mut layers = Vec::new();
    for (i, lp) in entry.layers.iter().enumerate() {
        let path = inside(lp)?;
        let mut head = [0u8; 8];
        let n = std::fs::File::open(&path)
            .and_then(|mut f| f.read(&mut head))
            .map_err(|e| format!("{lp}: {e}"))?;
        let compression = crate::image::archive::detect(&head[..n]);
        let mut w = store.blob_writer()?;
        let f = std::fs::File::open(&path).map_err(|e| format!("{lp}: {e}"))?;
        std::io::copy(&mut std::io::BufReader::new(f), &mut w).map_err(|e| format!("{lp}: {e}"))?;
        let (digest, size) = w.finish()?;
        let media_type = match compression {
            Compression::None => {
                if digest != config.rootfs.diff_ids[i] {
                    return Err(format!(
                        "{lp}: content {digest} does not match diff_id {}",
                        config.rootfs.diff_ids[i]
                    ));
                }
                image::MT_LAYER_TAR
            }
            Compression::Gzip => {
                let f = std::fs::File::open(&path).map_err(|e| e.to_string())?;
                let mut r = HashReader::new(flate2::read::MultiGzDecoder::new(f));
                std::io::copy(&mut r, &mut std::io::sink()).map_err(|e| format!("{lp}: {e}"))?;
                let (diff, _) = r.finish();
                if diff != config.rootfs.diff_ids[i] {
                    return Err(format!(
                        "{lp}: uncompressed {diff} does not match diff_id {}",
                        config.rootfs.diff_ids[i]
                    ));
                }
                image::MT_LAYER_GZIP
            }
            other => return Err(format!("{lp}: {other:?} layers are not supported")),
        };
        layers.push(Descriptor::new(media_type, digest, size));
    }
    let config_digest = store.write_blob(&config_bytes)?;
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(image::MT_MANIFEST.into()),
        config: Descriptor::new(image::MT_CONFIG, config_digest, config_bytes.len() as u64),
        layers,
        annotations: None,
    };
    let mbytes = image::to_json(&manifest);
    let mdigest = store.write_blob(&mbytes)?;
    debug_assert_eq!(mdigest, sha256_bytes(&mbytes));
    Ok(Image {
        manifest_desc: Descriptor::new(image::MT_MANIFEST, mdigest, mbytes.len() as u64),
        manifest,
        config,
    })
}

/// The overlay lower dirs of an image's layers (bottom first), unpacking
/// any layer not yet in the store's cache.
pub fn unpacked_layers(
    store: &Store,
    img_layers: &[Descriptor],
    diff_ids: &[String],
) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for (desc, diff_id) in img_layers.iter().zip(diff_ids) {
        let dir = store.unpacked_dir(diff_id)?;
        if dir.exists() && !crate::image::store::unsynced::trusted(store, diff_id) {
            crate::image::store::unsynced::discard(store, diff_id)?;
        }
        if !dir.exists() {
            let tmp = TempDir::new(&store.tmp_dir(), "unpack")?;
            let blob = store.blob_path(&desc.digest)?;
            let f =
                std::fs::File::open(&blob).map_err(|e| format!("layer {}: {e}", desc.digest))?;
            crate::image::layer::unpack::unpack_layer(
                f,
                &tmp.path,
                crate::image::layer::unpack::Target::Overlay,
                &format!("layer {}", desc.digest),
            )?;
            // Unpacked files are not synced either: like a volatile
            // step's upper dir, the dir is trusted in this boot only.
            crate::image::store::unsynced::mark(store, diff_id)?;
            let path = tmp.keep();
            if std::fs::rename(&path, &dir).is_err() {
                // Someone else unpacked it meanwhile.
                let _ = crate::image::store::fsutil::remove_tree(&path);
            }
        }
        out.push(dir);
    }
    Ok(out)
}

/// Docker media types → OCI ones (same bytes), for manifests we write.
pub fn oci_layer_descriptor(d: &Descriptor) -> Descriptor {
    let mut d = d.clone();
    d.media_type = match d.media_type.as_str() {
        image::MT_DOCKER_LAYER_GZIP => image::MT_LAYER_GZIP.into(),
        image::MT_DOCKER_LAYER_TAR => image::MT_LAYER_TAR.into(),
        other => other.to_string(),
    };
    d.annotations = None;
    d
}
