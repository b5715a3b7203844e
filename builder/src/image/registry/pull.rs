//! Pulling an image into the store: the manifest (an index or Docker
//! manifest list resolves to linux/amd64), its config and layers. Every
//! manifest and blob is checked against its digest (and size) while it is
//! streamed into a temp file in the store's tmp dir, and each layer,
//! uncompressed, against the config's diff_id; only then is it renamed
//! into `blobs/`. The config and manifest are stored last, so a tampered
//! registry leaves no image behind. Layers come in parallel, a few at a
//! time.
//!
//! Docker schema2 media types are stored as they are (an OCI layout may
//! hold them, and the manifest's digest must not change): the builder
//! reads both forms and writes OCI types into the images it makes
//! (`import::oci_layer_descriptor`). Pulled layers are unpacked into the
//! shared unpacked-layer cache (by diff_id) the first time a build uses
//! them, like any stored base.

use super::client::{Body, Client, status_error};
use super::{Reference, Settings, sources};
use crate::image::digest::{HashReader, HashWriter, hex_part, sha256_bytes};
use crate::image::store::{Image, Store};
use crate::image::{self, Descriptor, ImageConfig, Index, Manifest};
use std::io::{BufWriter, Read, Write};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use ureq::http::Method;

pub const MT_DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// What we ask for, best first.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";
/// Manifests and indexes are small documents; a bigger answer is refused.
pub const MAX_MANIFEST: u64 = 4 << 20;
/// Layers downloaded at once.
const PARALLEL: usize = 3;

pub fn pull(
    store: &Store,
    settings: &Settings,
    r: &Reference,
    quiet: bool,
) -> Result<Image, String> {
    let client = Client::new(settings, r, false)?;
    client.ping()?;
    let (mut bytes, mut media_type, mut digest) =
        get_manifest(&client, r.object(), r.digest.as_deref())?;
    if is_index(&media_type) {
        let index: Index = image::from_json(&bytes, &format!("index {digest} of {r}"))?;
        let pick = choose_platform(&index).map_err(|e| format!("{r} ({digest}): {e}"))?;
        let expected = pick.digest.clone();
        (bytes, media_type, digest) = get_manifest(&client, &expected, Some(&expected))?;
        if is_index(&media_type) {
            return Err(format!(
                "{r}: manifest {digest} for linux/amd64 is itself an index"
            ));
        }
    }
    if media_type != image::MT_MANIFEST && media_type != image::MT_DOCKER_MANIFEST {
        return Err(format!(
            "{r}: manifest {digest} has media type {media_type:?} (OCI or Docker schema2 image manifests are supported)"
        ));
    }
    let manifest: Manifest = image::from_json(&bytes, &format!("manifest {digest} of {r}"))?;
    if manifest.schema_version != 2 {
        return Err(format!(
            "{r}: manifest {digest}: schemaVersion {} (2 expected)",
            manifest.schema_version
        ));
    }
    if !quiet {
        eprintln!(
            "#pull {r}: manifest {digest}, {} layers",
            manifest.layers.len()
        );
    }
    // The config is read first (it holds the layers' diff_ids) but stored
    // with the manifest, after the layers: the image exists only once all
    // it names does.
    let config_bytes = fetch_config(&client, &manifest.config)?;
    let config: ImageConfig = image::from_json(
        &config_bytes,
        &format!("config {} of {r}", manifest.config.digest),
    )?;
    if config.rootfs.diff_ids.len() != manifest.layers.len() {
        return Err(format!(
            "{r}: config {} lists {} diff_ids for the manifest's {} layers",
            manifest.config.digest,
            config.rootfs.diff_ids.len(),
            manifest.layers.len()
        ));
    }
    let layers: Vec<(&Descriptor, &str)> = manifest
        .layers
        .iter()
        .zip(config.rootfs.diff_ids.iter().map(String::as_str))
        .collect();
    fetch_all(&client, store, &layers, quiet)?;
    store.write_blob(&config_bytes)?;
    let stored = store.write_blob(&bytes)?;
    if stored != digest {
        return Err(format!("{r}: manifest {digest} stored as {stored}"));
    }
    for d in manifest.layers.iter().chain([&manifest.config]) {
        sources::record(store, &d.digest, &r.registry, &r.repository);
    }
    let desc = Descriptor::new(&media_type, digest, bytes.len() as u64);
    store.load_image(&desc)
}

