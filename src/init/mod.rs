//! The container's init: the process `create` clones into the new
//! namespaces. It sets itself up in the order the runtime spec applies
//! things, reports `Ready` (or the failing step) to `create`, waits for
//! `start` on the exec fifo (under `run` it does not wait), and execs the
//! container process.

mod apparmor;
mod capabilities;
mod console;
mod exec;
mod limits;
pub mod memory_policy;
mod scheduling;
pub use scheduling::parse_cpu_list;
pub mod setns_init;
mod user;

use crate::cgroups::Placement;
use crate::error::{Context, Error, Result};
use crate::mounts::{self, CgroupNeed, RootfsContext};
use crate::process::{Channel, Msg};
use crate::sys;
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

/// Everything the init needs, prepared by `create` before the clone; the
/// init inherits it with the copied address space.
pub struct InitConfig<'a> {
    pub spec: &'a Spec,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub cgroup: &'a Placement,
    pub pure_v2: bool,
    /// Namespaces created by the clone.
    pub new_namespaces: i32,
    /// Existing namespaces to join (a user namespace among them was joined
    /// before the clone: see process::userns_join).
    pub join: &'a [(LinuxNamespaceType, OwnedFd)],
    /// How and when the init gets into its cgroups.
    pub cgroup_entry: CgroupEntry,
    /// clone3 put the init straight into its cgroup2 cgroup (set after the
    /// clone, in parent and child alike).
    pub born_in_unified: std::cell::Cell<bool>,
    /// A new time namespace with these offsets (created here, not by clone:
    /// offsets can only be set before a process lives in the namespace).
    pub time_offsets:
        Option<&'a std::collections::HashMap<String, oci_spec::runtime::LinuxTimeOffset>>,
    /// Create a cgroup namespace once we are inside our cgroup.
    pub unshare_cgroup_ns: bool,
    /// Create the IPC namespace once uid 0 of the new user namespace: the
    /// namespace's mqueue filesystem belongs to its creator, and cloned
    /// with the user namespace /dev/mqueue would belong to the overflow
    /// uid. runc creates it at that point (uid 0, gid not yet switched:
    /// /dev/mqueue is 0:65534 there, and so here).
    pub unshare_ipc: bool,
    /// fds to install as 0, 1, 2 before anything else.
    pub stdio: Option<[std::os::fd::RawFd; 3]>,
    /// rt's lock on the state dir: closed first thing in the init.
    pub state_lock_fd: std::os::fd::RawFd,
    /// O_PATH fd of the exec fifo in the state dir; None for `run`, whose
    /// init execs as soon as it is ready.
    pub fifo: Option<&'a OwnedFd>,
    /// Connected --console-socket.
    pub console_socket: Option<&'a OwnedFd>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    /// createRuntime/prestart hooks exist: stop before pivot_root for them.
    pub has_create_runtime_hooks: bool,
    /// State JSON for createContainer/startContainer hooks.
    pub state_json: &'a dyn Fn(&str) -> String,
    /// Idmapped bind sources made by rt before the clone.
    pub bind_sources: &'a mounts::sources::BindSources,
    /// Where rt sends the bind sources it opens for us (user namespace).
    pub source_socket: Option<&'a OwnedFd>,
    /// rt runs as a plain user: it writes a new user namespace's id maps
    /// (or has newuidmap write them) without privilege.
    pub maps_written_unprivileged: bool,
}

/// How the init gets into its cgroups.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CgroupEntry {
    /// The parent writes id maps and/or places the init (user namespace,
    /// systemd driver, rootless) and then sends Go: wait for it first.
    /// With Go come the files of the init's cgroups, opened by the parent,
    /// through which it moves itself; none when the parent moved it.
    ByParent,
    /// The init moves itself (Placement::enter_self) first thing; the
    /// cgroups exist before the clone.
    SelfAtStart,
    /// The parent creates the cgroups (all but the cgroup2 one the init is
    /// born in) while the init sets up its mounts, on the other CPU, and
    /// sends Go. The init waits for it where it first needs its cgroups
    /// (a cgroup mount, else the end of the mounts) and moves itself in.
    SelfWhenReady,
}

