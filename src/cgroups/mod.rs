//! Cgroup placement: which hierarchies this host has, where the container's
//! cgroup lives in each, creating and removing it, and the few knobs the
//! lifecycle needs (freeze, list pids). Works on v1, hybrid (v1
//! controllers plus a controller-less cgroup2 at /sys/fs/cgroup/unified,
//! like this project's CI host) and pure v2.
//!
//! We only ever create and remove directories we made ourselves, recorded
//! in [`Placement::created`]; parents that existed are never touched.

pub mod ahead;
mod devices;
mod hierarchy;
mod io_hugetlb_net;
pub mod oom;
mod preflight;
mod resources;
mod rootless;
mod stats;
pub mod sub;
pub mod systemd;

pub use hierarchy::{Hierarchy, Layout, detect};
pub use preflight::check_unified;
pub use resources::{apply_resources, with_default_device_rules};
pub use stats::{Stats, collect as stats};

use crate::error::{Context, Error, Result};
use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Opens the cgroup file `path` for writing. cgroupfs files exist or do
/// not: no O_CREAT (its lookup takes the directory's lock exclusively)
/// and no O_TRUNC (kernfs has nothing to truncate). std adds O_CLOEXEC.
pub(crate) fn open_knob(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new().write(true).open(path)
}

/// Writes `value` to the cgroup file `path` in one write(2), which
/// cgroupfs takes whole.
pub(crate) fn write_knob(path: &Path, value: impl AsRef<[u8]>) -> std::io::Result<()> {
    use std::io::Write;
    open_knob(path)?.write_all(value.as_ref())
}

/// The container's cgroup directories, for debug records.
pub fn describe(p: &Placement) -> String {
    let dirs: Vec<String> = p
        .dirs
        .iter()
        .map(|d| d.full().display().to_string())
        .collect();
    dirs.join(", ")
}

/// Where a container's cgroup is, in each hierarchy.
#[derive(Serialize, Deserialize, Default, Clone, Debug)]
pub struct Placement {
    /// One directory per hierarchy, with the hierarchy's mount point name
    /// (e.g. "memory", "cpu,cpuacct", "unified" or "" for pure v2).
    pub dirs: Vec<CgroupDir>,
    /// Directories rt created, parents first; removed in reverse order.
    pub created: Vec<PathBuf>,
    /// The device rules in force where rt enforces them with an eBPF filter
    /// (cgroup2 without a v1 devices hierarchy): the filter is compiled
    /// from the whole list, so `update` appends to it and recompiles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub device_rules: Vec<oci_spec::runtime::LinuxDeviceCgroup>,
    /// With the systemd driver: the unit that owns the cgroup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub systemd: Option<systemd::Unit>,
    /// Rootless cgroups (`--rootless`): device rules that cannot be
    /// enforced are not an error (an unprivileged user cannot attach the
    /// cgroup2 device filter), as in runc.
    #[serde(skip)]
    pub rootless: bool,
    /// Rootless without a cgroupsPath: the hierarchies we may not write
    /// to, left out (Self::leave_out_denied); a limit asked there is an
    /// error.
    #[serde(skip)]
    pub denied: Vec<rootless::Denied>,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct CgroupDir {
    /// Mount point of the hierarchy on the host.
    pub mount: PathBuf,
    /// Path of the container's cgroup inside the hierarchy ("/a/b").
    pub path: String,
    /// Controllers of a v1 hierarchy (empty for cgroup2).
    pub controllers: Vec<String>,
    pub v2: bool,
}

impl CgroupDir {
    pub fn full(&self) -> PathBuf {
        self.mount.join(self.path.trim_start_matches('/'))
    }
    fn has(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }
}

/// Resolves the container's cgroup path per hierarchy: an absolute
/// `cgroupsPath` is taken from each hierarchy's root; a relative one (and
/// the default, the container id) from rt's own cgroup, as runc's cgroupfs
/// driver does. With `use_systemd`, the path is systemd's `slice:prefix:name`
/// and the cgroup is the unit's, at the same place in every hierarchy.
pub fn plan(
    layout: &Layout,
    cgroups_path: Option<&Path>,
    id: &str,
    use_systemd: bool,
) -> Result<Placement> {
    if use_systemd {
        return plan_systemd(layout, cgroups_path, id);
    }
    let wanted = cgroups_path
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|| id.to_string());
    if wanted.split('/').any(|c| c == "..") {
        return Err(Error::new(format!(
            "linux.cgroupsPath: {wanted:?} must not contain \"..\""
        )));
    }
    if wanted.contains(':') && !wanted.starts_with('/') {
        return Err(Error::new(format!(
            "linux.cgroupsPath: {wanted:?} looks like a systemd slice:prefix:name path; \
             use --systemd-cgroup for the systemd cgroup driver"
        )));
    }
    let mut dirs = Vec::new();
    for h in &layout.hierarchies {
        let path = if wanted.starts_with('/') {
            normalize(&wanted)
        } else {
            normalize(&format!("{}/{}", h.own_path, wanted))
        };
        if path == "/" {
            return Err(Error::new("linux.cgroupsPath: must not be the root cgroup"));
        }
        dirs.push(CgroupDir {
            mount: h.mount.clone(),
            path,
            controllers: h.controllers.clone(),
            v2: h.v2,
        });
    }
    Ok(Placement {
        dirs,
        ..Placement::default()
    })
}