fn is_index(media_type: &str) -> bool {
    media_type == image::MT_INDEX || media_type == MT_DOCKER_LIST
}

/// GETs a manifest by tag or digest; returns (bytes, media type, digest),
/// the digest checked against `expected` (a digest reference, or the
/// index entry) and against the registry's Docker-Content-Digest.
pub fn get_manifest(
    client: &Client,
    object: &str,
    expected: Option<&str>,
) -> Result<(Vec<u8>, String, String), String> {
    let url = client.url(&format!("manifests/{object}"));
    let resp = client.send(
        Method::GET,
        &url,
        &[("Accept", MANIFEST_ACCEPT)],
        Body::Empty,
    )?;
    match resp.status().as_u16() {
        200 => {}
        404 => {
            return Err(status_error(
                resp,
                &format!(
                    "manifest {object} of {}/{}: not found",
                    client.registry, client.repository
                ),
            ));
        }
        _ => {
            return Err(status_error(
                resp,
                &format!(
                    "manifest {object} of {}/{}",
                    client.registry, client.repository
                ),
            ));
        }
    }
    let content_type = super::http::header(&resp, "content-type")
        .map(|c| c.split(';').next().unwrap_or("").trim().to_string());
    let header_digest = super::http::header(&resp, "docker-content-digest");
    let bytes = super::http::read_limited(resp.into_body(), MAX_MANIFEST, &url)?;
    let digest = sha256_bytes(&bytes);
    if let Some(want) = expected
        && want != digest
    {
        return Err(format!(
            "{url}: manifest digest mismatch: expected {want}, the content has {digest}; refusing it"
        ));
    }
    if let Some(h) = header_digest.filter(|h| h.starts_with("sha256:"))
        && h != digest
    {
        return Err(format!(
            "{url}: manifest digest mismatch: the registry says {h}, the content has {digest}; refusing it"
        ));
    }
    let media_type = media_type_of(&bytes, content_type.as_deref());
    Ok((bytes, media_type, digest))
}

/// The manifest's media type: its own `mediaType` field wins (it is what
/// the digest covers), then the Content-Type, then its shape.
fn media_type_of(bytes: &[u8], content_type: Option<&str>) -> String {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Peek {
        media_type: Option<String>,
        manifests: Option<serde_json::Value>,
    }
    let peek: Option<Peek> = serde_json::from_slice(bytes).ok();
    if let Some(mt) = peek
        .as_ref()
        .and_then(|p| p.media_type.clone())
        .filter(|m| !m.is_empty())
    {
        return mt;
    }
    if let Some(ct) = content_type.filter(|c| c.starts_with("application/vnd.")) {
        return ct.to_string();
    }
    if peek.is_some_and(|p| p.manifests.is_some()) {
        image::MT_INDEX.to_string()
    } else {
        image::MT_MANIFEST.to_string()
    }
}