/// Entry point in the cloned child. Never returns.
pub fn run(cfg: &InitConfig, chan: &Channel) -> ! {
    // SAFETY: closing our copy of the lock fd; the parent keeps its own.
    unsafe { libc::close(cfg.state_lock_fd) };
    crate::logging::keep_stderr_for_init();
    log::debug!("child process in init()");
    if let Some(fds) = cfg.stdio {
        for (target, fd) in fds.iter().enumerate() {
            // SAFETY: dup2 onto our own stdio slots.
            if *fd != target as i32 && unsafe { libc::dup2(*fd, target as i32) } < 0 {
                let _ = chan.send(&Msg::Error(format!("dup2 stdio: {}", nix::Error::last())));
                // SAFETY: leave the child at once.
                unsafe { libc::_exit(1) };
            }
        }
    }
    match setup(cfg, chan) {
        Ok(ready) => {
            let err = ready.wait_for_start_and_exec(cfg);
            // Past Ready nobody waits for our messages: stderr is all there is.
            eprintln!("rt init: {err}");
            // SAFETY: _exit ends the child without running the parent's atexit
            // handlers or flushing its copied stdio buffers.
            unsafe { libc::_exit(127) }
        }
        Err(e) => {
            let _ = chan.send(&Msg::Error(e.to_string()));
            // SAFETY: as above.
            unsafe { libc::_exit(1) }
        }
    }
}

/// The init's state between `Ready` and exec.
struct Prepared {
    exec: exec::Program,
    seccomp: Option<crate::seccomp::SeccompProgram>,
}

fn has_ns(cfg: &InitConfig, t: LinuxNamespaceType) -> bool {
    cfg.new_namespaces & crate::process::namespaces::clone_flag(t) != 0
        || cfg.join.iter().any(|(k, _)| *k == t)
}

