//! `exec`: run another process inside a running container.

use crate::error::{Error, Result};
use crate::init::setns_init::{self, ExecInit};
use crate::process::namespaces::ForChildren;
use crate::process::{Channel, Msg};
use crate::state::{self, ContainerDir, Status, status_of};
use crate::sys;
use oci_spec::runtime::Process;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

pub struct ExecOptions {
    pub root: PathBuf,
    pub id: String,
    pub process: Process,
    pub console_socket: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub detach: bool,
    pub preserve_fds: u32,
    /// Our end of a socketpair to send the pty master to instead of a
    /// --console-socket (`exec -t` without one: rt proxies the terminal).
    pub console_fd: Option<std::os::fd::RawFd>,
    /// Exec into a paused container too (the process then waits, frozen,
    /// until the container is resumed), as runc's --ignore-paused.
    pub ignore_paused: bool,
    /// `--cgroup`: sub-cgroups of the container's to run the process in.
    pub sub_cgroups: crate::cgroups::sub::SubCgroups,
}

/// Starts the process; with `detach` returns 0 once it runs, otherwise
/// waits and returns its exit status (128+n when killed by signal n).
pub fn exec(opts: &ExecOptions) -> Result<i32> {
    let pid = start(opts)?;
    if opts.detach {
        return Ok(0);
    }
    Ok(wait_child(pid))
}

/// Starts the process and returns its host pid (our child) once it has
/// exec'd, with the pid file written.
pub fn start(opts: &ExecOptions) -> Result<i32> {
    let (dir, st) = ContainerDir::open(&opts.root, &opts.id)?;
    match status_of(&dir.path, &st) {
        Status::Running | Status::Created => {}
        Status::Paused if opts.ignore_paused => {}
        Status::Paused => {
            return Err(Error::new(
                "cannot exec in a paused container (use --ignore-paused to override)",
            ));
        }
        _ => return Err(Error::new("cannot exec in a stopped container")),
    }
    drop(dir); // the lock must not be held while the process runs
    let cgroup = st.cgroup.with_sub_cgroups(&opts.sub_cgroups)?;

    // Namespaces of the container init, minus those we already share.
    let order = ["user", "ipc", "uts", "net", "pid", "time", "cgroup", "mnt"];
    let mut join: Vec<(i32, OwnedFd)> = Vec::new();
    let mut for_children: Vec<(i32, OwnedFd)> = Vec::new();
    for name in order {
        let theirs = format!("/proc/{}/ns/{name}", st.pid);
        let (Ok(a), Ok(b)) = (
            std::fs::metadata(&theirs),
            std::fs::metadata(format!("/proc/self/ns/{name}")),
        ) else {
            continue;
        };
        if a.ino() == b.ino() {
            continue;
        }
        let fd: OwnedFd = std::fs::File::open(&theirs)
            .map_err(|e| Error::from(e).context(format!("open {theirs}")))?
            .into();
        let flag = flag_of(name);
        if name == "pid" || name == "time" {
            for_children.push((flag, fd));
        } else {
            join.push((flag, fd));
        }
    }
    // Decided before we possibly join the user namespace, where we are root.
    let privileged = nix::unistd::geteuid().is_root();
    if !privileged {
        if let Some(unit) = st.cgroup.systemd.as_ref().filter(|u| u.user) {
            // While we are still ourselves: in the container's user
            // namespace we would claim uid 0 to the user's bus.
            crate::cgroups::systemd::connect(unit.user)?;
        }
        enter_user_namespace_first(&mut join)?;
    }
    // Root of a user namespace (rootless Podman's) cannot join the host's
    // pid namespace again, which belongs to the initial one.
    let can_switch_back = privileged && !crate::rootless::in_user_namespace();
    let console: Option<OwnedFd> = match (&opts.console_socket, opts.console_fd) {
        (_, Some(fd)) => {
            // SAFETY: the caller keeps `console_fd` open for the call.
            let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
            Some(nix::unistd::dup(borrowed).map_err(|e| Error::errno("dup console fd", e))?)
        }
        (Some(p), None) => Some(
            std::os::unix::net::UnixStream::connect(p)
                .map_err(|e| {
                    Error::from(e).context(format!("connect to console socket {}", p.display()))
                })?
                .into(),
        ),
        (None, None) => None,
    };
    let cfg = ExecInit {
        process: &opts.process,
        join: &join,
        console_socket: console.as_ref(),
        seccomp: st.seccomp.as_ref(),
        preserve_fds: opts.preserve_fds,
        cgroup: &cgroup,
        // The helper starts as privileged as we are, before it joins the
        // container's user namespace: it can move itself (cheaper).
        joins_own_cgroups: privileged,
        born_in_unified: std::cell::Cell::new(false),
    };
    log::debug!(
        "exec in {}: joining {} namespaces of pid {}, cgroup {}",
        opts.id,
        join.len() + for_children.len(),
        st.pid,
        crate::cgroups::describe(&cgroup)
    );
    let (parent, child) = Channel::pair()?;
    let unified_dir = cgroup.open_unified();
    let saved = ForChildren::enter(&for_children)?;
    let (cloned, born_in_unified) =
        sys::clone_process_into(0, unified_dir.as_ref().map(|d| d.as_raw_fd()));
    cfg.born_in_unified.set(born_in_unified);
    if let Ok(0) = cloned {
        drop(parent);
        setns_init::run(&cfg, &child);
    }
    // Only the parent switches back (the child is in the joined pid
    // namespace, from which setns to an ancestor is refused). Rootless,
    // we cannot go back (that takes privilege over the host's pid
    // namespace) and need not: this process forks no other child.
    if can_switch_back {
        saved.restore()?;
    }
    let pid = cloned.map_err(|e| Error::errno("clone exec process", e))?;
    drop(child);
    let fail = |e: Error| -> Error {
        // SAFETY: killing and reaping our own child.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        }
        e
    };
    drop(unified_dir);
    if !cfg.joins_own_cgroups {
        match cgroup.enter(pid, born_in_unified) {
            Ok(()) => {}
            // Rootless from outside the user's subtree (cgroup2 wants write
            // access to the common ancestor): the process runs, outside the
            // container's cgroup, as runc lets it.
            Err(e) if !privileged => log::debug!("exec: not in the container's cgroup: {e}"),
            Err(e) => return Err(fail(e)),
        }
        parent.send(&Msg::Go).map_err(fail)?;
    }
    // EOF means the process exec'd (the channel is close-on-exec).
    loop {
        match parent.recv() {
            Ok(None) => break,
            Ok(Some(Msg::SeccompFd)) => {
                // runc's payload for an exec: the exec'd process's pid with
                // the container's state.
                let handed = parent.recv_fd().and_then(|fd| {
                    let state = st.oci(Status::Running);
                    crate::seccomp::listener::hand_over(st.seccomp.as_ref(), pid, &state, &fd)
                });
                handed.map_err(fail)?;
                parent.send(&Msg::SeccompDone).map_err(fail)?;
            }
            Ok(Some(Msg::Error(e))) => return Err(fail(Error::new(e))),
            Ok(Some(m)) => {
                return Err(fail(Error::new(format!(
                    "unexpected message from exec process: {m:?}"
                ))));
            }
            Err(e) => return Err(fail(e)),
        }
    }
    log::debug!("exec in {}: process pid {pid} has exec'd", opts.id);
    if let Some(pf) = &opts.pid_file {
        let abs = if pf.is_absolute() {
            pf.clone()
        } else {
            std::env::current_dir()?.join(pf)
        };
        state::write_atomic(&abs, pid.to_string().as_bytes(), 0o644).map_err(fail)?;
    }
    Ok(pid)
}

