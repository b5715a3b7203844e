//! `create`: from a bundle to an init process waiting for `start`.
//!
//! The steps, in order (`build`): load + validate config.json → a new
//! network namespace started on a helper thread (process::netns_ahead) →
//! reserve the state dir (locked until create returns) → `Plan`: decide
//! the cgroup placement, namespaces and state record, making nothing →
//! `record_intent`: a first record naming the cgroup directories about to
//! be made → the v1 directories started on another helper thread
//! (`start_cgroups_ahead`) → exec fifo, console →
//! `make_cgroups_before_clone` → `clone_init` into its namespaces (the
//! network one made ahead is joined) → `place_init`: id maps, cgroup entry,
//! limits → `record_container`: the full record, written while the init
//! sets itself up → `wait_until_ready` (createRuntime hooks when the init
//! asks) → pid file.
//!
//! A failing step undoes what was done (`Undo`), so nothing is left
//! behind. A create killed outright cannot undo anything; the record
//! written before each thing is made lets `delete` remove it instead.
//!
//! `run` needs no exec fifo: its init goes on to exec as soon as it is
//! ready (`create_and_start`), which saves a handshake, and the fifo's
//! mknod and unlink, on every `rt run`.

use crate::cgroups::{self, Placement};
use crate::error::{Context, Error, Result};
use crate::init::{self, CgroupEntry, InitConfig};
use crate::mounts::sources::{self, BindSources, ContainerUserns, OpenedSources};
use crate::process::namespaces::{ForChildren, NamespacePlan};
use crate::process::netns_ahead::NetnsAhead;
use crate::process::{Channel, Msg, idmap, userns_join};
use crate::spec::{Bundle, load_bundle};
use crate::state::{self, ContainerDir, ContainerState};
use crate::sys;
use oci_spec::runtime::{LinuxNamespaceType, LinuxResources};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
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
    /// `--rootless`: rootless cgroups on or off; None decides (not root,
    /// or in a user namespace).
    pub rootless: Option<bool>,
}

/// Everything `create` made so far, undone on drop unless committed.
struct Undo {
    dir: Option<ContainerDir>,
    cgroup: Placement,
    child: Option<i32>,
}

