//! `checkpoint`: `criu dump` (or `pre-dump`) of a running container.

use super::criu::Invocation;
use super::{CriuFlags, DESCRIPTORS_FILE};
use crate::error::{Context, Error, Result};
use crate::state::{ContainerDir, Status, status_of};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default)]
pub struct CheckpointOptions {
    /// Where the images go (runc's default: ./checkpoint).
    pub image_path: Option<PathBuf>,
    /// Where CRIU's log goes (default: the image path).
    pub work_path: Option<PathBuf>,
    /// Images of an earlier `--pre-dump`, relative to the image path.
    pub parent_path: Option<PathBuf>,
    pub leave_running: bool,
    pub pre_dump: bool,
    pub flags: CriuFlags,
}

/// Checkpoints container `id`. Unless `--leave-running` or `--pre-dump`,
/// CRIU kills its processes and the container is deleted, as in runc.
pub fn checkpoint(root: &Path, id: &str, o: &CheckpointOptions) -> Result<()> {
    o.flags.check()?;
    let (dir, st) = ContainerDir::open(root, id)?;
    let status = status_of(&dir.path, &st);
    if matches!(status, Status::Created | Status::Stopped | Status::Creating) {
        // runc's words.
        return Err(Error::new(format!(
            "container cannot be checkpointed in {} state",
            status.as_str()
        )));
    }
    let image = absolute(
        o.image_path
            .clone()
            .unwrap_or_else(|| PathBuf::from("checkpoint")),
    )?;
    let work = match &o.work_path {
        Some(w) => absolute(w.clone())?,
        None => image.clone(),
    };
    for d in [&image, &work] {
        std::fs::create_dir_all(d).with_ctx(|| format!("create {}", d.display()))?;
    }
    let spec = crate::spec::load_bundle(&st.bundle)
        .map_err(|e| e.context("checkpoint needs the container's bundle"))?
        .spec;
    save_descriptors(st.pid, &image)?;

    let mut args = vec![
        "-t".to_string(),
        st.pid.to_string(),
        "-D".to_string(),
        path_arg(&image),
        "--work-dir".to_string(),
        path_arg(&work),
        "--root".to_string(),
        path_arg(&st.rootfs),
    ];
    args.extend(o.flags.args());
    if o.leave_running && !o.pre_dump {
        args.push("--leave-running".into());
    }
    if let Some(p) = &o.parent_path {
        args.extend(["--prev-images-dir".to_string(), path_arg(p)]);
    }
    if o.pre_dump || o.parent_path.is_some() {
        args.push("--track-mem".into());
    }
    if let Some(f) = freezer(&st.cgroup) {
        args.extend(["--freeze-cgroup".to_string(), path_arg(&f)]);
    }
    for dest in bind_mount_destinations(&spec) {
        // The key names the mount in the images; restore maps it back to
        // the bundle's source.
        args.extend(["--external".to_string(), format!("mnt[{dest}]:{dest}")]);
    }
    let action = if o.pre_dump { "pre-dump" } else { "dump" };
    Invocation {
        action,
        args,
        log: work.join(format!("{action}.log")),
        join_cgroups: Vec::new(),
    }
    .run()?;
    drop(dir);
    if !(o.leave_running || o.pre_dump) {
        // CRIU killed the processes: delete the container (cgroup,
        // poststop hooks, state), as runc destroys it.
        crate::container::delete(root, id, true)
            .map_err(|e| e.context("remove the checkpointed container"))?;
    }
    Ok(())
}

/// Bind mounts of the spec, by destination: CRIU cannot dump what lies
/// outside the container's root, so they are external to the images.
pub(super) fn bind_mount_destinations(spec: &oci_spec::runtime::Spec) -> Vec<String> {
    bind_mounts(spec).into_iter().map(|(d, _)| d).collect()
}

/// (destination, source) of each bind mount of the spec.
pub(super) fn bind_mounts(spec: &oci_spec::runtime::Spec) -> Vec<(String, PathBuf)> {
    spec.mounts()
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .filter(|m| {
            m.typ().as_deref() == Some("bind")
                || m.options()
                    .as_deref()
                    .unwrap_or(&[])
                    .iter()
                    .any(|o| o == "bind" || o == "rbind")
        })
        .filter_map(|m| {
            let src = m.source().clone()?;
            Some((m.destination().to_string_lossy().into_owned(), src))
        })
        .collect()
}

/// The freezer CRIU should use to stop the tasks: the v1 freezer
/// hierarchy's directory, else the cgroup2 one (where `cgroup.freeze`
/// lives); as runc passes its freezer path.
fn freezer(cg: &crate::cgroups::Placement) -> Option<PathBuf> {
    let v1 = cg
        .dirs
        .iter()
        .find(|d| !d.v2 && d.controllers.iter().any(|c| c == "freezer"));
    let v2 = cg.dirs.iter().find(|d| d.v2);
    let d = v1.or(v2)?;
    let path = d.full();
    (v1.is_some() || path.join("cgroup.freeze").exists()).then_some(path)
}

/// Records where the init's stdin, stdout and stderr point, so restore can
/// hand its own pipes over in their place (runc's descriptors.json).
fn save_descriptors(pid: i32, image: &Path) -> Result<()> {
    let fds: Vec<String> = (0..3)
        .map(|n| {
            std::fs::read_link(format!("/proc/{pid}/fd/{n}"))
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    let json = serde_json::to_vec(&fds).map_err(|e| Error::new(e.to_string()))?;
    crate::state::write_atomic(&image.join(DESCRIPTORS_FILE), &json, 0o600)
        .ctx("write descriptors.json")
}

pub(super) fn absolute(p: PathBuf) -> Result<PathBuf> {
    if p.is_absolute() {
        Ok(p)
    } else {
        Ok(std::env::current_dir().ctx("current directory")?.join(p))
    }
}

pub(super) fn path_arg(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}
