//! `create`: from a bundle to an init process waiting for `start`.
//!
//! Data flow: load + validate config.json → reserve the state dir → plan
//! and create the cgroup → clone the init into its namespaces → (maps,
//! cgroup placement, "go") → state file, written while the init sets
//! itself up → createRuntime hooks when the init asks → init reports
//! Ready → pid file. Any failure undoes what was done, so nothing is left
//! behind.
//!
//! `run` needs no exec fifo: its init goes on to exec as soon as it is
//! ready (`create_and_start`), which saves a handshake, and the fifo's
//! mknod and unlink, on every `rt run`.

use crate::cgroups::{self, Placement};
use crate::error::{Context, Error, Result};
use crate::init::{self, CgroupEntry, InitConfig};
use crate::process::namespaces::{ForChildren, NamespacePlan};
use crate::process::{Channel, Msg, idmap};
use crate::spec::{Bundle, load_bundle};
use crate::state::{self, ContainerDir, ContainerState};
use crate::sys;
use oci_spec::runtime::{LinuxNamespaceType, LinuxResources};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

#[derive(Default, Clone, Debug)]
pub struct CreateOptions {
    pub root: PathBuf,
    pub id: String,
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    /// Extra fds (from 3 on) handed to the container process.
    pub preserve_fds: u32,
    /// Stdin, stdout, stderr of the container process; default: ours.
    /// Library callers (rt-build) pass pipes or files here.
    pub stdio: Option<[std::os::fd::RawFd; 3]>,
    /// An already connected console socket (instead of `console_socket`),
    /// used by `rt run` to receive the pty master itself.
    pub console_fd: Option<std::os::fd::RawFd>,
    /// `--systemd-cgroup`: the cgroup is a systemd unit.
    pub systemd_cgroup: bool,
}

/// Everything `create` made so far, undone on drop unless committed.
struct Undo {
    dir: Option<ContainerDir>,
    cgroup: Placement,
    child: Option<i32>,
}

impl Undo {
    fn commit(mut self) -> ContainerDir {
        self.child = None;
        self.cgroup.disown();
        self.dir.take().expect("state dir")
    }
}

impl Drop for Undo {
    fn drop(&mut self) {
        if let Some(pid) = self.child.take() {
            // SAFETY: signalling and reaping our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
        }
        self.cgroup.remove();
        if let Some(dir) = self.dir.take() {
            let _ = dir.remove();
        }
    }
}

/// Creates the container and returns its state. The init is left waiting
/// for `start`; when this returns, the pid file exists.
pub fn create(opts: &CreateOptions) -> Result<ContainerState> {
    let bundle = load_bundle(&opts.bundle)?;
    create_from(opts, &bundle, Start::OnRequest).map(|(st, _)| st)
}

/// `run`: creates the container from an already loaded `bundle` and lets
/// its init exec the container process as soon as it is ready, with no
/// `start` in between. Returns once the process has been exec'd (or the
/// init died trying) and the poststart hooks ran.
pub fn create_and_start(opts: &CreateOptions, bundle: &Bundle) -> Result<ContainerState> {
    let (st, chan) = create_from(opts, bundle, Start::Now)?;
    // The init's end of the channel is close-on-exec: EOF is the exec.
    while let Ok(Some(_)) = chan.recv() {}
    super::start::run_poststart_hooks(&st);
    Ok(st)
}

/// Whether the init waits for `start` on the exec fifo.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Start {
    OnRequest,
    Now,
}

fn create_from(
    opts: &CreateOptions,
    bundle: &Bundle,
    start: Start,
) -> Result<(ContainerState, Channel)> {
    state::validate_id(&opts.id)?;
    let dir = ContainerDir::create(&opts.root, &opts.id)?;
    let mut undo = Undo {
        dir: Some(dir),
        cgroup: Placement::default(),
        child: None,
    };
    let (st, chan) = build(opts, bundle, start, &mut undo)?;
    let dir = undo.commit();
    if let Some(pf) = &opts.pid_file {
        if let Err(e) = write_pid_file(pf, st.pid) {
            // Leave nothing behind: the caller will never learn this pid.
            let mut cg = st.cgroup.clone();
            // SAFETY: killing the init we just created.
            unsafe { libc::kill(st.pid, libc::SIGKILL) };
            sys::wait_exit(st.pid, 1000);
            cg.remove();
            let _ = dir.remove();
            return Err(e);
        }
    }
    Ok((st, chan))
}

fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    };
    state::write_atomic(&abs, pid.to_string().as_bytes(), 0o644).ctx("pid file")
}

fn build(
    opts: &CreateOptions,
    bundle: &Bundle,
    start: Start,
    undo: &mut Undo,
) -> Result<(ContainerState, Channel)> {
    let spec = &bundle.spec;
    let linux = spec.linux().as_ref();
    let dir_path = undo.dir.as_ref().expect("state dir").path.clone();

    // Cgroup.
    let layout = cgroups::detect()?;
    undo.cgroup = cgroups::plan(
        &layout,
        linux.and_then(|l| l.cgroups_path().as_deref()),
        &opts.id,
        opts.systemd_cgroup,
    )?;
    // Even without linux.resources the device rules apply (deny all but
    // rt's defaults), as in runc.
    let resources = linux
        .and_then(|l| l.resources().clone())
        .unwrap_or_default();
    let devices = linux.and_then(|l| l.devices().clone()).unwrap_or_default();
    let resources = cgroups::with_default_device_rules(&resources, &devices);
    // Before any cgroup directory or process exists.
    cgroups::check_unified(&layout, &resources)?;
    if !undo.cgroup.is_systemd() {
        undo.cgroup.check_reusable()?;
    }

    let fifo = match start {
        Start::OnRequest => Some(make_exec_fifo(&dir_path)?),
        Start::Now => None,
    };

    let console: Option<OwnedFd> = match (&opts.console_socket, opts.console_fd) {
        (_, Some(fd)) => Some(
            nix::unistd::dup(unsafe_borrow(fd)).map_err(|e| Error::errno("dup console fd", e))?,
        ),
        (Some(p), None) => Some(
            std::os::unix::net::UnixStream::connect(p)
                .map_err(|e| {
                    Error::from(e).context(format!("connect to console socket {}", p.display()))
                })?
                .into(),
        ),
        (None, None) => None,
    };

    let ns_list = linux
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    let mut plan = NamespacePlan::from_spec(&ns_list)?;
    // The pid and time namespaces apply to children only: join them here,
    // around the clone, and switch back afterwards.
    let mut for_children: Vec<(i32, OwnedFd)> = Vec::new();
    plan.join.retain_mut(|(t, fd)| {
        if matches!(t, LinuxNamespaceType::Pid | LinuxNamespaceType::Time) {
            let owned = nix::unistd::dup(&*fd).ok();
            if let Some(o) = owned {
                for_children.push((crate::process::namespaces::clone_flag(*t), o));
            }
            false
        } else {
            true
        }
    });
    let new_user = plan.has_new(LinuxNamespaceType::User);
    // A cgroup namespace must be created once the init is in its cgroup.
    let want_cgroupns = plan.has_new(LinuxNamespaceType::Cgroup);
    let new_time = plan.has_new(LinuxNamespaceType::Time);
    let empty_offsets = std::collections::HashMap::new();
    let time_offsets = new_time.then(|| {
        linux
            .and_then(|l| l.time_offsets().as_ref())
            .unwrap_or(&empty_offsets)
    });
    let clone_flags = plan.new_flags & !libc::CLONE_NEWCGROUP & !libc::CLONE_NEWTIME;
    let state_template = ContainerState {
        id: opts.id.clone(),
        pid: 0,
        init_start_time: 0,
        bundle: bundle.dir.clone(),
        rootfs: bundle.rootfs.clone(),
        created: crate::logging::rfc3339_now(),
        annotations: spec.annotations().clone().unwrap_or_default(),
        owner: owner_name(),
        cgroup: undo.cgroup.clone(),
        own_pid_ns: ns_list
            .iter()
            .any(|n| n.typ() == LinuxNamespaceType::Pid && n.path().is_none()),
        has_process: spec.process().is_some(),
        hooks: spec.hooks().clone(),
        namespaces: Vec::new(),
        no_new_privileges: spec
            .process()
            .as_ref()
            .and_then(|p| p.no_new_privileges())
            .unwrap_or(false),
        process: spec.process().clone(),
        seccomp: linux.and_then(|l| l.seccomp().clone()),
    };
    // prestart (deprecated, same moment) runs first, as in runc.
    #[allow(deprecated)]
    let prestart_hooks: Vec<_> = spec
        .hooks()
        .as_ref()
        .and_then(|h| h.prestart().clone())
        .unwrap_or_default();
    let create_runtime_hooks: Vec<_> = spec
        .hooks()
        .as_ref()
        .and_then(|h| h.create_runtime().clone())
        .unwrap_or_default();

    let (parent_chan, child_chan) = Channel::pair()?;
    let pid_cell = std::cell::Cell::new(0);
    let state_json = |status: &str| {
        let mut s = state_template.clone();
        s.pid = pid_cell.get();
        let mut oci = s.oci(crate::state::Status::Created);
        oci.status = status.to_string();
        oci.pid = if s.pid == 0 {
            nix::unistd::getpid().as_raw()
        } else {
            s.pid
        };
        serde_json::to_string(&oci).unwrap_or_default()
    };
    // Without a new user namespace the init is as privileged as we are and
    // moves itself into its cgroups (cheaper, see Placement::enter_self).
    // In its own mount namespace it can wait for them until its first
    // cgroup mount, so the parent creates them after the clone, while the
    // init mounts. With the systemd driver systemd puts the init into its
    // unit; with a user namespace the parent moves it.
    let cgroup_entry = if new_user || !nix::unistd::geteuid().is_root() || undo.cgroup.is_systemd()
    {
        CgroupEntry::ByParent
    } else if clone_flags & libc::CLONE_NEWNS != 0
        && !plan
            .join
            .iter()
            .any(|(t, _)| *t == LinuxNamespaceType::Mount)
    {
        CgroupEntry::SelfWhenReady
    } else {
        CgroupEntry::SelfAtStart
    };
    if cgroup_entry == CgroupEntry::SelfWhenReady {
        // clone3 puts the init straight into its cgroup2 directory.
        undo.cgroup.create_unified_dir()?;
    } else {
        create_cgroups(&mut undo.cgroup, &resources)?;
    }
    let placement = undo.cgroup.clone();
    let cfg = InitConfig {
        spec,
        bundle: bundle.dir.clone(),
        rootfs: bundle.rootfs.clone(),
        cgroup: &placement,
        pure_v2: layout.is_pure_v2(),
        new_namespaces: clone_flags,
        join: &plan.join,
        cgroup_entry,
        born_in_unified: std::cell::Cell::new(false),
        unshare_cgroup_ns: want_cgroupns,
        time_offsets,
        stdio: opts.stdio,
        state_lock_fd: undo.dir.as_ref().expect("state dir").lock_fd(),
        fifo: fifo.as_ref(),
        console_socket: console.as_ref(),
        no_pivot: opts.no_pivot,
        no_new_keyring: opts.no_new_keyring,
        preserve_fds: opts.preserve_fds,
        has_create_runtime_hooks: !(prestart_hooks.is_empty() && create_runtime_hooks.is_empty()),
        state_json: &state_json,
    };

    // A systemd unit's cgroup does not exist before the unit starts.
    let unified_dir = if placement.is_systemd() {
        None
    } else {
        placement.open_unified()
    };
    let saved = ForChildren::enter(&for_children)?;
    let (cloned, born_in_unified) = sys::clone_process_into(
        clone_flags as u64,
        unified_dir.as_ref().map(|d| d.as_raw_fd()),
    );
    // Only rt switches back: the init now lives in the joined pid namespace,
    // from which the kernel refuses setns to an ancestor.
    if !matches!(cloned, Ok(0)) {
        saved.restore()?;
    }
    cfg.born_in_unified.set(born_in_unified);
    let pid = cloned.map_err(|e| Error::errno("clone init", e))?;
    if pid == 0 {
        drop(parent_chan);
        init::run(&cfg, &child_chan);
    }
    drop(child_chan);
    undo.child = Some(pid);
    pid_cell.set(pid);

    if new_user {
        let l = linux.expect("user namespace implies linux section");
        idmap::write_maps(
            pid,
            l.uid_mappings().as_deref().unwrap_or(&[]),
            l.gid_mappings().as_deref().unwrap_or(&[]),
        )?;
    }
    drop(unified_dir);
    match cgroup_entry {
        CgroupEntry::ByParent => {
            if undo.cgroup.is_systemd() {
                undo.cgroup.enter_init(pid, Some(&resources), &opts.id)?;
            } else {
                undo.cgroup.enter(pid, born_in_unified)?;
            }
            parent_chan.send(&Msg::Go)?;
        }
        CgroupEntry::SelfAtStart => {}
        CgroupEntry::SelfWhenReady => {
            // The init mounts meanwhile; it waits for Go only at its first
            // cgroup mount and for LimitsSet before it makes device nodes.
            // A failed send means the init already gave up: the loop below
            // reads why.
            undo.cgroup.create_dirs()?;
            let _ = parent_chan.send(&Msg::Go);
            cgroups::apply_resources(&mut undo.cgroup, &resources).ctx("linux.resources")?;
            let _ = parent_chan.send(&Msg::LimitsSet);
        }
    }

    // The state file now, while the init sets itself up on another CPU;
    // if it fails, `undo` removes the whole directory.
    let start_time = crate::state::status::proc_stat(pid)
        .map(|(_, t)| t)
        .unwrap_or(0);
    let mut st = state_template.clone();
    st.pid = pid;
    // What entering the cgroup added (the started systemd unit).
    st.cgroup = undo.cgroup.clone();
    st.init_start_time = start_time;
    st.namespaces = ns_list
        .iter()
        .map(|n| crate::process::namespaces::proc_name(n.typ()).to_string())
        .collect();
    undo.dir.as_ref().expect("state dir").save(&st)?;

    loop {
        match parent_chan.recv()? {
            Some(Msg::Ready) => break,
            Some(Msg::CreateRuntimeHooks) => {
                // runc chdirs to the bundle for create; hooks see it as cwd.
                let at = crate::hooks::Setting {
                    cwd: Some(&bundle.dir),
                    default_env: None,
                };
                // prestart gets status "created", as crun gives it (what
                // runtime-tools checks); runc says "creating", which no
                // caller reads.
                crate::hooks::run_all("prestart", &prestart_hooks, &state_json("created"), at)?;
                crate::hooks::run_all(
                    "createRuntime",
                    &create_runtime_hooks,
                    &state_json("creating"),
                    at,
                )?;
                parent_chan.send(&Msg::HooksDone)?;
            }
            Some(Msg::Error(e)) => return Err(Error::new(e)),
            Some(other) => {
                return Err(Error::new(format!(
                    "unexpected message from init: {other:?}"
                )));
            }
            None => return Err(Error::new("container init exited before it was ready")),
        }
    }

    drop(cfg);
    Ok((st, parent_chan))
}