/// Rootless with the systemd driver: the unit goes to the caller's own
/// systemd instance (`systemd --user`), which only manages cgroup2 (runc
/// refuses it on v1 in the same words).
pub fn plan_user_systemd(
    layout: &Layout,
    cgroups_path: Option<&Path>,
    id: &str,
) -> Result<Placement> {
    if !layout.is_pure_v2() {
        return Err(Error::new(
            "cannot use rootless systemd cgroups manager on cgroup v1",
        ));
    }
    plan_systemd_for(layout, cgroups_path, id, true)
}

fn plan_systemd(layout: &Layout, cgroups_path: Option<&Path>, id: &str) -> Result<Placement> {
    plan_systemd_for(layout, cgroups_path, id, false)
}

fn plan_systemd_for(
    layout: &Layout,
    cgroups_path: Option<&Path>,
    id: &str,
    user: bool,
) -> Result<Placement> {
    let path = cgroups_path.map(|p| p.to_string_lossy().into_owned());
    let unit = systemd::parse_for(path.as_deref(), id, user)?;
    if unit.cgroup == "/" {
        return Err(Error::new("linux.cgroupsPath: must not be the root cgroup"));
    }
    let dirs = layout
        .hierarchies
        .iter()
        .map(|h| CgroupDir {
            mount: h.mount.clone(),
            path: unit.cgroup.clone(),
            controllers: h.controllers.clone(),
            v2: h.v2,
        })
        .collect();
    Ok(Placement {
        dirs,
        systemd: Some(unit),
        ..Placement::default()
    })
}

fn normalize(p: &str) -> String {
    let parts: Vec<&str> = p
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    format!("/{}", parts.join("/"))
}

impl Placement {
    /// Creates every missing directory, remembering which ones we made
    /// ([`Self::remove`] takes them away again; on failure the caller
    /// does, once no process of ours is left in them). With the systemd
    /// driver the unit's cgroup appears only in [`Self::enter_init`]; here
    /// we just make sure systemd can be reached.
    pub fn create_dirs(&mut self) -> Result<()> {
        if let Some(unit) = &self.systemd {
            return systemd::connect(unit.user);
        }
        let dirs = self.dirs.clone();
        for d in &dirs {
            self.create_one(d)?;
        }
        Ok(())
    }

    /// Creates only the cgroup2 directory, which clone3 puts the init
    /// into; [`Self::create_dirs`] makes the others later.
    pub fn create_unified_dir(&mut self) -> Result<()> {
        match self.dirs.iter().find(|d| d.v2).cloned() {
            Some(d) => self.create_one(&d),
            None => Ok(()),
        }
    }

    /// `mkdir -p` of the container's directory in one hierarchy, from the
    /// bottom up: a single mkdir when the parent exists, the usual case.
    fn create_one(&mut self, d: &CgroupDir) -> Result<()> {
        self.create_dir_in(d, &d.full())
    }