/// The linux/amd64 entry of an index or manifest list (the only platform
/// the builder runs).
pub fn choose_platform(index: &Index) -> Result<&Descriptor, String> {
    let is = |d: &Descriptor, key: &str, want: &str| {
        d.platform
            .as_ref()
            .and_then(|p| p.get(key))
            .and_then(|v| v.as_str())
            == Some(want)
    };
    let candidates: Vec<&Descriptor> = index
        .manifests
        .iter()
        .filter(|d| is(d, "os", "linux") && is(d, "architecture", "amd64"))
        .collect();
    // Plain amd64 before micro-architecture variants (v2, v3...).
    candidates
        .iter()
        .find(|d| d.platform.as_ref().and_then(|p| p.get("variant")).is_none())
        .or(candidates.first())
        .copied()
        .ok_or_else(|| {
            let have: Vec<String> = index
                .manifests
                .iter()
                .filter_map(|d| {
                    let p = d.platform.as_ref()?;
                    Some(format!(
                        "{}/{}",
                        p.get("os")?.as_str()?,
                        p.get("architecture")?.as_str()?
                    ))
                })
                .collect();
            format!(
                "no linux/amd64 image in the index (it has: {})",
                have.join(", ")
            )
        })
}

/// Deletes a temp file unless it was renamed away.
struct TempFile(PathBuf);
impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Image configs are small JSON documents; a bigger one is refused.
const MAX_CONFIG: u64 = 8 << 20;

/// The config blob, in memory, checked against its descriptor.
fn fetch_config(client: &Client, desc: &Descriptor) -> Result<Vec<u8>, String> {
    hex_part(&desc.digest)
        .map_err(|e| format!("{}/{}: {e}", client.registry, client.repository))?;
    let url = client.url(&format!("blobs/{}", desc.digest));
    let resp = client.send(Method::GET, &url, &[], Body::Empty)?;
    if resp.status().as_u16() != 200 {
        return Err(status_error(resp, &format!("config {}", desc.digest)));
    }
    let bytes = super::http::read_limited(resp.into_body(), MAX_CONFIG.min(desc.size), &url)?;
    let got = sha256_bytes(&bytes);
    if got != desc.digest {
        return Err(format!(
            "config {} from {url}: digest mismatch: the content has digest {got}; refusing it",
            desc.digest
        ));
    }
    Ok(bytes)
}

/// Downloads one layer into the store, verified before it gets its name:
/// its digest and size, and, uncompressed, the config's `diff_id` (the
/// unpacked-layer cache is keyed by diff_id, so a layer that lied about
/// it could stand in for another image's layer in later builds).
pub fn fetch_blob(
    client: &Client,
    store: &Store,
    desc: &Descriptor,
    diff_id: &str,
) -> Result<(), String> {
    let hex = hex_part(&desc.digest)
        .map_err(|e| format!("{}/{}: {e}", client.registry, client.repository))?;
    if store.has_blob(&desc.digest) {
        return Ok(());
    }
    let url = client.url(&format!("blobs/{}", desc.digest));
    let resp = client.send(Method::GET, &url, &[], Body::Empty)?;
    if resp.status().as_u16() != 200 {
        return Err(status_error(resp, &format!("blob {}", desc.digest)));
    }
    let tmp = TempFile(
        store
            .tmp_dir()
            .join(crate::image::store::fsutil::unique_name("pull")),
    );
    let f = std::fs::File::create(&tmp.0).map_err(|e| format!("{}: {e}", tmp.0.display()))?;
    let mut w = HashWriter::new(BufWriter::new(f));
    // One byte more than announced is enough to know it is too long.
    let mut body = resp
        .into_body()
        .into_with_config()
        .limit(u64::MAX)
        .reader()
        .take(desc.size.saturating_add(1));
    std::io::copy(&mut body, &mut w)
        .map_err(|e| format!("blob {} from {url}: {e}", desc.digest))?;
    let (buf, got, size) = w.finish();
    if got != desc.digest || size != desc.size {
        return Err(format!(
            "blob {} from {url}: digest mismatch: the content ({size} bytes, {} expected) has digest {got}; refusing it",
            desc.digest, desc.size
        ));
    }
    let f = buf
        .into_inner()
        .map_err(|e| format!("blob {}: {e}", desc.digest))?;
    f.sync_all()
        .map_err(|e| format!("blob {}: {e}", desc.digest))?;
    drop(f);
    let what = format!("layer {}", desc.digest);
    let file = std::fs::File::open(&tmp.0).map_err(|e| format!("{what}: {e}"))?;
    let (plain, _) = crate::image::archive::decompress(file, &what)?;
    let mut r = HashReader::new(plain);
    std::io::copy(&mut r, &mut std::io::sink()).map_err(|e| format!("{what}: {e}"))?;
    let (uncompressed, _) = r.finish();
    if uncompressed != diff_id {
        return Err(format!(
            "{what} from {url}: diff_id mismatch: uncompressed it has digest {uncompressed}, the config says {diff_id}; refusing it"
        ));
    }
    let dest = store.root.join("blobs/sha256").join(hex);
    std::fs::rename(&tmp.0, &dest).map_err(|e| format!("{}: {e}", dest.display()))?;
    Ok(())
}