impl Undo {
    fn dir(&self) -> &ContainerDir {
        self.dir.as_ref().expect("state dir")
    }

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
    // First, so that it overlaps everything up to the clone.
    let netns_ahead = NetnsAhead::start(&bundle.spec);
    let dir = ContainerDir::create(&opts.root, &opts.id)?;
    let mut undo = Undo {
        dir: Some(dir),
        cgroup: Placement::default(),
        child: None,
    };
    let (st, chan) = build(opts, bundle, start, netns_ahead, &mut undo)?;
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

/// The steps of `create`, in order. `undo` holds what has been made so far
/// and takes it away again if a step fails.
fn build(
    opts: &CreateOptions,
    bundle: &Bundle,
    start: Start,
    netns_ahead: Option<NetnsAhead>,
    undo: &mut Undo,
) -> Result<(ContainerState, Channel)> {
    let mut plan = Plan::new(opts, bundle)?;
    log::debug!(
        "create {}: bundle {}, cgroup {}",
        opts.id,
        bundle.dir.display(),
        cgroups::describe(&plan.cgroup)
    );
    record_intent(undo.dir(), &plan)?;
    undo.cgroup = plan.cgroup.clone();
    // As soon as the intent is on record: the directories it names may
    // then exist.
    let ahead = start_cgroups_ahead(&plan, &undo.cgroup);
    let (fifo, console, sources) = match prepare_clone(&plan, bundle, opts, start, undo) {
        Ok(made) => made,
        Err(e) => {
            if let Some(ahead) = ahead {
                ahead.finish_into(&mut undo.cgroup);
            }
            return Err(e);
        }
    };
    let handles = InitHandles {
        state_lock_fd: undo.dir().lock_fd(),
        fifo: fifo.as_ref(),
        console: console.as_ref(),
        bind_sources: &sources,
        // The init of a user namespace gets its bind sources from us,
        // opened once it exists (sources.rs). Not when rt runs as a plain
        // user (rootless): it may not enter the init's mount namespace,
        // and it can open nothing the container's root could not.
        sources_from_parent: !matches!(plan.ns.userns(plan.spec), ContainerUserns::None)
            && sources::has_binds(plan.spec)
            && crate::rootless::euid_is_root(),
    };
    if let Some(netns) = netns_ahead.and_then(NetnsAhead::finish) {
        plan.ns.join_made_ahead(netns);
    }
    let init = match clone_init(&plan, bundle, opts, &undo.cgroup, handles) {
        Ok(init) => init,
        Err(e) => {
            if let Some(ahead) = ahead {
                ahead.finish_into(&mut undo.cgroup);
            }
            return Err(e);
        }
    };
    // The init holds its own copies of the detached source trees.
    drop(sources);
    undo.child = Some(init.pid);
    log::debug!(
        "init pid {} cloned (namespace flags {:#x}, in its cgroup2 directory: {})",
        init.pid,
        plan.ns.clone_flags,
        init.born_in_unified
    );
    place_init(&plan, &init, &mut undo.cgroup, &opts.id, ahead)?;
    // While the init sets itself up on another CPU.
    let st = record_container(undo.dir(), &plan, init.pid, &undo.cgroup)?;
    wait_until_ready(&plan, &init)?;
    log::debug!("init pid {} is ready; state saved", init.pid);
    Ok((st, init.chan))
}

/// What the clone needs besides the plan: the exec fifo (`create`), the
/// console socket, detached trees of idmapped bind sources, and the
/// cgroup directories the init needs at birth.
fn prepare_clone(
    plan: &Plan,
    bundle: &Bundle,
    opts: &CreateOptions,
    start: Start,
    undo: &mut Undo,
) -> Result<(Option<OwnedFd>, Option<OwnedFd>, BindSources)> {
    let fifo = match start {
        Start::OnRequest => Some(make_exec_fifo(&undo.dir().path)?),
        Start::Now => None,
    };
    let console = connect_console(opts)?;
    let sources = BindSources::prepare(plan.spec, &bundle.dir, plan.ns.userns(plan.spec))?;
    make_cgroups_before_clone(plan, &mut undo.cgroup)?;
    Ok((fifo, console, sources))
}

/// What `create` decides before it makes anything: where the cgroup goes,
/// which namespaces the init gets and how it enters its cgroup, and the
/// state record. Nothing on the host changes here (namespaces to join are
/// opened, nothing more).
struct Plan<'a> {
    spec: &'a oci_spec::runtime::Spec,
    /// The container's cgroup, not made yet.
    cgroup: Placement,
    pure_v2: bool,
    /// linux.resources plus the default device rules, which apply even
    /// without linux.resources, as in runc.
    resources: LinuxResources,
    ns: Namespaces,
    cgroup_entry: CgroupEntry,
    /// The state record but for what the init's birth tells (pid, start
    /// time, the cgroup directories actually made).
    record: ContainerState,
    /// prestart (deprecated, run first, as in runc) and createRuntime
    /// hooks, run by rt.
    prestart_hooks: Vec<oci_spec::runtime::Hook>,
    create_runtime_hooks: Vec<oci_spec::runtime::Hook>,
}

/// The init's namespaces.
struct Namespaces {
    /// CLONE_NEW* flags for the clone. Not cgroup and time: the init
    /// creates those itself, once in its cgroup and with offsets set.
    clone_flags: i32,
    /// Existing namespaces the init joins, user namespace first.
    join: Vec<(LinuxNamespaceType, OwnedFd)>,
    /// Existing pid and time namespaces, which apply to children only: rt
    /// joins them around the clone and switches back afterwards.
    for_children: Vec<(i32, OwnedFd)>,
    new_user: bool,
    new_cgroup: bool,
    /// A new IPC namespace the init creates itself, once root of its new
    /// user namespace (see InitConfig::unshare_ipc).
    new_ipc_by_init: bool,
    /// A new time namespace with these offsets.
    time_offsets: Option<std::collections::HashMap<String, oci_spec::runtime::LinuxTimeOffset>>,
}

