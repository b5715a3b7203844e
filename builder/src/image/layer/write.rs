//! An overlay upper dir → an OCI layer (tar+gzip) in the store.
//!
//! Overlay records deletions as a character device 0:0 and "hide every
//! lower entry of this dir" as the `trusted.overlay.opaque=y` xattr; the
//! OCI layer format spells them `.wh.<name>` and `.wh..wh..opq`.
//!
//! Determinism (what BuildKit/containerd do): entries sorted by name with
//! parents first and a directory's whiteouts before its other entries;
//! numeric uid/gid with empty user/group names; mtime in whole seconds from
//! the file (clamped to SOURCE_DATE_EPOCH when given, BuildKit's
//! `rewrite-timestamp`); no atime/ctime; whiteouts at mtime 0; only the
//! `security.capability` xattr; hard links within the layer written as
//! links to the first path seen. The gzip level is fixed (flate2 default)
//! and the stream is compressed in fixed blocks on every core
//! (`pgzip.rs`), so the same upper dir always gives the same digest.

use super::pgzip::{ParallelGzip, threads};
use crate::image::digest::HashWriter;
use crate::image::store::Store;
use crate::image::{MT_LAYER_GZIP, MT_LAYER_ZSTD};
use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LayerInfo {
    pub digest: String,
    pub diff_id: String,
    pub size: u64,
    pub media_type: String,
}

#[derive(Debug, Clone, Default)]
pub struct LayerOptions {
    /// Clamp file mtimes to this Unix time (SOURCE_DATE_EPOCH).
    pub clamp_mtime: Option<u64>,
    pub compression: LayerCompression,
}

/// How new layers are compressed (`--compression`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerCompression {
    Gzip { level: u32 },
    Zstd { level: i32 },
}

impl Default for LayerCompression {
    fn default() -> Self {
        LayerCompression::Gzip { level: 6 }
    }
}

impl LayerCompression {
    /// `gzip|zstd[,level=N]` (levels: gzip 0-9, zstd 1-22, as BuildKit's
    /// `compression`/`compression-level` take them).
    pub fn parse(spec: &str) -> Result<LayerCompression, String> {
        let mut parts = spec.split(',');
        let kind = parts.next().unwrap_or("");
        let mut level: Option<i64> = None;
        for p in parts {
            match p.split_once('=') {
                Some(("level", v)) => {
                    level = Some(v.parse().map_err(|_| {
                        format!("--compression {spec:?}: level {v:?} is not a number")
                    })?)
                }
                _ => {
                    return Err(format!(
                        "--compression {spec:?}: unknown option {p:?} (level=N)"
                    ));
                }
            }
        }
        match kind {
            "gzip" => match level.unwrap_or(6) {
                l @ 0..=9 => Ok(LayerCompression::Gzip { level: l as u32 }),
                l => Err(format!(
                    "--compression {spec:?}: gzip level {l} is not in 0-9"
                )),
            },
            "zstd" => match level.unwrap_or(3) {
                l @ 1..=22 => Ok(LayerCompression::Zstd { level: l as i32 }),
                l => Err(format!(
                    "--compression {spec:?}: zstd level {l} is not in 1-22"
                )),
            },
            other => Err(format!(
                "--compression: unknown compression {other:?} (gzip or zstd)"
            )),
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            LayerCompression::Gzip { .. } => MT_LAYER_GZIP,
            LayerCompression::Zstd { .. } => MT_LAYER_ZSTD,
        }
    }
}

const OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// Writes the layer for `upper`; `None` when the upper dir is empty (a step
/// that changed nothing makes no layer).
pub fn write_layer(
    store: &Store,
    upper: &Path,
    opts: &LayerOptions,
) -> Result<Option<LayerInfo>, String> {
    let empty = std::fs::read_dir(upper)
        .map_err(|e| format!("{}: {e}", upper.display()))?
        .next()
        .is_none();
    if empty {
        return Ok(None);
    }
    let mut blob = store.blob_writer()?;
    let walk_err = |e: std::io::Error| format!("writing layer from {}: {e}", upper.display());
    let diff_id = match opts.compression {
        LayerCompression::Gzip { level } => std::thread::scope(|scope| {
            let level = flate2::Compression::new(level);
            let gz = ParallelGzip::new(scope, &mut blob, level, threads());
            let (gz, diff_id) = write_tar(upper, opts, gz).map_err(walk_err)?;
            gz.finish().map_err(|e| format!("compressing layer: {e}"))?;
            Ok::<String, String>(diff_id)
        })?,
        LayerCompression::Zstd { level } => {
            let mut z = zstd::stream::write::Encoder::new(&mut blob, level)
                .map_err(|e| format!("zstd: {e}"))?;
            // zstd's own workers, joined when the frame is finished.
            z.multithread(threads() as u32)
                .map_err(|e| format!("zstd workers: {e}"))?;
            let (z, diff_id) = write_tar(upper, opts, z).map_err(walk_err)?;
            z.finish().map_err(|e| format!("compressing layer: {e}"))?;
            diff_id
        }
    };
    let (digest, size) = blob.finish()?;
    Ok(Some(LayerInfo {
        digest,
        diff_id,
        size,
        media_type: opts.compression.media_type().to_string(),
    }))
}