/// Fetches blobs with a few threads; the first error wins and the others
/// stop taking new work.
fn fetch_all(
    client: &Client,
    store: &Store,
    blobs: &[(&Descriptor, &str)],
    quiet: bool,
) -> Result<(), String> {
    let next = AtomicUsize::new(0);
    let failed: Mutex<Option<String>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..PARALLEL.min(blobs.len()) {
            s.spawn(|| {
                loop {
                    if failed.lock().unwrap_or_else(|p| p.into_inner()).is_some() {
                        return;
                    }
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some((d, diff_id)) = blobs.get(i) else {
                        return;
                    };
                    match fetch_blob(client, store, d, diff_id) {
                        Ok(()) => {
                            if !quiet {
                                let mut e = std::io::stderr().lock();
                                let _ =
                                    writeln!(e, "#pull layer {} ({} bytes) done", d.digest, d.size);
                            }
                        }
                        Err(e) => {
                            let mut f = failed.lock().unwrap_or_else(|p| p.into_inner());
                            f.get_or_insert(e);
                            return;
                        }
                    }
                }
            });
        }
    });
    match failed.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(os: &str, arch: &str, variant: Option<&str>, n: u8) -> Descriptor {
        let mut d = Descriptor::new(
            image::MT_MANIFEST,
            format!("sha256:{}", format!("{n:02x}").repeat(32)),
            1,
        );
        let mut p = serde_json::json!({"os": os, "architecture": arch});
        if let Some(v) = variant {
            p["variant"] = v.into();
        }
        d.platform = Some(p);
        d
    }

    #[test]
    fn index_resolves_to_linux_amd64() {
        let mut index = Index {
            manifests: vec![
                entry("linux", "arm64", Some("v8"), 1),
                entry("linux", "amd64", Some("v3"), 2),
                entry("linux", "amd64", None, 3),
                entry("windows", "amd64", None, 4),
            ],
            ..Index::default()
        };
        assert_eq!(
            choose_platform(&index).unwrap().digest,
            index.manifests[2].digest
        );
        index.manifests.remove(2);
        assert_eq!(
            choose_platform(&index).unwrap().digest,
            index.manifests[1].digest
        );
        index.manifests.remove(1);
        let e = choose_platform(&index).unwrap_err();
        assert!(
            e.contains("no linux/amd64")
                && e.contains("linux/arm64")
                && e.contains("windows/amd64"),
            "{e}"
        );
    }

    #[test]
    fn media_types() {
        assert_eq!(
            media_type_of(
                br#"{"mediaType":"application/vnd.docker.distribution.manifest.v2+json"}"#,
                Some(image::MT_MANIFEST)
            ),
            image::MT_DOCKER_MANIFEST
        );
        assert_eq!(media_type_of(br#"{"manifests":[]}"#, None), image::MT_INDEX);
        assert_eq!(
            media_type_of(br#"{"layers":[]}"#, Some(MT_DOCKER_LIST)),
            MT_DOCKER_LIST
        );
        assert_eq!(
            media_type_of(br#"{"layers":[]}"#, Some("application/json")),
            image::MT_MANIFEST
        );
    }
}