impl<'a> Plan<'a> {
    /// Whether the v1 directories are made after the clone (while the
    /// init mounts, or before the parent moves it) rather than before it:
    /// wherever the init does not need them at birth and rt is root
    /// (rootless placement leaves out what it may not write, which the
    /// clone must not race), but with a joined user namespace, whose
    /// clone runs from a helper process.
    fn v1_dirs_after_clone(&self) -> bool {
        match self.cgroup_entry {
            CgroupEntry::SelfWhenReady => true,
            CgroupEntry::ByParent => {
                !self.cgroup.is_systemd()
                    && crate::rootless::euid_is_root()
                    && self.ns.joined_userns().is_none()
            }
            CgroupEntry::SelfAtStart => false,
        }
    }

    fn new(opts: &CreateOptions, bundle: &'a Bundle) -> Result<Plan<'a>> {
        let spec = &bundle.spec;
        let linux = spec.linux().as_ref();
        if !crate::rootless::euid_is_root() {
            crate::rootless::check_spec(spec)?;
        }
        let layout = cgroups::detect()?;
        let cgroups_path = linux.and_then(|l| l.cgroups_path().as_deref());
        let rootless = crate::rootless::cgroups_rootless(opts.rootless);
        let mut cgroup = if opts.systemd_cgroup && rootless {
            cgroups::plan_user_systemd(&layout, cgroups_path, &opts.id)?
        } else {
            cgroups::plan(&layout, cgroups_path, &opts.id, opts.systemd_cgroup)?
        };
        cgroup.rootless = rootless;
        if cgroup.rootless && cgroups_path.is_none() && !cgroup.is_systemd() {
            cgroup.leave_out_denied();
        }
        let resources = linux
            .and_then(|l| l.resources().clone())
            .unwrap_or_default();
        let devices = linux.and_then(|l| l.devices().clone()).unwrap_or_default();
        let resources = cgroups::with_default_device_rules(&resources, &devices);
        // Before any cgroup directory or process exists.
        cgroups::check_unified(&layout, &resources)?;
        if !cgroup.is_systemd() {
            cgroup.check_reusable()?;
        }
        let ns_list = linux
            .and_then(|l| l.namespaces().clone())
            .unwrap_or_default();
        let ns = plan_namespaces(&ns_list, linux)?;
        let cgroup_entry = choose_cgroup_entry(&ns, &cgroup);
        let record = initial_record(&opts.id, bundle);
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
        Ok(Plan {
            spec,
            cgroup,
            pure_v2: layout.is_pure_v2(),
            resources,
            ns,
            cgroup_entry,
            record,
            prestart_hooks,
            create_runtime_hooks,
        })
    }

    /// The OCI state handed to hooks while the container is created.
    fn hook_state(&self, pid: i32, status: &str) -> String {
        serde_json::to_string(&self.oci_state(pid, status)).unwrap_or_default()
    }

    fn oci_state(&self, pid: i32, status: &str) -> crate::state::OciState {
        let mut oci = self.record.oci(crate::state::Status::Created);
        oci.pid = pid;
        oci.status = status.to_string();
        oci
    }
}

impl Namespaces {
    /// The new network namespace was made ahead of the clone (see
    /// process::netns_ahead): the init joins it instead.
    fn join_made_ahead(&mut self, netns: OwnedFd) {
        log::debug!("network namespace made ahead of the clone; the init joins it");
        self.clone_flags &= !libc::CLONE_NEWNET;
        self.join.push((LinuxNamespaceType::Network, netns));
    }

    /// A user namespace the container joins by path.
    fn joined_userns(&self) -> Option<&OwnedFd> {
        self.join
            .iter()
            .find(|(t, _)| *t == LinuxNamespaceType::User)
            .map(|(_, fd)| fd)
    }

    /// The container's user namespace, as idmapped mounts see it.
    fn userns<'s>(&self, spec: &'s oci_spec::runtime::Spec) -> ContainerUserns<'s> {
        let linux = spec.linux().as_ref();
        if self.new_user {
            return ContainerUserns::New {
                uid: linux
                    .and_then(|l| l.uid_mappings().as_deref())
                    .unwrap_or(&[]),
                gid: linux
                    .and_then(|l| l.gid_mappings().as_deref())
                    .unwrap_or(&[]),
            };
        }
        linux
            .and_then(|l| l.namespaces().as_ref())
            .into_iter()
            .flatten()
            .find(|n| n.typ() == LinuxNamespaceType::User)
            .and_then(|n| n.path().as_deref())
            .map_or(ContainerUserns::None, ContainerUserns::Joined)
    }
}

