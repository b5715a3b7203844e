//! `restore`: a container made from a bundle and a checkpoint's images.
//!
//! Steps: refuse what cannot work (before anything is made) → reserve the
//! state dir and record the cgroup about to be made → make the cgroup
//! with the spec's limits → `criu restore` inside that cgroup, detached,
//! the restored init becoming our child (`--restore-sibling`), hooks run
//! from CRIU's callback → record the restored init as the container's →
//! pid file. A failing step undoes what was made before it.

use super::criu::Invocation;
use super::dump::{absolute, bind_mounts, path_arg};
use super::notify::{self, HookPlan};
use super::{CriuFlags, DESCRIPTORS_FILE};
use crate::cgroups::{self, Placement};
use crate::error::{Context, Error, Result};
use crate::spec::Bundle;
use crate::state::{ContainerDir, ContainerState, Status};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    pub root: PathBuf,
    pub id: String,
    pub image_path: Option<PathBuf>,
    pub work_path: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub systemd_cgroup: bool,
    pub flags: CriuFlags,
}

/// What restore made so far, taken away again on drop unless committed.
struct Undo {
    dir: Option<ContainerDir>,
    cgroup: Placement,
    pid: Option<i32>,
}

impl Drop for Undo {
    fn drop(&mut self) {
        // Committed (the state dir taken): the container is the caller's.
        let Some(dir) = self.dir.take() else {
            return;
        };
        if let Some(pid) = self.pid.take() {
            // SAFETY: killing and reaping the restored init, our child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
        }
        self.cgroup.kill_all();
        self.cgroup.remove();
        let _ = dir.remove();
    }
}

/// Restores container `o.id` from the images at `o.image_path` (default
/// ./checkpoint) with `bundle`'s config. The restored processes run when
/// this returns; the init is the caller's child.
pub fn restore(o: &RestoreOptions, bundle: &Bundle) -> Result<ContainerState> {
    o.flags.check()?;
    crate::state::validate_id(&o.id)?;
    let image = absolute(
        o.image_path
            .clone()
            .unwrap_or_else(|| PathBuf::from("checkpoint")),
    )?;
    if !image.join("inventory.img").is_file() {
        return Err(Error::new(format!(
            "image path {}: no checkpoint there (inventory.img missing)",
            image.display()
        )));
    }
    let work = match &o.work_path {
        Some(w) => absolute(w.clone())?,
        None => image.clone(),
    };
    let terminal = bundle
        .spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    if terminal {
        return Err(Error::new(
            "restore of a container with process.terminal is not supported by rt: \
             the pty master needs CRIU's RPC (orphan-pts-master), rt runs the criu command",
        ));
    }
    if o.systemd_cgroup {
        return Err(Error::new(
            "restore with --systemd-cgroup is not supported by rt: CRIU would have to run \
             inside the container's systemd unit",
        ));
    }
    let linux = bundle.spec.linux().as_ref();
    let layout = cgroups::detect()?;
    let planned = cgroups::plan(
        &layout,
        linux.and_then(|l| l.cgroups_path().as_deref()),
        &o.id,
        false,
    )?;
    let resources = linux
        .and_then(|l| l.resources().clone())
        .unwrap_or_default();
    let devices = linux.and_then(|l| l.devices().clone()).unwrap_or_default();
    let resources = cgroups::with_default_device_rules(&resources, &devices);
    cgroups::check_unified(&layout, &resources)?;
    planned.check_reusable()?;
    std::fs::create_dir_all(&work).with_ctx(|| format!("create {}", work.display()))?;

    let mut undo = Undo {
        dir: Some(ContainerDir::create(&o.root, &o.id)?),
        cgroup: Placement::default(),
        pid: None,
    };
    let dir = undo.dir.as_ref().expect("state dir");
    let mut record = crate::container::initial_record(&o.id, bundle);
    dir.save_intent(&ContainerState {
        cgroup: planned.intent(),
        ..record.clone()
    })
    .ctx("record the container being restored")?;
    undo.cgroup = planned;
    undo.cgroup.create_dirs()?;
    cgroups::apply_resources(&mut undo.cgroup, &resources).ctx("linux.resources")?;

    let state_dir = undo.dir.as_ref().expect("state dir").path.clone();
    let criu_root = RootMount::bind(&bundle.rootfs, &state_dir.join("criu-root"))?;
    let pid_path = work.join("restore.pid");
    let _ = std::fs::remove_file(&pid_path);
    let mut args = vec![
        "-D".to_string(),
        path_arg(&image),
        "--work-dir".to_string(),
        path_arg(&work),
        "--root".to_string(),
        path_arg(&criu_root.path),
        "--restore-detached".to_string(),
        "--restore-sibling".to_string(),
        "--pidfile".to_string(),
        path_arg(&pid_path),
    ];
    args.extend(o.flags.args());
    // Restore puts the tasks into the cgroups recorded at dump; the
    // container's cgroup here may be elsewhere (another id or path).
    for d in &undo.cgroup.dirs {
        let root = if d.v2 {
            d.path.clone()
        } else {
            format!("{}:{}", d.controllers.join(","), d.path)
        };
        args.extend(["--cgroup-root".to_string(), root]);
    }
    for (dest, src) in bind_mounts(&bundle.spec) {
        let src = if src.is_absolute() {
            src
        } else {
            bundle.dir.join(src)
        };
        args.extend([
            "--external".to_string(),
            format!("mnt[{dest}]:{}", src.display()),
        ]);
    }
    args.extend(inherited_stdio(&image)?);
    let hooks = hook_plan(&record, bundle);
    if !hooks.is_empty() {
        let plan_file = work.join("rt-restore-hooks.json");
        hooks.save(&plan_file)?;
        let script = notify::write_action_script(&plan_file)?;
        args.extend(["--action-script".to_string(), path_arg(&script)]);
    }
    let procs = undo
        .cgroup
        .dirs
        .iter()
        .map(|d| d.full().join("cgroup.procs"))
        .collect();
    Invocation {
        action: "restore",
        args,
        log: work.join("restore.log"),
        join_cgroups: procs,
    }
    .run()?;
    drop(criu_root);

    let pid = restored_init(&undo.cgroup, &pid_path)?;
    undo.pid = Some(pid);
    record.pid = pid;
    record.init_start_time = crate::state::status::proc_stat(pid)
        .map(|(_, t)| t)
        .ok_or_else(|| Error::new(format!("restored init {pid} is gone")))?;
    record.cgroup = undo.cgroup.clone();
    let dir = undo.dir.as_ref().expect("state dir");
    dir.save(&record)?;
    dir.remove_intent()?;
    if let Some(pf) = &o.pid_file {
        let pf = absolute(pf.clone())?;
        crate::state::write_atomic(&pf, pid.to_string().as_bytes(), 0o644).ctx("pid file")?;
    }
    // Committed: the container exists.
    undo.pid = None;
    undo.cgroup.disown();
    undo.dir.take();
    Ok(record)
}