/// The layer tar of `upper` into `out`; returns `out` and the diff_id.
fn write_tar<W: Write>(upper: &Path, opts: &LayerOptions, out: W) -> std::io::Result<(W, String)> {
    let mut tar = tar::Builder::new(HashWriter::new(out));
    tar.mode(tar::HeaderMode::Complete);
    let mut w = Walker {
        root: upper,
        opts,
        links: HashMap::new(),
    };
    w.dir(&mut tar, Path::new(""))?;
    let hashed = tar.into_inner()?;
    let (out, diff_id, _) = hashed.finish();
    Ok((out, diff_id))
}

struct Walker<'a> {
    root: &'a Path,
    opts: &'a LayerOptions,
    /// (dev, ino) → first path written, for hard links.
    links: HashMap<(u64, u64), PathBuf>,
}

fn is_whiteout(m: &std::fs::Metadata) -> bool {
    m.file_type().is_char_device() && m.rdev() == 0
}

impl Walker<'_> {
    fn dir<W: Write>(&mut self, tar: &mut tar::Builder<W>, rel: &Path) -> std::io::Result<()> {
        let host = self.root.join(rel);
        let mut names: Vec<_> = std::fs::read_dir(&host)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()?;
        names.sort();
        let mut entries = Vec::new();
        for n in names {
            let m = std::fs::symlink_metadata(host.join(&n))?;
            entries.push((n, m));
        }
        // Whiteouts first: the spec asks for them before sibling entries.
        for (n, m) in &entries {
            if is_whiteout(m) {
                let mut wh = std::ffi::OsString::from(".wh.");
                wh.push(n);
                self.whiteout(tar, &rel.join(wh))?;
            }
        }
        for (n, m) in &entries {
            if is_whiteout(m) {
                continue;
            }
            let child = rel.join(n);
            self.entry(tar, &child, m)?;
            if m.is_dir() {
                let opaque = xattr::get(self.root.join(&child), OPAQUE_XATTR)
                    .ok()
                    .flatten()
                    .is_some_and(|v| v == b"y");
                if opaque {
                    self.whiteout(tar, &child.join(".wh..wh..opq"))?;
                }
                self.dir(tar, &child)?;
            }
        }
        Ok(())
    }

    fn whiteout<W: Write>(
        &mut self,
        tar: &mut tar::Builder<W>,
        path: &Path,
    ) -> std::io::Result<()> {
        let mut h = tar::Header::new_gnu();
        h.set_uid(0);
        h.set_gid(0);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(0);
        h.set_mode(0o644);
        h.set_mtime(0);
        tar.append_data(&mut h, path, std::io::empty())
    }

    fn entry<W: Write>(
        &mut self,
        tar: &mut tar::Builder<W>,
        rel: &Path,
        m: &std::fs::Metadata,
    ) -> std::io::Result<()> {
        let host = self.root.join(rel);
        let mut h = tar::Header::new_gnu();
        h.set_uid(0);
        h.set_gid(0);
        h.set_mode(m.mode() & 0o7777);
        h.set_uid(m.uid() as u64);
        h.set_gid(m.gid() as u64);
        let mtime = m.mtime().max(0) as u64;
        h.set_mtime(self.opts.clamp_mtime.map_or(mtime, |c| mtime.min(c)));
        h.set_size(0);
        if let Ok(Some(cap)) = xattr::get(&host, "security.capability") {
            tar.append_pax_extensions([("SCHILY.xattr.security.capability", cap.as_slice())])?;
        }
        let ft = m.file_type();
        if ft.is_dir() {
            h.set_entry_type(tar::EntryType::Directory);
            tar.append_data(&mut h, rel, std::io::empty())
        } else if ft.is_file() {
            if m.nlink() > 1 {
                let key = (m.dev(), m.ino());
                if let Some(first) = self.links.get(&key) {
                    h.set_entry_type(tar::EntryType::Link);
                    let first = first.clone();
                    return tar.append_link(&mut h, rel, first);
                }
                self.links.insert(key, rel.to_path_buf());
            }
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(m.len());
            let f = std::fs::File::open(&host)?;
            tar.append_data(&mut h, rel, f)
        } else if ft.is_symlink() {
            h.set_entry_type(tar::EntryType::Symlink);
            let target = std::fs::read_link(&host)?;
            tar.append_link(&mut h, rel, target)
        } else if ft.is_char_device() || ft.is_block_device() {
            h.set_entry_type(if ft.is_char_device() {
                tar::EntryType::Char
            } else {
                tar::EntryType::Block
            });
            h.set_device_major(libc::major(m.rdev()))?;
            h.set_device_minor(libc::minor(m.rdev()))?;
            tar.append_data(&mut h, rel, std::io::empty())
        } else if ft.is_fifo() {
            h.set_entry_type(tar::EntryType::Fifo);
            tar.append_data(&mut h, rel, std::io::empty())
        } else {
            // Sockets have no tar form; Docker skips them too.
            Ok(())
        }
    }
}

/// Writes a plain file as one entry of `tar` (used by exports).
pub fn append_file<W: Write>(
    tar: &mut tar::Builder<W>,
    name: &str,
    data: &[u8],
) -> std::io::Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_uid(0);
    h.set_gid(0);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    tar.append_data(&mut h, name, data)
}