/// The state record of a container made from `bundle` but for what its
/// init's birth tells (pid, start time, cgroup directories made). `restore`
/// starts from it too.
pub(crate) fn initial_record(id: &str, bundle: &Bundle) -> ContainerState {
    let spec = &bundle.spec;
    let linux = spec.linux().as_ref();
    let ns_list = linux
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    ContainerState {
        id: id.to_string(),
        pid: 0,
        init_start_time: 0,
        bundle: bundle.dir.clone(),
        rootfs: bundle.rootfs.clone(),
        created: crate::logging::rfc3339_now(),
        annotations: spec.annotations().clone().unwrap_or_default(),
        owner: owner_name(),
        cgroup: Placement::default(),
        own_pid_ns: ns_list
            .iter()
            .any(|n| n.typ() == LinuxNamespaceType::Pid && n.path().is_none()),
        has_process: spec.process().is_some(),
        hooks: spec.hooks().clone(),
        namespaces: ns_list
            .iter()
            .map(|n| crate::process::namespaces::proc_name(n.typ()).to_string())
            .collect(),
        no_new_privileges: spec
            .process()
            .as_ref()
            .and_then(|p| p.no_new_privileges())
            .unwrap_or(false),
        process: spec.process().clone(),
        seccomp: linux.and_then(|l| l.seccomp().clone()),
        creating: false,
    }
}

fn plan_namespaces(
    ns_list: &[oci_spec::runtime::LinuxNamespace],
    linux: Option<&oci_spec::runtime::Linux>,
) -> Result<Namespaces> {
    let plan = NamespacePlan::from_spec(ns_list)?;
    let (children, join): (Vec<_>, Vec<_>) = plan
        .join
        .into_iter()
        .partition(|(t, _)| matches!(t, LinuxNamespaceType::Pid | LinuxNamespaceType::Time));
    let for_children = children
        .into_iter()
        .map(|(t, fd)| (crate::process::namespaces::clone_flag(t), fd))
        .collect();
    let has_new = |t| plan.new_flags & crate::process::namespaces::clone_flag(t) != 0;
    let new_ipc_by_init = has_new(LinuxNamespaceType::User) && has_new(LinuxNamespaceType::Ipc);
    let by_init = if new_ipc_by_init {
        libc::CLONE_NEWIPC
    } else {
        0
    };
    Ok(Namespaces {
        clone_flags: plan.new_flags & !libc::CLONE_NEWCGROUP & !libc::CLONE_NEWTIME & !by_init,
        new_ipc_by_init,
        join,
        for_children,
        new_user: has_new(LinuxNamespaceType::User),
        new_cgroup: has_new(LinuxNamespaceType::Cgroup),
        time_offsets: has_new(LinuxNamespaceType::Time).then(|| {
            linux
                .and_then(|l| l.time_offsets().clone())
                .unwrap_or_default()
        }),
    })
}

/// Without a new user namespace the init is as privileged as we are and
/// moves itself into its cgroups (cheaper, see Placement::enter_self). In
/// its own mount namespace it can wait for them until its first cgroup
/// mount, so the parent creates them during and after the clone, while
/// the init mounts. With the systemd driver systemd puts the init into its
/// unit; with a user namespace the init waits for the parent and then
/// moves itself through files the parent opened (place_init), but where
/// rt is not root or the user namespace is joined: there the parent
/// moves it.
fn choose_cgroup_entry(ns: &Namespaces, cgroup: &Placement) -> CgroupEntry {
    if ns.new_user
        || ns.joined_userns().is_some()
        || !nix::unistd::geteuid().is_root()
        || cgroup.is_systemd()
    {
        CgroupEntry::ByParent
    } else if ns.clone_flags & libc::CLONE_NEWNS != 0
        && !ns.join.iter().any(|(t, _)| *t == LinuxNamespaceType::Mount)
    {
        CgroupEntry::SelfWhenReady
    } else {
        CgroupEntry::SelfAtStart
    }
}

