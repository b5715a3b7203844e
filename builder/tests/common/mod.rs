//! Shared helpers for the build tests: a busybox base image made from the
//! host's busybox-static (Debian's package), temp stores, and running the
//! rt-build binary.
#![allow(dead_code)]

use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BUSYBOX: &str = "/bin/busybox";

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rt-build"))
}

pub fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Build tests need root (mounts, namespaces) and busybox-static.
pub fn can_build() -> bool {
    if !is_root() || !Path::new(BUSYBOX).exists() {
        eprintln!("skipping: needs root and {BUSYBOX}");
        return false;
    }
    true
}

pub fn tmpdir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("build-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn sha(data: &[u8]) -> String {
    let h = Sha256::digest(data);
    format!(
        "sha256:{}",
        h.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

fn put_blob(layout: &Path, data: &[u8]) -> String {
    let d = sha(data);
    std::fs::write(layout.join("blobs/sha256").join(&d[7..]), data).unwrap();
    d
}

/// An OCI layout at `layout` holding `busybox` (tag `busybox`): busybox,
/// a symlink per applet in /bin, /etc/passwd and /etc/group with `app`
/// (1000) and `wheel` (10, member app), and the usual empty dirs.
pub fn busybox_layout(layout: &Path) {
    std::fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
    let mut tar = tar::Builder::new(Vec::new());
    let dir = |tar: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32| {
        let mut h = tar::Header::new_gnu();
        h.set_uid(0);
        h.set_gid(0);
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(mode);
        h.set_size(0);
        h.set_mtime(1_700_000_000);
        tar.append_data(&mut h, path, std::io::empty()).unwrap();
    };
    let file = |tar: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_uid(0);
        h.set_gid(0);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(mode);
        h.set_size(data.len() as u64);
        h.set_mtime(1_700_000_000);
        tar.append_data(&mut h, path, data).unwrap();
    };
    for (d, m) in [
        ("bin", 0o755),
        ("dev", 0o755),
        ("etc", 0o755),
        ("proc", 0o755),
        ("sys", 0o755),
        ("root", 0o700),
        ("tmp", 0o1777),
        ("home", 0o755),
        ("var", 0o755),
    ] {
        dir(&mut tar, d, m);
    }
    file(
        &mut tar,
        "bin/busybox",
        0o755,
        &std::fs::read(BUSYBOX).unwrap(),
    );
    let list = Command::new(BUSYBOX).arg("--list").output().unwrap();
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet == "busybox" || applet.is_empty() {
            continue;
        }
        let mut h = tar::Header::new_gnu();
        h.set_uid(0);
        h.set_gid(0);
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_mode(0o777);
        h.set_size(0);
        h.set_mtime(1_700_000_000);
        tar.append_link(&mut h, format!("bin/{applet}"), "busybox")
            .unwrap();
    }
    file(&mut tar, "etc/passwd", 0o644, b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
    file(
        &mut tar,
        "etc/group",
        0o644,
        b"root:x:0:\nwheel:x:10:app\napp:x:1000:\nnogroup:x:65534:\n",
    );
    dir(&mut tar, "etc/conf.d", 0o755);
    file(&mut tar, "etc/conf.d/a.conf", 0o644, b"a\n");
    file(&mut tar, "etc/conf.d/b.conf", 0o644, b"b\n");
    let plain = tar.into_inner().unwrap();
    let diff_id = sha(&plain);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&plain).unwrap();
    let layer = gz.finish().unwrap();
    let layer_digest = put_blob(layout, &layer);
    let config = serde_json::json!({
        "created": "2023-11-14T22:13:20Z",
        "architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": "2023-11-14T22:13:20Z", "created_by": "busybox-static from the host"}]
    });
    let cfg = serde_json::to_vec(&config).unwrap();
    let cfg_digest = put_blob(layout, &cfg);
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg_digest, "size": cfg.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": layer.len()}]
    });
    let m = serde_json::to_vec(&manifest).unwrap();
    let m_digest = put_blob(layout, &m);
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": m_digest, "size": m.len(),
        "annotations": {"org.opencontainers.image.ref.name": "busybox"}}]});
    std::fs::write(
        layout.join("index.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();
    std::fs::write(
        layout.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
}

/// A temp dir with `store/` holding `busybox:latest` (imported through
/// `rt-build import oci:...`).
pub fn store_with_busybox(name: &str) -> (PathBuf, PathBuf) {
    let dir = tmpdir(name);
    let layout = dir.join("busybox-layout");
    busybox_layout(&layout);
    let store = dir.join("store");
    let out = run(bin()
        .arg("--root")
        .arg(&store)
        .arg("import")
        .arg(format!("oci:{}:busybox", layout.display()))
        .arg("busybox"));
    assert_eq!(out.code, 0, "import failed: {}", out.stderr);
    (dir, store)
}

pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(cmd: &mut Command) -> Ran {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().unwrap();
    Ran {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// Writes a context: `files` are (relative path, content).
pub fn context(dir: &Path, dockerfile: &str, files: &[(&str, &str)]) -> PathBuf {
    let ctx = dir.join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("Dockerfile"), dockerfile).unwrap();
    for (p, c) in files {
        let path = ctx.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, c).unwrap();
    }
    ctx
}

/// `rt-build --root STORE --progress plain ARGS... CTX`.
pub fn build(store: &Path, ctx: &Path, args: &[&str]) -> Ran {
    run(bin()
        .arg("--root")
        .arg(store)
        .arg("--progress")
        .arg("plain")
        .args(args)
        .arg(ctx))
}

/// The JSON `rt-build inspect NAME` prints.
/// `rt-build unpack NAME DEST` into the store's image; returns DEST's
/// rootfs.
pub fn unpack_rootfs(store: &Path, name: &str, dest: &Path) -> PathBuf {
    let u = run(bin()
        .arg("--root")
        .arg(store)
        .arg("unpack")
        .arg(name)
        .arg(dest));
    assert_eq!(u.code, 0, "unpack {name}: {}", u.stderr);
    dest.join("rootfs")
}

pub fn inspect(store: &Path, name: &str) -> serde_json::Value {
    let out = run(bin().arg("--root").arg(store).arg("inspect").arg(name));
    assert_eq!(out.code, 0, "inspect {name}: {}", out.stderr);
    // Docker's array of one; the tests read the OCI parts.
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let i = &v[0];
    serde_json::json!({
        "digest": i["Descriptor"]["digest"],
        "manifest": i["Manifest"],
        "config": i["Image"],
        "docker": i,
    })
}

/// Entries of a layer blob: (path, type byte, size, uid, gid, mode).
pub fn layer_entries(store: &Path, digest: &str) -> Vec<(String, u8, u64, u64, u64, u32)> {
    let f = std::fs::File::open(store.join("blobs/sha256").join(&digest[7..])).unwrap();
    let mut a = tar::Archive::new(flate2::read::GzDecoder::new(f));
    a.entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let h = e.header();
            (
                e.path()
                    .unwrap()
                    .display()
                    .to_string()
                    .trim_end_matches('/')
                    .to_string(),
                h.entry_type().as_byte(),
                h.size().unwrap(),
                h.uid().unwrap(),
                h.gid().unwrap(),
                h.mode().unwrap(),
            )
        })
        .collect()
}

/// The status word (`DONE`/`CACHED`/`ERROR`) of each step, by its label
/// (`[stage i/n] INSTR`), from plain progress output.
pub fn step_results(progress: &str) -> Vec<(String, String)> {
    let mut labels = std::collections::HashMap::new();
    let mut out = Vec::new();
    for line in progress.lines() {
        let Some(rest) = line.strip_prefix('#') else {
            continue;
        };
        let Some((n, text)) = rest.split_once(' ') else {
            continue;
        };
        if n.parse::<usize>().is_err() {
            continue;
        }
        if text.starts_with('[') {
            labels.insert(n.to_string(), text.to_string());
        } else if text == "CACHED" || text.starts_with("DONE") || text.starts_with("ERROR") {
            let word = text.split([' ', ':']).next().unwrap().to_string();
            out.push((labels.get(n).cloned().unwrap_or_default(), word));
        }
    }
    out
}

pub fn has_tool(name: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .is_ok_and(|o| o.status.success())
}