/// The restored init's pid: the one live process of the container's
/// cgroup whose parent is outside it (the root of the restored tree),
/// else our only child (`--restore-sibling`), else CRIU's pid file. (An
/// earlier reading that CRIU's pid file was wrong was this module's own
/// bug: the undo guard killed the restored tree. The cgroup is still asked
/// first: it is what `state` and `delete` rely on.)
fn restored_init(cgroup: &Placement, pid_file: &Path) -> Result<i32> {
    let members = cgroup.pids();
    let roots: Vec<i32> = members
        .iter()
        .copied()
        .filter(|p| {
            status_field(*p, "PPid:")
                .and_then(|v| v.parse::<i32>().ok())
                .is_some_and(|pp| !members.contains(&pp))
                && status_field(*p, "State:").is_some_and(|s| !s.starts_with('Z'))
        })
        .collect();
    if let [only] = roots[..] {
        return Ok(only);
    }
    let children = children_of(std::process::id());
    if let [only] = children[..] {
        return Ok(only);
    }
    std::fs::read_to_string(pid_file)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| {
            Error::new(format!(
                "cannot tell the restored init: cgroup roots {roots:?}, rt's children \
                 {children:?}, no pid in {}",
                pid_file.display()
            ))
        })
}

/// A field of /proc/PID/status, trimmed.
fn status_field(pid: i32, name: &str) -> Option<String> {
    crate::sys::read_virtual(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
}

/// Children of the single-threaded process `pid`, from procfs.
fn children_of(pid: u32) -> Vec<i32> {
    crate::sys::read_virtual(format!("/proc/{pid}/task/{pid}/children"))
        .map(|s| {
            s.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The rootfs bound onto a directory of the state dir for CRIU's
/// `--root`: CRIU pivots into it, and pivot_root wants a mount point (runc
/// does the same). Unmounted and removed on drop.
struct RootMount {
    path: PathBuf,
}

impl RootMount {
    fn bind(rootfs: &Path, at: &Path) -> Result<RootMount> {
        std::fs::create_dir(at).with_ctx(|| format!("create {}", at.display()))?;
        let m = RootMount {
            path: at.to_path_buf(),
        };
        crate::sys::mount(
            Some(&path_arg(rootfs)),
            &path_arg(at),
            None,
            libc::MS_BIND | libc::MS_REC,
            None,
        )
        .map_err(|e| Error::errno(format!("bind {} for criu", rootfs.display()), e))?;
        Ok(m)
    }
}

impl Drop for RootMount {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.path, nix::mount::MntFlags::MNT_DETACH);
        let _ = std::fs::remove_dir(&self.path);
    }
}

/// `--inherit-fd` for each stdio stream that was a pipe at checkpoint
/// time: the restored process gets ours (the caller's) in its place, as
/// runc hands its own stdio to CRIU. Other kinds (files, /dev/null,
/// ttys) CRIU reopens from the images.
fn inherited_stdio(image: &Path) -> Result<Vec<String>> {
    let p = image.join(DESCRIPTORS_FILE);
    let text = match std::fs::read(&p) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::from(e).context(format!("read {}", p.display()))),
    };
    let fds: Vec<String> =
        serde_json::from_slice(&text).map_err(|e| Error::new(format!("{}: {e}", p.display())))?;
    let mut args = Vec::new();
    for (n, target) in fds.iter().enumerate().take(3) {
        if target.starts_with("pipe:") {
            args.extend(["--inherit-fd".to_string(), format!("fd[{n}]:{target}")]);
        }
    }
    Ok(args)
}

fn hook_plan(record: &ContainerState, bundle: &Bundle) -> HookPlan {
    let hooks = bundle.spec.hooks().as_ref();
    #[allow(deprecated)]
    let prestart = hooks.and_then(|h| h.prestart().clone()).unwrap_or_default();
    HookPlan {
        state: record.oci(Status::Created),
        bundle: bundle.dir.clone(),
        rt_pid: std::process::id(),
        prestart,
        create_runtime: hooks
            .and_then(|h| h.create_runtime().clone())
            .unwrap_or_default(),
    }
}