/// The first record (`creating.json`), before anything outside the state
/// dir is made: the cgroup directories this create may make. A create
/// killed from here on is listed, and `delete` removes what it made (see
/// `state::dir`). One small write: create latency matters.
fn record_intent(dir: &ContainerDir, plan: &Plan) -> Result<()> {
    let st = ContainerState {
        id: plan.record.id.clone(),
        bundle: plan.record.bundle.clone(),
        rootfs: plan.record.rootfs.clone(),
        created: plan.record.created.clone(),
        annotations: plan.record.annotations.clone(),
        owner: plan.record.owner.clone(),
        cgroup: plan.cgroup.intent(),
        ..ContainerState::default()
    };
    dir.save_intent(&st)
        .ctx("record the container being created")
}

/// The console: an fd `rt run` passes, or a connection to --console-socket.
fn connect_console(opts: &CreateOptions) -> Result<Option<OwnedFd>> {
    match (&opts.console_socket, opts.console_fd) {
        (_, Some(fd)) => nix::unistd::dup(unsafe_borrow(fd))
            .map(Some)
            .map_err(|e| Error::errno("dup console fd", e)),
        (Some(p), None) => std::os::unix::net::UnixStream::connect(p)
            .map(|s| Some(s.into()))
            .map_err(|e| {
                Error::from(e).context(format!("connect to console socket {}", p.display()))
            }),
        (None, None) => Ok(None),
    }
}

/// The cgroup directories the init needs at birth: all of them with their
/// limits, or (`v1_dirs_after_clone`) only the cgroup2 one, which clone3
/// puts the init into; `place_init` makes the rest.
fn make_cgroups_before_clone(plan: &Plan, cgroup: &mut Placement) -> Result<()> {
    if plan.v1_dirs_after_clone() {
        cgroup.create_unified_dir()
    } else {
        create_cgroups(cgroup, &plan.resources)
    }
}

/// The v1 directories `place_init` would make after the clone, started on
/// a helper thread that works through the rest of the preparations and
/// the clone (cgroups::ahead). Not when rt joins namespaces for its
/// children: going back to its own time namespace after the clone needs a
/// single thread.
fn start_cgroups_ahead(plan: &Plan, cgroup: &Placement) -> Option<cgroups::ahead::Ahead> {
    if !plan.v1_dirs_after_clone() || !plan.ns.for_children.is_empty() {
        return None;
    }
    cgroups::ahead::Ahead::start(cgroup)
}

/// The container's init, just cloned.
struct Init {
    pid: i32,
    /// rt's end of the channel to it.
    chan: Channel,
    /// clone3 put it straight into its cgroup2 directory.
    born_in_unified: bool,
    /// rt's end of the socket for the init's bind sources.
    source_socket: Option<OwnedFd>,
}

/// What the init inherits from `create` besides the plan: fds and the
/// bind sources opened for it.
struct InitHandles<'a> {
    state_lock_fd: std::os::fd::RawFd,
    fifo: Option<&'a OwnedFd>,
    console: Option<&'a OwnedFd>,
    bind_sources: &'a BindSources,
    /// rt sends the init its bind sources after the clone.
    sources_from_parent: bool,
}

/// A socketpair for the bind sources rt sends the init: (rt's, init's).
fn source_sockets() -> Result<(OwnedFd, OwnedFd)> {
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
    socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| Error::errno("socketpair for bind sources", e))
}