/// Steps up to `Ready`, in spec order.
fn setup(cfg: &InitConfig, chan: &Channel) -> Result<Prepared> {
    let spec = cfg.spec;
    let new_user_ns = cfg.new_namespaces & libc::CLONE_NEWUSER != 0;
    // Nobody in the container may ptrace us while we hold host fds. When
    // an unprivileged rt maps a new user namespace, only once it wrote our
    // id maps: while we are not dumpable /proc/<us> is root's, and neither
    // it nor newuidmap (which checks who owns /proc/<us>) could write
    // them. Until then nothing of the container exists to ptrace us, and
    // only the same user could, who owns rt anyway. Root writes the maps
    // of a non-dumpable process, so it never opens that window.
    let dumpable_until_mapped = new_user_ns && cfg.maps_written_unprivileged;
    if !dumpable_until_mapped {
        sys::set_dumpable(false).ctx("prctl(PR_SET_DUMPABLE)")?;
    }
    // Device nodes and files get exactly the modes the spec asks for.
    nix::sys::stat::umask(nix::sys::stat::Mode::empty());

    scheduling::affinity_initial(spec.process().as_ref())?;
    match cfg.cgroup_entry {
        CgroupEntry::ByParent => {
            chan.expect(Msg::Go).ctx("wait for parent")?;
            let entry = chan.recv_fds().ctx("wait for the cgroup files")?;
            if !entry.is_empty() {
                // Files the parent opened: the kernel checks its
                // credentials, not ours (we may be in a user namespace).
                cfg.cgroup
                    .enter_self_through(&entry, cfg.born_in_unified.get())?;
            }
            scheduling::affinity_final(spec.process().as_ref())?;
        }
        CgroupEntry::SelfAtStart => {
            cfg.cgroup.enter_self(cfg.born_in_unified.get())?;
            scheduling::affinity_final(spec.process().as_ref())?;
        }
        CgroupEntry::SelfWhenReady => {}
    }
    // A joined user namespace was entered before the clone (see
    // process::userns_join).
    let joined_userns = cfg.join.iter().any(|(t, _)| *t == LinuxNamespaceType::User);
    if dumpable_until_mapped {
        // Maps written (ByParent: the parent sent Go after them).
        sys::set_dumpable(false).ctx("prctl(PR_SET_DUMPABLE)")?;
    }
    if cfg.unshare_ipc {
        nix::unistd::setresuid(0.into(), 0.into(), 0.into())
            .map_err(|e| Error::errno("setresuid(0) in user namespace", e))?;
        sys::unshare(libc::CLONE_NEWIPC).map_err(|e| Error::errno("unshare IPC namespace", e))?;
    }
    if new_user_ns || joined_userns {
        // Become root of the user namespace (a new one is mapped by now).
        user::become_root().ctx("setresuid(0) in user namespace")?;
    }
    for (t, fd) in cfg
        .join
        .iter()
        .filter(|(t, _)| *t != LinuxNamespaceType::User)
    {
        sys::setns(fd.as_raw_fd(), crate::process::namespaces::clone_flag(*t)).map_err(|e| {
            Error::errno(
                format!(
                    "join {} namespace",
                    crate::process::namespaces::proc_name(*t)
                ),
                e,
            )
        })?;
    }
    if let Some(offsets) = cfg.time_offsets {
        enter_time_namespace(offsets)?;
    }
    // Into our cgroups (SelfWhenReady: when a step first needs them), then
    // a new cgroup namespace, which is rooted where we are.
    let reached: std::cell::Cell<Option<CgroupNeed>> = std::cell::Cell::new(None);
    // Where a user's systemd put us: known to the parent only after our
    // clone (cgroups::systemd::Unit::locate), so read here, before a new
    // cgroup namespace hides it, for the cgroup mount.
    let own_cgroup2: std::cell::RefCell<Option<PathBuf>> = std::cell::RefCell::new(None);
    let need_cgroups = |need: CgroupNeed| -> Result<()> {
        let late = cfg.cgroup_entry == CgroupEntry::SelfWhenReady;
        if reached.get().is_none() {
            if late {
                chan.expect(Msg::Go).ctx("wait for the cgroups")?;
                let entry = chan.recv_fds().ctx("wait for the cgroup files")?;
                cfg.cgroup
                    .enter_self_through(&entry, cfg.born_in_unified.get())?;
                scheduling::affinity_final(spec.process().as_ref())?;
            }
            if cfg.unshare_cgroup_ns {
                if cfg.cgroup.systemd.as_ref().is_some_and(|u| u.user) {
                    *own_cgroup2.borrow_mut() = read_own_cgroup2(cfg.cgroup);
                }
                sys::unshare(libc::CLONE_NEWCGROUP)
                    .map_err(|e| Error::errno("unshare cgroup namespace", e))?;
            }
            reached.set(Some(CgroupNeed::Joined));
            log::debug!("init: in cgroup {}", crate::cgroups::describe(cfg.cgroup));
        }
        if need == CgroupNeed::Limited && reached.get() < Some(CgroupNeed::Limited) {
            if late {
                chan.expect(Msg::LimitsSet)
                    .ctx("wait for the cgroup limits")?;
            }
            reached.set(Some(CgroupNeed::Limited));
        }
        Ok(())
    };
    if cfg.cgroup_entry != CgroupEntry::SelfWhenReady {
        need_cgroups(CgroupNeed::Limited)?;
    }
    if !cfg.no_new_keyring {
        limits::new_session_keyring()?;
    }

    let process = spec.process().as_ref();
    let apparmor = apparmor::prepare(process.and_then(|p| p.apparmor_profile().as_deref()))?;
    let terminal = process.and_then(|p| p.terminal()).unwrap_or(false);
    // Always a session of its own, as runc's init makes it: CRIU cannot
    // checkpoint a container whose init belongs to a session that began
    // outside its pid namespace, and the caller's job control has no
    // business with the container.
    nix::unistd::setsid().map_err(|e| Error::errno("setsid", e))?;

    // Filesystem: mounts and /dev, hooks, pivot_root.
    let opened = match cfg.source_socket {
        Some(sock) => mounts::sources::OpenedSources::receive(sock)?,
        None => Default::default(),
    };
    let ctx = RootfsContext {
        spec,
        rootfs: &cfg.rootfs,
        bundle: &cfg.bundle,
        cgroup: cfg.cgroup,
        pure_v2: cfg.pure_v2,
        new_mount_ns: cfg.new_namespaces & libc::CLONE_NEWNS != 0,
        in_user_ns: has_ns(cfg, LinuxNamespaceType::User) || crate::rootless::in_user_namespace(),
        new_cgroup_ns: cfg.unshare_cgroup_ns || cfg.new_namespaces & libc::CLONE_NEWCGROUP != 0,
        need_cgroups: &need_cgroups,
        sources: cfg.bind_sources,
        opened: &opened,
        own_cgroup2: &own_cgroup2,
    };
    let _root = mounts::prepare(&ctx).ctx("rootfs")?;
    log::debug!(
        "init: mounts and devices of {} prepared",
        cfg.rootfs.display()
    );
    need_cgroups(CgroupNeed::Limited)?;
    if cfg.has_create_runtime_hooks {
        chan.send(&Msg::CreateRuntimeHooks)?;
        chan.expect(Msg::HooksDone)?;
    }
    if let Some(hooks) = spec
        .hooks()
        .as_ref()
        .and_then(|h| h.create_container().as_ref())
    {
        // As runc: in the rootfs, and without an `env` of their own with
        // the container process's (the container's /etc/passwd, for HOME,
        // is not at / yet).
        let env = process.and_then(|p| p.env().as_deref());
        let at = crate::hooks::Setting {
            cwd: Some(&cfg.rootfs),
            default_env: Some(env.unwrap_or_default()),
        };
        crate::hooks::run_all("createContainer", hooks, &(cfg.state_json)("creating"), at)?;
    }
    if !ctx.new_mount_ns {
        log::debug!(
            "init: chroot to {} (no mount namespace)",
            cfg.rootfs.display()
        );
        mounts::pivot::chroot_only(&cfg.rootfs)?;
    } else if cfg.no_pivot {
        log::debug!("init: move {} to / (--no-pivot)", cfg.rootfs.display());
        mounts::pivot::move_root(&cfg.rootfs)?;
    } else {
        log::debug!("init: pivot_root to {}", cfg.rootfs.display());
        mounts::pivot::pivot_root(&cfg.rootfs)?;
    }

    if terminal {
        let sock = cfg.console_socket.ok_or_else(|| {
            Error::new("process.terminal is true but no --console-socket was given")
        })?;
        let owner = process.map_or(0, |p| p.user().uid());
        console::setup(sock, process.and_then(|p| p.console_size()), owner)?;
    }

    finish_rootfs(cfg)?;

    if let Some(h) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        nix::unistd::sethostname(h).map_err(|e| Error::errno("sethostname", e))?;
    }
    if let Some(d) = spec.domainname().as_deref().filter(|d| !d.is_empty()) {
        limits::set_domainname(d)?;
    }
    let linux = spec.linux().as_ref();
    if let Some(sysctl) = linux.and_then(|l| l.sysctl().as_ref()) {
        limits::write_sysctls(sysctl)?;
    }
    mounts::paths::readonly(
        linux
            .and_then(|l| l.readonly_paths().as_deref())
            .unwrap_or(&[]),
    )?;
    mounts::paths::mask(
        linux
            .and_then(|l| l.masked_paths().as_deref())
            .unwrap_or(&[]),
    )?;
    set_root_propagation(cfg)?;

    let Some(process) = process else {
        // No process: create succeeds, start will refuse (runtime spec).
        chan.send(&Msg::Ready)?;
        wait_forever();
    };

    limits::apply_process_limits(process)?;
    scheduling::apply(process)?;
    if let Some(p) = linux.and_then(|l| l.personality().as_ref()) {
        scheduling::set_personality(p)?;
    }
    if let Some(p) = linux.and_then(|l| l.memory_policy().as_ref()) {
        memory_policy::MemoryPolicy::parse(p)?.apply()?;
    }
    let cwd = process.cwd();
    // As root first (the user may lack search permission on the way).
    let chdir_early = nix::unistd::chdir(cwd.as_path()).is_ok();
    if chdir_early {
        // Before any seccomp filter, which may forbid getcwd.
        verify_cwd()?;
    }
    let mut seccomp = match linux.and_then(|l| l.seccomp().as_ref()) {
        Some(s) => Some(crate::seccomp::compile(s).map_err(|e| Error::new(e.to_string()))?),
        None => None,
    };
    if let Some(profile) = &apparmor {
        profile.apply()?;
    }
    let no_new_privs = process.no_new_privileges().unwrap_or(false);
    load_seccomp_while_privileged(&mut seccomp, no_new_privs, chan)?;
    capabilities::drop_bounding(process.capabilities().as_ref())?;
    user::switch(process.user())?;
    capabilities::apply(process.capabilities().as_ref())?;
    if !chdir_early {
        nix::unistd::chdir(cwd.as_path())
            .map_err(|e| Error::errno(format!("chdir to cwd ({})", cwd.display()), e))?;
        verify_cwd()?;
    }
    if no_new_privs {
        sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1)
            .map_err(|e| Error::errno("prctl(PR_SET_NO_NEW_PRIVS)", e))?;
    }
    let exec = exec::Program::resolve(process)?;
    load_notify_seccomp_before_ready(&mut seccomp, chan)?;
    log::debug!("init: ready, as uid {}", process.user().uid());
    chan.send(&Msg::Ready)?;
    Ok(Prepared { exec, seccomp })
}

