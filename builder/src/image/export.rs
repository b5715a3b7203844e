//! Build outputs besides the store: `oci-archive` (a tar of an OCI layout),
//! `docker-archive` (what `docker load` reads: manifest.json + config +
//! layer blobs, and an OCI layout in the same tar, as Docker 25+ writes),
//! `bundle` (runtime bundle) and `local` (the rootfs files only).
//! Archives are written to a temp file and renamed into place.

use crate::image::layer::write::append_file;
use crate::image::store::fsutil::unique_name;
use crate::image::store::{Image, Store, normalize_name};
use crate::image::{self, Descriptor, Index, REF_NAME};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    OciArchive(String),
    DockerArchive(String),
    Bundle(String),
    Local(String),
}

pub fn parse(kind: &str, attrs: &BTreeMap<String, String>) -> Result<Output, String> {
    let dest = || {
        attrs
            .get("dest")
            .cloned()
            .ok_or_else(|| format!("--output type={kind} needs dest=PATH"))
    };
    Ok(match kind {
        "oci-archive" | "oci" => Output::OciArchive(dest()?),
        "docker-archive" | "docker" => Output::DockerArchive(dest()?),
        "bundle" => Output::Bundle(dest()?),
        "local" => Output::Local(dest()?),
        other => {
            return Err(format!(
                "--output type={other} is not supported (oci-archive, docker-archive, bundle, local)"
            ));
        }
    })
}

pub fn write(store: &Store, img: &Image, out: &Output, tags: &[String]) -> Result<(), String> {
    match out {
        Output::OciArchive(dest) => archive(dest, |t| oci_layout_into(store, img, tags, t)),
        Output::DockerArchive(dest) => archive(dest, |t| {
            oci_layout_into(store, img, tags, t)?;
            docker_manifest_into(img, tags, t)
        }),
        Output::Bundle(dest) => crate::image::bundle::write_bundle(store, img, Path::new(dest)),
        Output::Local(dest) => crate::image::bundle::unpack_rootfs(store, img, Path::new(dest)),
    }
}

type TarFile = tar::Builder<std::io::BufWriter<std::fs::File>>;

fn archive(
    dest: &str,
    fill: impl FnOnce(&mut TarFile) -> Result<(), String>,
) -> Result<(), String> {
    let dest = Path::new(dest);
    let dir = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".{}", unique_name("archive")));
    let result = (|| {
        let f = std::fs::File::create(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
        let mut t = tar::Builder::new(std::io::BufWriter::new(f));
        fill(&mut t)?;
        let w = t.into_inner().map_err(|e| e.to_string())?;
        let f = w.into_inner().map_err(|e| e.to_string())?;
        f.sync_all().map_err(|e| e.to_string())?;
        std::fs::rename(&tmp, dest).map_err(|e| format!("{}: {e}", dest.display()))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn blob_into(store: &Store, t: &mut TarFile, digest: &str) -> Result<(), String> {
    let path = store.blob_path(digest)?;
    let name = format!("blobs/sha256/{}", crate::image::digest::hex_part(digest)?);
    let mut f = std::fs::File::open(&path).map_err(|e| format!("blob {digest}: {e}"))?;
    let len = f.metadata().map_err(|e| e.to_string())?.len();
    let mut h = tar::Header::new_gnu();
    h.set_uid(0);
    h.set_gid(0);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(len);
    h.set_mode(0o644);
    h.set_mtime(0);
    t.append_data(&mut h, name, &mut f)
        .map_err(|e| e.to_string())
}

fn oci_layout_into(
    store: &Store,
    img: &Image,
    tags: &[String],
    t: &mut TarFile,
) -> Result<(), String> {
    let io = |e: std::io::Error| e.to_string();
    append_file(t, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#).map_err(io)?;
    let mut index = Index::default();
    let names: Vec<String> = if tags.is_empty() {
        vec!["latest".into()]
    } else {
        tags.to_vec()
    };
    for n in names {
        let mut d: Descriptor = img.manifest_desc.clone();
        d.annotations = Some(BTreeMap::from([(REF_NAME.to_string(), n)]));
        index.manifests.push(d);
    }
    append_file(t, "index.json", &image::to_json(&index)).map_err(io)?;
    blob_into(store, t, &img.manifest_desc.digest)?;
    blob_into(store, t, &img.manifest.config.digest)?;
    for l in &img.manifest.layers {
        blob_into(store, t, &l.digest)?;
    }
    Ok(())
}

fn docker_manifest_into(img: &Image, tags: &[String], t: &mut TarFile) -> Result<(), String> {
    let hexp = |d: &str| crate::image::digest::hex_part(d).map(|h| format!("blobs/sha256/{h}"));
    let layers = img
        .manifest
        .layers
        .iter()
        .map(|l| hexp(&l.digest))
        .collect::<Result<Vec<_>, _>>()?;
    let tags: Vec<String> = tags.iter().map(|t| normalize_name(t)).collect();
    let manifest = serde_json::json!([{
        "Config": hexp(&img.manifest.config.digest)?,
        "RepoTags": tags,
        "Layers": layers,
    }]);
    append_file(
        t,
        "manifest.json",
        &serde_json::to_vec(&manifest).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())
}
