//! Pushing a stored image: each blob (layers, then the config) is
//! HEAD-checked first and skipped when the repository has it; otherwise
//! mounted from another repository of the same registry known to hold it
//! (`sources`), or uploaded monolithically (POST for an upload URL, then
//! one PUT with the digest). The manifest goes last, by PUT, with its
//! stored bytes (so its digest is the one the store knows).

use super::auth::encode;
use super::client::{Body, Client, status_error};
use super::{Reference, Settings, sources};
use crate::image::Descriptor;
use crate::image::store::{Image, Store};
use ureq::http::Method;

/// What happened to each blob, for messages and tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub manifest_digest: String,
    pub existed: usize,
    pub mounted: usize,
    pub uploaded: usize,
}

pub fn push(
    store: &Store,
    settings: &Settings,
    img: &Image,
    dest: &Reference,
    quiet: bool,
) -> Result<Report, String> {
    let client = Client::new(settings, dest, true)?;
    client.ping()?;
    let mut report = Report::default();
    let blobs: Vec<&Descriptor> = img
        .manifest
        .layers
        .iter()
        .chain([&img.manifest.config])
        .collect();
    for d in blobs {
        let how = push_blob(&client, store, d)?;
        match how {
            How::Existed => report.existed += 1,
            How::Mounted(_) => report.mounted += 1,
            How::Uploaded => report.uploaded += 1,
        }
        if !quiet {
            let what = match &how {
                How::Existed => "already there".to_string(),
                How::Mounted(from) => format!("mounted from {from}"),
                How::Uploaded => "uploaded".to_string(),
            };
            eprintln!("#push {dest}: blob {} ({} bytes) {what}", d.digest, d.size);
        }
        sources::record(store, &d.digest, &dest.registry, &dest.repository);
    }
    let digest = &img.manifest_desc.digest;
    let bytes = store.read_blob(digest)?;
    if crate::image::digest::sha256_bytes(&bytes) != *digest {
        return Err(format!(
            "manifest {digest} in the store does not match its digest"
        ));
    }
    let object = match (&dest.tag, &dest.digest) {
        (_, Some(d)) if d != digest => {
            return Err(format!(
                "{dest}: the image's manifest is {digest}, not the digest named"
            ));
        }
        (Some(t), _) => t.clone(),
        (None, Some(d)) => d.clone(),
        (None, None) => "latest".to_string(),
    };
    let media_type = img
        .manifest
        .media_type
        .clone()
        .unwrap_or_else(|| img.manifest_desc.media_type.clone());
    let url = client.url(&format!("manifests/{object}"));
    let resp = client.send(
        Method::PUT,
        &url,
        &[("Content-Type", &media_type)],
        Body::Bytes(&bytes),
    )?;
    if resp.status().as_u16() != 201 {
        return Err(status_error(
            resp,
            &format!("pushing manifest {digest} to {dest}"),
        ));
    }
    if let Some(h) = super::http::header(&resp, "docker-content-digest")
        && h != *digest
    {
        return Err(format!(
            "{url}: the registry stored the manifest as {h}, not {digest}"
        ));
    }
    if !quiet {
        eprintln!("#push {dest}: manifest {digest}");
    }
    report.manifest_digest = digest.clone();
    Ok(report)
}

enum How {
    Existed,
    Mounted(String),
    Uploaded,
}

fn push_blob(client: &Client, store: &Store, d: &Descriptor) -> Result<How, String> {
    let path = store.blob_path(&d.digest)?;
    if !path.exists() {
        return Err(format!(
            "blob {} is not in the store {}",
            d.digest,
            store.root.display()
        ));
    }
    let url = client.url(&format!("blobs/{}", d.digest));
    let resp = client.send(Method::HEAD, &url, &[], Body::Empty)?;
    match resp.status().as_u16() {
        200 => return Ok(How::Existed),
        404 => {}
        _ => return Err(status_error(resp, &format!("HEAD blob {}", d.digest))),
    }
    drop(resp);
    let mut upload = None;
    // Only the most recent source is tried: a refused mount already
    // opens an upload session, which is what we fall back to anyway.
    if let Some(from) =
        sources::mount_candidates(store, &d.digest, &client.registry, &client.repository)
            .into_iter()
            .next()
    {
        // The token must cover pulling from the source repository.
        client.add_scope(format!("repository:{from}:pull"));
        let url = client.url(&format!(
            "blobs/uploads/?mount={}&from={}",
            encode(&d.digest),
            encode(&from)
        ));
        let resp = client.send(Method::POST, &url, &[("Content-Length", "0")], Body::Empty)?;
        match resp.status().as_u16() {
            201 => return Ok(How::Mounted(from)),
            // Not mountable (not there, or no rights): the answer is an
            // ordinary upload session.
            202 => upload = Some(location(client, &resp, &url)?),
            _ => {
                return Err(status_error(
                    resp,
                    &format!("mounting blob {} from {from}", d.digest),
                ));
            }
        }
    }
    let upload = match upload {
        Some(u) => u,
        None => {
            let url = client.url("blobs/uploads/");
            let resp = client.send(Method::POST, &url, &[("Content-Length", "0")], Body::Empty)?;
            if resp.status().as_u16() != 202 {
                return Err(status_error(
                    resp,
                    &format!("starting the upload of blob {}", d.digest),
                ));
            }
            location(client, &resp, &url)?
        }
    };
    let sep = if upload.contains('?') { '&' } else { '?' };
    let put = format!("{upload}{sep}digest={}", encode(&d.digest));
    let resp = client.send(
        Method::PUT,
        &put,
        &[("Content-Type", "application/octet-stream")],
        Body::File(path),
    )?;
    if resp.status().as_u16() != 201 {
        return Err(status_error(resp, &format!("uploading blob {}", d.digest)));
    }
    Ok(How::Uploaded)
}

/// The upload URL of a 202: absolute, or a path on the registry.
fn location(
    client: &Client,
    resp: &ureq::http::Response<ureq::Body>,
    url: &str,
) -> Result<String, String> {
    let loc = super::http::header(resp, "location")
        .filter(|l| !l.is_empty())
        .ok_or_else(|| format!("{url}: HTTP 202 without a Location"))?;
    if loc.starts_with("http://") || loc.starts_with("https://") {
        Ok(loc)
    } else if loc.starts_with('/') {
        Ok(format!("{}{loc}", client.base()))
    } else {
        Err(format!("{url}: unusable upload Location {loc:?}"))
    }
}