    fn create_dir_in(&mut self, d: &CgroupDir, dir: &Path) -> Result<()> {
        let parent = dir.parent().unwrap_or(&d.mount).to_path_buf();
        let failed =
            |e: std::io::Error| Error::from(e).context(format!("create cgroup {}", dir.display()));
        match std::fs::create_dir(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return fill_empty_cpusets(d, dir);
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound
                    && parent.starts_with(&d.mount)
                    && parent != d.mount =>
            {
                self.create_dir_in(d, &parent)?;
                match std::fs::create_dir(dir) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        return fill_empty_cpusets(d, dir);
                    }
                    Err(e) => return Err(failed(e)),
                }
            }
            Err(e) => return Err(failed(e)),
        }
        self.created.push(dir.to_path_buf());
        if d.v2 && self.created.contains(&parent) {
            // cgroup2 controllers must be enabled on every level down to
            // ours; we only ever write to cgroups we made.
            enable_controllers(&parent)?;
        }
        if d.has("cpuset") {
            // A new v1 cpuset starts empty and refuses tasks.
            copy_cpuset(d, &parent, dir)?;
        }
        Ok(())
    }

    /// The cgroup2 directory opened for clone3's CLONE_INTO_CGROUP: a child
    /// born there skips the cgroup.procs write, whose writer lock on
    /// cgroup_threadgroup_rwsem waits for an RCU grace period when the lock
    /// has been idle.
    pub fn open_unified(&self) -> Option<std::os::fd::OwnedFd> {
        let dir = self.unified()?;
        std::fs::File::options()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(dir)
            .ok()
            .map(Into::into)
    }

    /// Moves `pid` into the container's cgroup in every hierarchy (but the
    /// cgroup2 one when it was born there).
    pub fn enter(&self, pid: i32, born_in_unified: bool) -> Result<()> {
        if let Some(unit) = self.systemd.as_ref().filter(|u| u.user) {
            return systemd::attach(unit, pid);
        }
        for d in self.dirs.iter().filter(|d| !(born_in_unified && d.v2)) {
            let procs = d.full().join("cgroup.procs");
            write_knob(&procs, pid.to_string())
                .with_ctx(|| format!("join cgroup {}", procs.display()))?;
        }
        Ok(())
    }

    /// Moves the calling, single-threaded process into the container's
    /// cgroup in every hierarchy (but the cgroup2 one when it was born
    /// there). On v1 it writes "0" to `tasks`: the kernel moves the calling
    /// thread without taking cgroup_threadgroup_rwsem for writing, whose
    /// first taking after an idle spell waits for an RCU grace period
    /// (measured here: 12-17 ms for a parent's cgroup.procs write, 0.03 ms
    /// for this). A single-threaded process moves whole. Needs the caller
    /// to be privileged over the host's cgroupfs (no new user namespace).
    pub fn enter_self(&self, born_in_unified: bool) -> Result<()> {
        for d in self.dirs.iter().filter(|d| !(born_in_unified && d.v2)) {
            // cgroup2 domain cgroups have no per-thread file: there the
            // whole-process write is the only way.
            let file = d.full().join(if d.v2 { "cgroup.procs" } else { "tasks" });
            write_knob(&file, "0").with_ctx(|| format!("join cgroup {}", file.display()))?;
        }
        Ok(())
    }

    /// The files `enter_self` writes, opened by the parent for the init
    /// (the opening is half the cost of each join, and the parent has time
    /// while the init mounts), or taken from what `ahead` opened. None if
    /// any fails to open: the init then joins by path and reports what is
    /// wrong.
    pub fn open_self_entry(
        &self,
        born_in_unified: bool,
        ahead: &mut ahead::Done,
    ) -> Option<Vec<std::os::fd::OwnedFd>> {
        self.dirs
            .iter()
            .enumerate()
            .filter(|(_, d)| !(born_in_unified && d.v2))
            .map(|(i, d)| match ahead.take_tasks(i) {
                Some(fd) => Some(fd),
                None => open_knob(&d.full().join(if d.v2 { "cgroup.procs" } else { "tasks" }))
                    .ok()
                    .map(Into::into),
            })
            .collect()
    }

    /// `enter_self` through the files `open_self_entry` opened, in the same
    /// order; by path if they are not all there.
    pub fn enter_self_through(
        &self,
        files: &[std::os::fd::OwnedFd],
        born_in_unified: bool,
    ) -> Result<()> {
        let dirs: Vec<&CgroupDir> = self
            .dirs
            .iter()
            .filter(|d| !(born_in_unified && d.v2))
            .collect();
        if files.len() != dirs.len() {
            return self.enter_self(born_in_unified);
        }
        for (d, fd) in dirs.iter().zip(files) {
            crate::sys::write_all(std::os::fd::AsRawFd::as_raw_fd(fd), b"0")
                .map_err(|e| Error::errno(format!("join cgroup {}", d.full().display()), e))?;
        }
        Ok(())
    }

    pub fn is_systemd(&self) -> bool {
        self.systemd.is_some()
    }

    fn pure_v2(&self) -> bool {
        self.dirs.len() == 1 && self.dirs[0].v2
    }

    /// systemd driver: starts the unit with the new container's init in it
    /// and the limits as properties, joins hierarchies systemd left alone,
    /// then writes the limits to the cgroup files as well.
    pub fn enter_init(&mut self, pid: i32, r: Option<&LinuxResources>, id: &str) -> Result<()> {
        let pure_v2 = self.pure_v2();
        let Some(unit) = self.systemd.as_mut() else {
            return self.enter(pid, false);
        };
        systemd::start(unit, pid, r, pure_v2, id)?;
        if unit.user {
            // Only now is it known where the user manager put the unit.
            unit.locate(pid)?;
            let cgroup = unit.cgroup.clone();
            for d in self.dirs.iter_mut().filter(|d| d.v2) {
                d.path = cgroup.clone();
            }
        }
        let dirs = self.dirs.clone();
        for d in &dirs {
            let procs = std::fs::read_to_string(d.full().join("cgroup.procs")).unwrap_or_default();
            if !procs.lines().any(|l| l.trim() == pid.to_string()) {
                self.create_one(d)?;
                let f = d.full().join("cgroup.procs");
                write_knob(&f, pid.to_string())
                    .with_ctx(|| format!("join cgroup {}", f.display()))?;
            }
        }
        if let Some(r) = r {
            apply_resources(self, r).ctx("linux.resources")?;
        }
        Ok(())
    }

    /// `update`: new limits for a running container. Device rules are
    /// added to those in force; a list that starts over (an "a" rule, as
    /// Podman sends the spec's whole list) gets rt's default allow list
    /// after it, as at create, or the container would lose /dev/null,
    /// /dev/pts and the rest.
    pub fn update(&mut self, r: &LinuxResources) -> Result<()> {
        let starts_over = r
            .devices()
            .iter()
            .flatten()
            .any(|d| matches!(d.typ(), None | Some(oci_spec::runtime::LinuxDeviceType::A)));
        let with_defaults;
        let r = if starts_over {
            with_defaults = with_default_device_rules(r, &[]);
            &with_defaults
        } else {
            r
        };
        if let Some(unit) = &self.systemd {
            systemd::set_resources(unit, r, self.pure_v2())?;
        }
        apply_resources(self, r)
    }

    /// What `create` records before it makes this placement: the
    /// directories that do not exist yet, parents first (those it may
    /// make), and the systemd unit as possibly started. A killed create
    /// leaves this record for `delete` to remove; directories that already
    /// existed are never listed, so never removed.
    pub fn intent(&self) -> Placement {
        let mut p = self.clone();
        p.created = self.missing_dirs();
        if let Some(u) = p.systemd.as_mut() {
            u.started = true;
        }
        p
    }

    /// The container's directories and their ancestors below each
    /// hierarchy's root that do not exist, parents first.
    fn missing_dirs(&self) -> Vec<PathBuf> {
        let mut all = Vec::new();
        for d in &self.dirs {
            let mut missing = Vec::new();
            let mut cur = d.full();
            while cur != d.mount && cur.starts_with(&d.mount) {
                match std::fs::symlink_metadata(&cur) {
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => missing.push(cur.clone()),
                    // Exists, or cannot tell: not ours to remove.
                    _ => break,
                }
                cur.pop();
            }
            all.extend(missing.into_iter().rev());
        }
        all
    }

    /// SIGKILLs every process in the container's cgroups, in every
    /// hierarchy, until none is left (for up to about a second). For a
    /// container whose init is unknown (a killed create) or does not take
    /// the others with it (no PID namespace of its own).
    pub fn kill_all(&self) -> bool {
        if let Some(dir) = self.unified() {
            // cgroup2's cgroup.kill also catches children forked meanwhile;
            // absent before Linux 5.14, and then the loop does it.
            let _ = std::fs::OpenOptions::new()
                .write(true)
                .open(dir.join("cgroup.kill"))
                .and_then(|mut f| std::io::Write::write_all(&mut f, b"1"));
        }
        for _ in 0..1000 {
            let pids = self.all_pids();
            if pids.is_empty() {
                return true;
            }
            for pid in pids {
                // SAFETY: kill(2) with integer arguments, on processes in
                // the container's own cgroups.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            if self.is_frozen() {
                let _ = self.set_frozen(false);
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        false
    }

    /// Pids in the container's cgroups, from every hierarchy.
    fn all_pids(&self) -> Vec<i32> {
        let mut pids: Vec<i32> = self
            .dirs
            .iter()
            .filter_map(|d| std::fs::read_to_string(d.full().join("cgroup.procs")).ok())
            .flat_map(|text| {
                text.lines()
                    .filter_map(|l| l.trim().parse().ok())
                    .collect::<Vec<i32>>()
            })
            .collect();
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    /// Forgets what this placement made, so dropping it undoes nothing
    /// (the container's state file owns it now).
    pub fn disown(&mut self) {
        self.created.clear();
        if let Some(u) = self.systemd.as_mut() {
            u.started = false;
        }
    }

    /// The cgroup2 directory, if the host has a cgroup2 hierarchy.
    pub fn unified(&self) -> Option<PathBuf> {
        self.dirs.iter().find(|d| d.v2).map(|d| d.full())
    }

    /// Removes the directories rt created, deepest first. Processes that
    /// just died may keep a cgroup busy for a moment, so EBUSY is retried.
    pub fn remove(&mut self) -> bool {
        let mut all = true;
        if let Some(unit) = self.systemd.as_mut().filter(|u| u.started) {
            // systemd removes the unit's cgroup once the unit is stopped.
            if let Err(e) = systemd::stop(unit) {
                log::warn!("{e}");
                all = false;
            }
            unit.started = false;
        }
        while let Some(dir) = self.created.pop() {
            let mut ok = false;
            for attempt in 0..100 {
                match std::fs::remove_dir(&dir) {
                    Ok(()) => {
                        ok = true;
                        break;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        ok = true;
                        break;
                    }
                    // A child cgroup (another container's, under a parent
                    // we made) is no passing state: do not wait for it.
                    Err(e)
                        if e.raw_os_error() == Some(libc::EBUSY)
                            && attempt < 99
                            && !has_child_dirs(&dir) =>
                    {
                        std::thread::sleep(std::time::Duration::from_millis(2));
                    }
                    Err(e) => {
                        log::warn!("remove cgroup {}: {e}", dir.display());
                        break;
                    }
                }
            }
            all &= ok;
        }
        all
    }

    /// Pids in the container's cgroup (from the first hierarchy that has them).
    pub fn pids(&self) -> Vec<i32> {
        for d in &self.dirs {
            if let Ok(text) = std::fs::read_to_string(d.full().join("cgroup.procs")) {
                return text.lines().filter_map(|l| l.trim().parse().ok()).collect();
            }
        }
        Vec::new()
    }

    fn freezer(&self) -> Option<(PathBuf, bool)> {
        if let Some(d) = self.dirs.iter().find(|d| d.has("freezer")) {
            return Some((d.full().join("freezer.state"), false));
        }
        let d = self.dirs.iter().find(|d| d.v2)?;
        let f = d.full().join("cgroup.freeze");
        f.exists().then_some((f, true))
    }

    pub fn is_frozen(&self) -> bool {
        match self.freezer() {
            Some((f, v2)) => std::fs::read_to_string(f)
                .map(|s| {
                    if v2 {
                        s.trim() == "1"
                    } else {
                        s.trim() == "FROZEN"
                    }
                })
                .unwrap_or(false),
            None => false,
        }
    }

    /// Freezes or thaws every process of the container.
    pub fn set_frozen(&self, frozen: bool) -> Result<()> {
        let (file, v2) = self.freezer().ok_or_else(|| {
            Error::new("cannot toggle freezer: cgroups not configured for container")
        })?;
        let value = match (v2, frozen) {
            (true, true) => "1",
            (true, false) => "0",
            (false, true) => "FROZEN",
            (false, false) => "THAWED",
        };
        write_knob(&file, value).with_ctx(|| format!("write {}", file.display()))?;
        if !v2 {
            // v1 reports FREEZING until every task stopped.
            for _ in 0..1000 {
                let now = std::fs::read_to_string(&file).unwrap_or_default();
                if now.trim() == if frozen { "FROZEN" } else { "THAWED" } {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
        Ok(())
    }
}

fn has_child_dirs(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|rd| {
        rd.flatten()
            .any(|e| e.file_type().is_ok_and(|t| t.is_dir()))
    })
}

fn enable_controllers(dir: &Path) -> Result<()> {
    let available = std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    let line: Vec<String> = available
        .split_whitespace()
        .map(|c| format!("+{c}"))
        .collect();
    if line.is_empty() {
        return Ok(());
    }
    let f = dir.join("cgroup.subtree_control");
    write_knob(&f, line.join(" ")).with_ctx(|| format!("write {}", f.display()))
}

/// Copies the parent's cpuset.cpus / cpuset.mems into an existing v1
/// cpuset cgroup where they are empty (set values are left alone).
/// A v1 cpuset directory the caller made (a parent, or the container's
/// own) and left with an empty `cpuset.cpus` or `cpuset.mems` refuses
/// tasks (ENOSPC). runc fills it, and every empty level above it, from
/// the nearest ancestor that has values; so does this, top down. Only
/// directories below the hierarchy's root are touched.
fn fill_empty_cpusets(d: &CgroupDir, dir: &Path) -> Result<()> {
    if !d.has("cpuset") || dir == d.mount || !dir.starts_with(&d.mount) {
        return Ok(());
    }
    let Some(parent) = dir.parent() else {
        return Ok(());
    };
    if !cpuset_empty(dir)? {
        return Ok(());
    }
    fill_empty_cpusets(d, parent)?;
    fill_empty_cpuset(parent, dir)
}

fn cpuset_empty(dir: &Path) -> Result<bool> {
    for f in ["cpuset.cpus", "cpuset.mems"] {
        let v = crate::sys::read_virtual(dir.join(f))
            .with_ctx(|| format!("read {}", dir.join(f).display()))?;
        if v.trim().is_empty() {
            return Ok(true);
        }
    }
    Ok(false)
}

fn fill_empty_cpuset(parent: &Path, dir: &Path) -> Result<()> {
    for f in ["cpuset.cpus", "cpuset.mems"] {
        let mine = crate::sys::read_virtual(dir.join(f))
            .with_ctx(|| format!("read {}", dir.join(f).display()))?;
        if !mine.trim().is_empty() {
            continue;
        }
        let v = crate::sys::read_virtual(parent.join(f))
            .with_ctx(|| format!("read {}", parent.join(f).display()))?;
        write_knob(&dir.join(f), v.trim())
            .with_ctx(|| format!("write {}", dir.join(f).display()))?;
    }
    Ok(())
}

/// Gives a new cpuset directory its parent's cpus and mems. A parent the
/// caller made and left empty is filled first (runc does), which costs
/// reads only when it is empty: container start stays two reads, two
/// writes here.
fn copy_cpuset(d: &CgroupDir, parent: &Path, dir: &Path) -> Result<()> {
    for f in ["cpuset.cpus", "cpuset.mems"] {
        let read = || {
            crate::sys::read_virtual(parent.join(f))
                .with_ctx(|| format!("read {}", parent.join(f).display()))
        };
        let mut v = read()?;
        if v.trim().is_empty() {
            fill_empty_cpusets(d, parent)?;
            v = read()?;
        }
        write_knob(&dir.join(f), v.trim())
            .with_ctx(|| format!("write {}", dir.join(f).display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> Layout {
        Layout {
            hierarchies: vec![
                Hierarchy {
                    mount: "/sys/fs/cgroup/memory".into(),
                    controllers: vec!["memory".into()],
                    own_path: "/agent/x".into(),
                    v2: false,
                },
                Hierarchy {
                    mount: "/sys/fs/cgroup/unified".into(),
                    controllers: vec![],
                    own_path: "/".into(),
                    v2: true,
                },
            ],
        }
    }

    #[test]
    fn absolute_path_from_root_relative_from_own() {
        let p = plan(&layout(), Some(Path::new("/a/b")), "id", false).unwrap();
        assert_eq!(p.dirs[0].full(), PathBuf::from("/sys/fs/cgroup/memory/a/b"));
        assert_eq!(
            p.dirs[1].full(),
            PathBuf::from("/sys/fs/cgroup/unified/a/b")
        );
        let p = plan(&layout(), None, "c1", false).unwrap();
        assert_eq!(p.dirs[0].path, "/agent/x/c1");
        assert_eq!(p.dirs[1].path, "/c1");
    }

    #[test]
    fn dotdot_and_root_refused() {
        assert!(plan(&layout(), Some(Path::new("/a/../../b")), "x", false).is_err());
        assert!(plan(&layout(), Some(Path::new("/")), "x", false).is_err());
    }

    #[test]
    fn slice_path_needs_the_systemd_driver() {
        let path = Some(Path::new("system.slice:rt:t1"));
        let err = plan(&layout(), path, "x", false).unwrap_err();
        assert!(err.message().contains("--systemd-cgroup"), "{err}");
        let p = plan(&layout(), path, "x", true).unwrap();
        // The unit's cgroup, at the same place in every hierarchy.
        assert_eq!(
            p.dirs[0].full(),
            PathBuf::from("/sys/fs/cgroup/memory/system.slice/rt-t1.scope")
        );
        assert_eq!(
            p.dirs[1].full(),
            PathBuf::from("/sys/fs/cgroup/unified/system.slice/rt-t1.scope")
        );
        assert_eq!(p.systemd.as_ref().unwrap().name, "rt-t1.scope");
        assert!(p.is_systemd());
        // An absolute path is no systemd path.
        assert!(plan(&layout(), Some(Path::new("/a/b")), "x", true).is_err());
        assert!(plan(&layout(), Some(Path::new("-.slice:rt:-.slice")), "x", true).is_err());
    }

    /// Missing levels are made parents first and recorded; levels that
    /// existed are not recorded, so never removed.
    #[test]
    fn create_dirs_records_only_the_levels_it_made() {
        let mount = std::env::temp_dir().join(format!("rt-mkdir-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&mount);
        std::fs::create_dir_all(mount.join("a")).unwrap();
        let dir = |path: &str| CgroupDir {
            mount: mount.clone(),
            path: path.into(),
            controllers: vec![],
            v2: true,
        };
        let mut p = Placement {
            dirs: vec![dir("/a/b/c"), dir("/a")],
            ..Placement::default()
        };
        p.create_dirs().unwrap();
        assert_eq!(p.created, vec![mount.join("a/b"), mount.join("a/b/c")]);
        assert!(mount.join("a/b/c").is_dir());
        assert!(p.remove());
        assert!(mount.join("a").is_dir() && !mount.join("a/b").exists());
        std::fs::remove_dir_all(&mount).unwrap();
    }

    /// The record of a create lists only directories that do not exist
    /// yet, parents first, so a killed create's cleanup never removes one
    /// it did not make.
    #[test]
    fn intent_lists_only_missing_directories_parents_first() {
        let mount = std::env::temp_dir().join(format!("rt-intent-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&mount);
        std::fs::create_dir_all(mount.join("a")).unwrap();
        std::fs::create_dir_all(mount.join("x/y")).unwrap();
        let dir = |path: &str| CgroupDir {
            mount: mount.clone(),
            path: path.into(),
            controllers: vec![],
            v2: true,
        };
        let p = Placement {
            dirs: vec![dir("/a/b/c"), dir("/x/y")],
            ..Placement::default()
        };
        let intent = p.intent();
        assert_eq!(intent.created, vec![mount.join("a/b"), mount.join("a/b/c")]);
        assert!(p.created.is_empty(), "planning made nothing");
        let mut made = p.clone();
        made.create_dirs().unwrap();
        assert_eq!(made.created, intent.created);
        let mut cleanup = intent.clone();
        assert!(cleanup.remove());
        assert!(mount.join("a").is_dir() && !mount.join("a/b").exists());
        assert!(mount.join("x/y").is_dir());
        std::fs::remove_dir_all(&mount).unwrap();
    }

    #[test]
    fn rootless_systemd_needs_cgroup_v2() {
        let e = plan_user_systemd(&layout(), None, "x").unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot use rootless systemd cgroups manager on cgroup v1"
        );
        let v2 = Layout {
            hierarchies: vec![Hierarchy {
                mount: "/sys/fs/cgroup".into(),
                controllers: vec![],
                own_path: "/".into(),
                v2: true,
            }],
        };
        let p = plan_user_systemd(&v2, None, "x").unwrap();
        assert!(p.systemd.as_ref().unwrap().user);
    }

    #[test]
    fn state_without_systemd_field_still_loads() {
        let p: Placement = serde_json::from_str(r#"{"dirs": [], "created": []}"#).unwrap();
        assert!(!p.is_systemd());
        let text = serde_json::to_string(&p).unwrap();
        assert!(!text.contains("systemd"), "{text}");
    }
}