/// Clones the init into its new namespaces (and, where the kernel can,
/// straight into its cgroup2 directory). The child runs `init::run` and
/// never returns here.
fn clone_init(
    plan: &Plan,
    bundle: &Bundle,
    opts: &CreateOptions,
    cgroup: &Placement,
    handles: InitHandles,
) -> Result<Init> {
    let InitHandles {
        state_lock_fd,
        fifo,
        console,
        bind_sources,
        sources_from_parent,
    } = handles;
    let (parent_chan, child_chan) = Channel::pair()?;
    let (source_socket, init_source_socket) = if sources_from_parent {
        let (ours, theirs) = source_sockets()?;
        (Some(ours), Some(theirs))
    } else {
        (None, None)
    };
    // In the child (where this runs) the pid is its own.
    let hook_state = |status: &str| plan.hook_state(nix::unistd::getpid().as_raw(), status);
    let cfg = InitConfig {
        spec: plan.spec,
        bundle: bundle.dir.clone(),
        rootfs: bundle.rootfs.clone(),
        cgroup,
        pure_v2: plan.pure_v2,
        new_namespaces: plan.ns.clone_flags,
        join: &plan.ns.join,
        cgroup_entry: plan.cgroup_entry,
        born_in_unified: std::cell::Cell::new(false),
        unshare_cgroup_ns: plan.ns.new_cgroup,
        unshare_ipc: plan.ns.new_ipc_by_init,
        time_offsets: plan.ns.time_offsets.as_ref(),
        stdio: opts.stdio,
        state_lock_fd,
        fifo,
        console_socket: console,
        no_pivot: opts.no_pivot,
        no_new_keyring: opts.no_new_keyring,
        preserve_fds: opts.preserve_fds,
        has_create_runtime_hooks: !(plan.prestart_hooks.is_empty()
            && plan.create_runtime_hooks.is_empty()),
        state_json: &hook_state,
        bind_sources,
        source_socket: init_source_socket.as_ref(),
        maps_written_unprivileged: !crate::rootless::euid_is_root(),
    };
    // A systemd unit's cgroup does not exist before the unit starts.
    let unified_dir = if cgroup.is_systemd() {
        None
    } else {
        cgroup.open_unified()
    };
    let saved = ForChildren::enter(&plan.ns.for_children)?;
    let (cloned, born_in_unified) = match plan.ns.joined_userns() {
        // Its new namespaces must belong to the joined user namespace.
        Some(userns) => (
            userns_join::clone_init_inside(userns, plan.ns.clone_flags as u64).map(|c| match c {
                userns_join::Cloned::Init => 0,
                userns_join::Cloned::Parent(pid) => pid,
            }),
            false,
        ),
        None => {
            let (cloned, born) = sys::clone_process_into(
                plan.ns.clone_flags as u64,
                unified_dir.as_ref().map(|d| d.as_raw_fd()),
            );
            (cloned.map_err(|e| Error::errno("clone init", e)), born)
        }
    };
    // Only rt switches back: the init now lives in the joined pid namespace,
    // from which the kernel refuses setns to an ancestor.
    if !matches!(cloned, Ok(0)) {
        saved.restore()?;
    }
    cfg.born_in_unified.set(born_in_unified);
    let pid = cloned?;
    if pid == 0 {
        drop(parent_chan);
        drop(source_socket);
        init::run(&cfg, &child_chan);
    }
    Ok(Init {
        pid,
        chan: parent_chan,
        born_in_unified,
        source_socket,
    })
}

/// What the parent does for the running init: its id maps, its cgroups
/// (moving it, or making the rest of them while it mounts) and limits.
fn place_init(
    plan: &Plan,
    init: &Init,
    cgroup: &mut Placement,
    id: &str,
    ahead: Option<cgroups::ahead::Ahead>,
) -> Result<()> {
    let mut made_ahead = ahead.map(|a| a.finish_into(cgroup)).unwrap_or_default();
    if plan.ns.new_user {
        log::debug!("writing uid/gid maps of pid {}", init.pid);
        let l = plan
            .spec
            .linux()
            .as_ref()
            .expect("user namespace implies linux section");
        idmap::write_maps(
            init.pid,
            l.uid_mappings().as_deref().unwrap_or(&[]),
            l.gid_mappings().as_deref().unwrap_or(&[]),
        )?;
    }
    if let Some(sock) = &init.source_socket {
        // Before Go: the init has not mounted anything yet.
        let userns = plan.ns.userns(plan.spec);
        OpenedSources::open_and_send(plan.spec, &plan.record.bundle, userns, init.pid, sock)?;
    }
    match plan.cgroup_entry {
        CgroupEntry::ByParent => {
            // The init waits for Go, then for the files it joins its
            // cgroups through (none: we moved it).
            let mut entry = None;
            if cgroup.is_systemd() {
                cgroup.enter_init(init.pid, Some(&plan.resources), id)?;
            } else {
                if plan.v1_dirs_after_clone() {
                    create_cgroups_after(cgroup, &made_ahead, &plan.resources)?;
                    // Files we opened let the init move itself, as
                    // SelfWhenReady does: v1 checks the opener's
                    // credentials, and a thread moving itself skips
                    // cgroup_threadgroup_rwsem, whose first writer after an
                    // idle spell waits for an RCU grace period (13 ms in
                    // ftrace-steps for a parent's cgroup.procs write).
                    entry = cgroup
                        .open_self_entry(init.born_in_unified, &mut made_ahead)
                        .filter(|f| f.len() <= crate::sys::MAX_FDS_PER_DATAGRAM);
                }
                if entry.is_none() {
                    cgroup.enter(init.pid, init.born_in_unified)?;
                }
            }
            let entry = entry.unwrap_or_default();
            let entry: Vec<_> = entry.iter().map(|f| f.as_fd()).collect();
            init.chan.send(&Msg::Go)?;
            init.chan.send_fds(&entry)?;
        }
        CgroupEntry::SelfAtStart => {}
        CgroupEntry::SelfWhenReady => {
            // The init mounts meanwhile; it waits for Go only at its first
            // cgroup mount and for LimitsSet before it makes device nodes.
            // A failed send means the init already gave up: the loop in
            // wait_until_ready reads why.
            cgroup.create_dirs_after(&made_ahead)?;
            let entry = cgroup
                .open_self_entry(init.born_in_unified, &mut made_ahead)
                .filter(|f| f.len() <= crate::sys::MAX_FDS_PER_DATAGRAM)
                .unwrap_or_default();
            let entry: Vec<_> = entry.iter().map(|f| f.as_fd()).collect();
            let _ = init.chan.send(&Msg::Go);
            let _ = init.chan.send_fds(&entry);
            cgroups::apply_resources(cgroup, &plan.resources).ctx("linux.resources")?;
            let _ = init.chan.send(&Msg::LimitsSet);
        }
    }
    Ok(())
}