/// The container's cgroup directories and their limits. A systemd unit's
/// cgroup exists only once the init is in it (Placement::enter_init).
fn create_cgroups(cgroup: &mut Placement, resources: &LinuxResources) -> Result<()> {
    cgroup.create_dirs()?;
    if !cgroup.is_systemd() {
        cgroups::apply_resources(cgroup, resources).ctx("linux.resources")?;
    }
    Ok(())
}

/// The start handshake: a fifo the init opens for writing after Ready and
/// `start` opens for reading. Returns an O_PATH fd of it.
fn make_exec_fifo(dir: &Path) -> Result<OwnedFd> {
    let fifo_path = dir.join(state::EXEC_FIFO);
    nix::unistd::mkfifo(&fifo_path, nix::sys::stat::Mode::from_bits_truncate(0o622))
        .map_err(|e| Error::errno("create exec fifo", e))?;
    // Writable by the container user whatever our umask (the init opens it
    // after switching to process.user).
    std::fs::set_permissions(
        &fifo_path,
        std::os::unix::fs::PermissionsExt::from_mode(0o622),
    )
    .ctx("chmod exec fifo")?;
    sys::openat(libc::AT_FDCWD, &sys::cpath(&fifo_path)?, libc::O_PATH, 0)
        .map_err(|e| Error::errno("open exec fifo", e))
}

/// The caller's user name for `state.owner`, read from /etc/passwd
/// directly (no NSS: keeps a static build honest and create cheap).
fn owner_name() -> String {
    let uid = nix::unistd::getuid().as_raw();
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|p| {
            p.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 2 && f[2].parse::<u32>().ok() == Some(uid)).then(|| f[0].to_string())
            })
        })
        .unwrap_or_else(|| uid.to_string())
}

fn unsafe_borrow(fd: std::os::fd::RawFd) -> std::os::fd::BorrowedFd<'static> {
    // SAFETY: the caller of `create` keeps `console_fd` open for the call.
    unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }
}