/// Our cgroup2 directory on the host, from /proc/self/cgroup.
fn read_own_cgroup2(cgroup: &Placement) -> Option<PathBuf> {
    let text = sys::read_virtual("/proc/self/cgroup").ok()?;
    let path = text.lines().find_map(|l| l.strip_prefix("0::"))?;
    let mount = cgroup.dirs.iter().find(|d| d.v2)?.mount.clone();
    Some(mount.join(path.trim().trim_start_matches('/')))
}

/// After pivot_root, the last mount step: rootfsPropagation on the whole
/// tree. Last because an unbindable tree refuses the bind mounts of
/// readonlyPaths and maskedPaths.
fn set_root_propagation(cfg: &InitConfig) -> Result<()> {
    if cfg.new_namespaces & libc::CLONE_NEWNS == 0 {
        return Ok(());
    }
    if let Some(p) = cfg
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.rootfs_propagation().as_deref())
        .and_then(mounts::options::propagation)
    {
        sys::mount(None, "/", None, p | libc::MS_REC, None)
            .map_err(|e| Error::errno("set rootfs propagation", e))?;
    }
    Ok(())
}

/// After pivot_root and the console: a read-only /dev, then the root's
/// read-only flag.
fn finish_rootfs(cfg: &InitConfig) -> Result<()> {
    if cfg.new_namespaces & libc::CLONE_NEWNS == 0 {
        return Ok(());
    }
    mounts::finish_dev(cfg.spec)?;
    if cfg
        .spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
    {
        let root = sys::openat(libc::AT_FDCWD, c"/", libc::O_PATH | libc::O_DIRECTORY, 0)
            .map_err(|e| Error::errno("open /", e))?;
        mounts::remount(&root, libc::MS_BIND | libc::MS_RDONLY).ctx("make rootfs read-only")?;
    }
    Ok(())
}