/// The full record (`state.json`), replacing the first: the init's pid
/// and start time and the cgroup directories actually made (with the
/// systemd driver: the started unit).
fn record_container(
    dir: &ContainerDir,
    plan: &Plan,
    pid: i32,
    cgroup: &Placement,
) -> Result<ContainerState> {
    let mut st = plan.record.clone();
    st.pid = pid;
    st.init_start_time = crate::state::status::proc_stat(pid)
        .map(|(_, t)| t)
        .unwrap_or(0);
    st.cgroup = cgroup.clone();
    dir.save(&st)?;
    dir.remove_intent()?;
    Ok(st)
}

/// Serves the init until it reports Ready: createRuntime hooks when it
/// asks, its error if it fails.
fn wait_until_ready(plan: &Plan, init: &Init) -> Result<()> {
    loop {
        match init.chan.recv()? {
            Some(Msg::Ready) => return Ok(()),
            Some(Msg::CreateRuntimeHooks) => {
                // runc chdirs to the bundle for create; hooks see it as cwd.
                let at = crate::hooks::Setting {
                    cwd: Some(&plan.record.bundle),
                    default_env: None,
                };
                // prestart gets status "created", as crun gives it (what
                // runtime-tools checks); runc says "creating", which no
                // caller reads.
                crate::hooks::run_all(
                    "prestart",
                    &plan.prestart_hooks,
                    &plan.hook_state(init.pid, "created"),
                    at,
                )?;
                crate::hooks::run_all(
                    "createRuntime",
                    &plan.create_runtime_hooks,
                    &plan.hook_state(init.pid, "creating"),
                    at,
                )?;
                init.chan.send(&Msg::HooksDone)?;
            }
            Some(Msg::SeccompFd) => {
                let fd = init.chan.recv_fd()?;
                // runc's payload: the state as it is while creating.
                let state = plan.oci_state(init.pid, "creating");
                let seccomp = plan
                    .spec
                    .linux()
                    .as_ref()
                    .and_then(|l| l.seccomp().as_ref());
                crate::seccomp::listener::hand_over(seccomp, init.pid, &state, &fd)?;
                init.chan.send(&Msg::SeccompDone)?;
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

/// `create_cgroups` after the clone, taking what `start_cgroups_ahead`
/// made.
fn create_cgroups_after(
    cgroup: &mut Placement,
    made_ahead: &cgroups::ahead::Done,
    resources: &LinuxResources,
) -> Result<()> {
    cgroup.create_dirs_after(made_ahead)?;
    cgroups::apply_resources(cgroup, resources).ctx("linux.resources")
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
