//! Image → OCI runtime bundle, following image-spec conversion.md (as
//! umoci does): args = Entrypoint ++ Cmd, Env verbatim (PATH added only if
//! the image has none; HOME from passwd when unset), cwd = WorkingDir,
//! User resolved through the rootfs's /etc/passwd and /etc/group (an
//! unknown name is an error), Volumes as tmpfs mounts, ExposedPorts,
//! StopSignal, platform, author and created as annotations, Labels last
//! (they win). Unlike umoci, `terminal` is false, so `rt run` works
//! without a tty; root is writable.

use crate::image::ImageConfig;
use crate::image::store::fsutil::TempDir;
use crate::image::store::{Image, Store};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;

pub fn runtime_config(config: &ImageConfig, rootfs: &Path) -> Result<Value, String> {
    let c = &config.config;
    let mut spec = rt::spec::default_spec_json(false);
    let mut args: Vec<String> = c.entrypoint.clone().unwrap_or_default();
    args.extend(c.cmd.clone().unwrap_or_default());
    if args.is_empty() {
        args.push("sh".into());
    }
    let user = crate::solver::users::resolve(rootfs, c.user.as_deref().unwrap_or(""))
        .map_err(|e| format!("image User {:?}: {e}", c.user.as_deref().unwrap_or("")))?;
    let mut env: Vec<String> = c.env.clone().unwrap_or_default();
    let has = |env: &[String], k: &str| env.iter().any(|e| e.split('=').next() == Some(k));
    if !has(&env, "PATH") {
        env.insert(0, format!("PATH={}", crate::image::DEFAULT_PATH));
    }
    if !has(&env, "HOME") {
        env.push(format!(
            "HOME={}",
            user.home.clone().unwrap_or_else(|| "/".into())
        ));
    }
    // Every field written here exists since runtime-spec 1.0; saying so
    // lets older runtimes (crun 1.8 refuses 1.2.0) run the bundle.
    spec["ociVersion"] = json!("1.0.2");
    spec["process"]["terminal"] = json!(false);
    spec["process"]["args"] = json!(args);
    spec["process"]["env"] = json!(env);
    spec["process"]["cwd"] = json!(
        c.working_dir
            .clone()
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| "/".into())
    );
    spec["process"]["user"] =
        json!({"uid": user.uid, "gid": user.gid, "additionalGids": user.additional_gids});
    spec["root"] = json!({"path": "rootfs", "readonly": false});
    // runc's defaults give ambient capabilities, which would make an image's
    // non-root USER privileged; container engines give it none.
    if let Some(caps) = spec["process"]["capabilities"].as_object_mut() {
        caps.remove("ambient");
    }
    ensure_cgroup_namespace(&mut spec);
    if let Some(vols) = &c.volumes
        && let Some(mounts) = spec["mounts"].as_array_mut()
    {
        for v in vols.keys() {
            mounts.push(json!({"destination": v, "type": "tmpfs", "source": "tmpfs",
                "options": ["rw", "nosuid", "nodev", "noexec", "relatime"]}));
        }
    }
    let mut ann = BTreeMap::new();
    ann.insert("org.opencontainers.image.os".to_string(), config.os.clone());
    ann.insert(
        "org.opencontainers.image.architecture".to_string(),
        config.architecture.clone(),
    );
    if let Some(a) = &config.author {
        ann.insert("org.opencontainers.image.author".into(), a.clone());
    }
    if let Some(t) = &config.created {
        ann.insert("org.opencontainers.image.created".into(), t.clone());
    }
    if let Some(p) = &c.exposed_ports {
        ann.insert(
            "org.opencontainers.image.exposedPorts".into(),
            p.keys().cloned().collect::<Vec<_>>().join(","),
        );
    }
    if let Some(s) = &c.stop_signal {
        ann.insert("org.opencontainers.image.stopSignal".into(), s.clone());
    }
    for (k, v) in c.labels.iter().flatten() {
        ann.insert(k.clone(), v.clone());
    }
    spec["annotations"] = json!(ann);
    Ok(spec)
}

/// A private cgroup namespace even where runc's defaults (v1 and hybrid
/// hosts) have none: the container sees its own cgroup as `/`.
pub fn ensure_cgroup_namespace(spec: &mut Value) {
    if let Some(ns) = spec["linux"]["namespaces"].as_array_mut()
        && !ns.iter().any(|n| n["type"] == "cgroup")
    {
        ns.push(json!({"type": "cgroup"}));
    }
}

/// Applies every layer of `img` onto `dest` (a flat rootfs).
pub fn unpack_rootfs(store: &Store, img: &Image, dest: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dest).map_err(|e| format!("{}: {e}", dest.display()))?;
    for l in &img.manifest.layers {
        let f = std::fs::File::open(store.blob_path(&l.digest)?)
            .map_err(|e| format!("layer {}: {e}", l.digest))?;
        crate::image::layer::unpack::unpack_layer(
            f,
            dest,
            crate::image::layer::unpack::Target::Flat,
            &format!("layer {}", l.digest),
        )?;
    }
    Ok(())
}

/// Writes a bundle (`config.json` + `rootfs/`) at `dest`, which must not
/// exist or be empty. Built in a temp dir beside it and renamed, so a
/// failure leaves nothing.
pub fn write_bundle(store: &Store, img: &Image, dest: &Path) -> Result<(), String> {
    if dest.exists()
        && std::fs::read_dir(dest)
            .map(|mut r| r.next().is_some())
            .unwrap_or(true)
    {
        return Err(format!(
            "{}: bundle directory exists and is not empty",
            dest.display()
        ));
    }
    let parent = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    let tmp = TempDir::new(parent, ".rt-build-bundle")?;
    let rootfs = tmp.path.join("rootfs");
    unpack_rootfs(store, img, &rootfs)?;
    let spec = runtime_config(&img.config, &rootfs)?;
    let text = serde_json::to_vec_pretty(&spec).map_err(|e| e.to_string())?;
    std::fs::write(tmp.path.join("config.json"), text).map_err(|e| e.to_string())?;
    if dest.exists() {
        std::fs::remove_dir(dest).map_err(|e| format!("{}: {e}", dest.display()))?;
    }
    let path = tmp.keep();
    std::fs::rename(&path, dest).map_err(|e| format!("{}: {e}", dest.display()))
}