/// Without no_new_privs the kernel only lets a CAP_SYS_ADMIN holder load a
/// filter, and the capability drop that follows usually removes it: load
/// the filter now (runc's order). With no_new_privs it stays in `filter`,
/// to be loaded as late as possible, right before exec.
fn load_seccomp_while_privileged(
    filter: &mut Option<crate::seccomp::SeccompProgram>,
    no_new_privs: bool,
    chan: &Channel,
) -> Result<()> {
    if no_new_privs {
        return Ok(());
    }
    match filter.take() {
        Some(prog) => install_seccomp(&prog, chan),
        None => Ok(()),
    }
}

/// A filter with SCMP_ACT_NOTIFY rules must be installed while rt still
/// listens on the channel (until Ready), since rt hands its listener fd to
/// the seccomp agent: with no_new_privs it is loaded here, after every
/// other step but exec, as runc loads it before its init pipe closes.
fn load_notify_seccomp_before_ready(
    filter: &mut Option<crate::seccomp::SeccompProgram>,
    chan: &Channel,
) -> Result<()> {
    match filter.take_if(|p| p.uses_notify()) {
        Some(prog) => install_seccomp(&prog, chan),
        None => Ok(()),
    }
}

/// Installs `prog`; its notify listener fd, if any, goes to rt over the
/// channel, and this waits until rt has handed it to the seccomp agent
/// (notified syscalls would block until an agent answers them).
pub(crate) fn install_seccomp(prog: &crate::seccomp::SeccompProgram, chan: &Channel) -> Result<()> {
    log::debug!("init: loading seccomp filter ({prog:?})");
    let listener = prog
        .install()
        .map_err(|e| Error::new(format!("seccomp: {e}")))?;
    let Some(fd) = listener else { return Ok(()) };
    chan.send(&Msg::SeccompFd)?;
    chan.send_fd(std::os::fd::AsFd::as_fd(&fd))?;
    drop(fd);
    chan.expect(Msg::SeccompDone)
        .ctx("hand the seccomp notify fd to the agent")
}