/// Rootless: the container's pid namespace belongs to its user namespace,
/// and only a process inside that one may join it (for its children, as
/// we must). So rt joins the user namespace itself before the clone (the
/// user owns it: joining needs no privilege on the host) and the child
/// inherits it. rt turns non-dumpable first: the container's root then
/// cannot ptrace it, since rt's memory still belongs to the host's user
/// namespace. rt gains nothing over host files by this: its ids stay the
/// user's.
fn enter_user_namespace_first(join: &mut Vec<(i32, OwnedFd)>) -> Result<()> {
    let Some(at) = join.iter().position(|(f, _)| *f == libc::CLONE_NEWUSER) else {
        return Ok(());
    };
    let (_, fd) = join.remove(at);
    sys::set_dumpable(false).map_err(|e| Error::errno("prctl(PR_SET_DUMPABLE)", e))?;
    sys::setns(fd.as_raw_fd(), libc::CLONE_NEWUSER)
        .map_err(|e| Error::errno("join user namespace", e))
}

/// Waits for our child, mapping a signal death to 128+n like a shell.
pub fn wait_child(pid: i32) -> i32 {
    let mut status = 0;
    loop {
        // SAFETY: waiting for our own child into a local.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        if rc == pid {
            break;
        }
        if rc < 0 && nix::Error::last() != nix::Error::EINTR {
            return 255;
        }
    }
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        255
    };
    log::debug!("process exited: pid {pid}, status {code}");
    code
}

fn flag_of(name: &str) -> i32 {
    match name {
        "user" => libc::CLONE_NEWUSER,
        "ipc" => libc::CLONE_NEWIPC,
        "uts" => libc::CLONE_NEWUTS,
        "net" => libc::CLONE_NEWNET,
        "pid" => libc::CLONE_NEWPID,
        "time" => libc::CLONE_NEWTIME,
        "cgroup" => libc::CLONE_NEWCGROUP,
        _ => libc::CLONE_NEWNS,
    }
}