/// CVE-2024-21626: a cwd reached through a leaked host fd shows up as
/// "(unreachable)/..." — refuse to run there.
fn verify_cwd() -> Result<()> {
    match nix::unistd::getcwd() {
        Ok(p) if p.is_absolute() => Ok(()),
        Ok(p) => Err(Error::new(format!(
            "current working directory {} is outside the container",
            p.display()
        ))),
        Err(e) => Err(Error::errno(
            "getcwd: current working directory is outside the container",
            e,
        )),
    }
}

/// unshare(CLONE_NEWTIME) only affects children; write the offsets, then
/// move ourselves in through time_for_children.
fn enter_time_namespace(
    offsets: &std::collections::HashMap<String, oci_spec::runtime::LinuxTimeOffset>,
) -> Result<()> {
    sys::unshare(libc::CLONE_NEWTIME).map_err(|e| Error::errno("unshare time namespace", e))?;
    let mut text = String::new();
    for (clock, off) in offsets {
        if clock != "monotonic" && clock != "boottime" {
            return Err(Error::new(format!(
                "linux.timeOffsets.{clock}: only monotonic and boottime can be offset"
            )));
        }
        text.push_str(&format!(
            "{clock} {} {}\n",
            off.secs().unwrap_or(0),
            off.nanosecs().unwrap_or(0)
        ));
    }
    std::fs::write("/proc/self/timens_offsets", text).ctx("write /proc/self/timens_offsets")?;
    let ns =
        std::fs::File::open("/proc/self/ns/time_for_children").ctx("open time_for_children")?;
    sys::setns(ns.as_raw_fd(), libc::CLONE_NEWTIME)
        .map_err(|e| Error::errno("enter time namespace", e))
}

/// Opening the fifo for writing blocks until `start` opens it for
/// reading; the byte tells `start` we got past the open.
fn wait_for_start(fifo: &OwnedFd) -> Result<OwnedFd> {
    let path = sys::cstr(sys::fd_path(fifo))?;
    let fifo = sys::openat(libc::AT_FDCWD, &path, libc::O_WRONLY, 0)
        .map_err(|e| Error::errno("open exec fifo", e))?;
    sys::write_all(fifo.as_raw_fd(), b"0").map_err(|e| Error::errno("write exec fifo", e))?;
    Ok(fifo)
}

fn wait_forever() -> ! {
    loop {
        nix::unistd::pause();
    }
}

impl Prepared {
    /// Blocks until `rt start` opens the fifo (if there is one), then runs
    /// startContainer hooks and execs. Returns only on failure.
    fn wait_for_start_and_exec(self, cfg: &InitConfig) -> Error {
        if cfg.fifo.is_some() {
            crate::logging::release_stderr_copy();
        }
        // The write end stays open (close-on-exec) so `start` sees EOF
        // exactly when the exec happened.
        let _fifo = match cfg.fifo.map(wait_for_start) {
            Some(Err(e)) => return e,
            opened => opened.and_then(Result::ok),
        };
        if let Some(hooks) = cfg
            .spec
            .hooks()
            .as_ref()
            .and_then(|h| h.start_container().as_ref())
        {
            // Without an `env` of their own they get the process's, HOME
            // included, as runc's (which runs them from the init after it
            // took on that environment).
            let env = cfg
                .spec
                .process()
                .as_ref()
                .map(exec::environment)
                .unwrap_or_default();
            let at = crate::hooks::Setting {
                cwd: None,
                default_env: Some(&env),
            };
            if let Err(e) =
                crate::hooks::run_all("startContainer", hooks, &(cfg.state_json)("created"), at)
            {
                return e;
            }
        }
        log::debug!("init: started, exec {:?}", self.exec.path());
        // Only stdio and the preserved fds cross into the container.
        sys::cloexec_from(3 + cfg.preserve_fds);
        // Never a notify filter: that one was loaded before Ready.
        if let Some(prog) = &self.seccomp {
            if let Err(e) = prog.install() {
                return Error::new(format!("seccomp: {e}"));
            }
        }
        self.exec.exec()
    }
}
