//! The init of `exec`: a process that joins a running container's
//! namespaces and cgroup, takes on the exec process's identity and execs.

use super::{apparmor, capabilities, console, exec, limits, scheduling, user};
use crate::error::{Context, Error, Result};
use crate::process::{Channel, Msg};
use crate::sys;
use oci_spec::runtime::{LinuxSeccomp, Process};
use std::os::fd::{AsRawFd, OwnedFd};

pub struct ExecInit<'a> {
    pub process: &'a Process,
    /// (CLONE_NEW* flag, fd) in join order, user namespace first.
    pub join: &'a [(i32, OwnedFd)],
    pub console_socket: Option<&'a OwnedFd>,
    pub seccomp: Option<&'a LinuxSeccomp>,
    pub preserve_fds: u32,
    /// The container's cgroup; the process moves itself there when
    /// `joins_own_cgroups` (see InitConfig), else the parent moves it.
    pub cgroup: &'a crate::cgroups::Placement,
    pub joins_own_cgroups: bool,
    pub born_in_unified: std::cell::Cell<bool>,
}

pub fn run(cfg: &ExecInit, chan: &Channel) -> ! {
    match setup(cfg, chan) {
        Ok((program, filter)) => {
            // The channel is close-on-exec: the parent sees EOF exactly when
            // the exec happened, or our error message if it did not.
            sys::cloexec_from(3 + cfg.preserve_fds);
            if let Some(f) = &filter {
                // The channel is still open (until exec): a notify
                // listener fd goes to rt through it.
                if let Err(e) = super::install_seccomp(f, chan) {
                    let _ = chan.send(&Msg::Error(e.to_string()));
                    // SAFETY: end the child without running inherited atexit handlers.
                    unsafe { libc::_exit(255) };
                }
            }
            let e = program.exec();
            let _ = chan.send(&Msg::Error(e.to_string()));
            // SAFETY: as above.
            unsafe { libc::_exit(255) }
        }
        Err(e) => {
            let _ = chan.send(&Msg::Error(e.to_string()));
            // SAFETY: as above.
            unsafe { libc::_exit(255) }
        }
    }
}

fn setup(
    cfg: &ExecInit,
    chan: &Channel,
) -> Result<(exec::Program, Option<crate::seccomp::SeccompProgram>)> {
    sys::set_dumpable(false).ctx("prctl(PR_SET_DUMPABLE)")?;
    scheduling::affinity_initial(Some(cfg.process))?;
    if cfg.joins_own_cgroups {
        cfg.cgroup.enter_self(cfg.born_in_unified.get())?;
    } else {
        chan.expect(Msg::Go).ctx("wait for parent")?;
    }
    scheduling::affinity_final(Some(cfg.process))?;
    // While the host's /sys and /proc are still ours.
    let apparmor = apparmor::prepare(cfg.process.apparmor_profile().as_deref())?;
    for (flag, fd) in cfg.join {
        sys::setns(fd.as_raw_fd(), *flag)
            .map_err(|e| Error::errno("join container namespace", e))?;
    }
    let p = cfg.process;
    if p.terminal().unwrap_or(false) {
        nix::unistd::setsid().map_err(|e| Error::errno("setsid", e))?;
        let sock = cfg
            .console_socket
            .ok_or_else(|| Error::new("terminal requested but no --console-socket was given"))?;
        console::setup_pty_only(sock, p.console_size(), p.user().uid())?;
    }
    limits::apply_process_limits(p)?;
    scheduling::apply(p)?;
    let chdir_early = nix::unistd::chdir(p.cwd().as_path()).is_ok();
    if chdir_early {
        // Before any seccomp filter, which may forbid getcwd.
        super::verify_cwd()?;
    }
    let mut filter = match cfg.seccomp {
        Some(s) => Some(crate::seccomp::compile(s).map_err(|e| Error::new(e.to_string()))?),
        None => None,
    };
    if let Some(profile) = &apparmor {
        profile.apply()?;
    }
    let no_new_privs = p.no_new_privileges().unwrap_or(false);
    super::load_seccomp_while_privileged(&mut filter, no_new_privs, chan)?;
    capabilities::drop_bounding(p.capabilities().as_ref())?;
    user::switch(p.user())?;
    capabilities::apply(p.capabilities().as_ref())?;
    if !chdir_early {
        nix::unistd::chdir(p.cwd().as_path())
            .map_err(|e| Error::errno(format!("chdir to cwd ({})", p.cwd().display()), e))?;
        super::verify_cwd()?;
    }
    if no_new_privs {
        sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1)
            .map_err(|e| Error::errno("prctl(PR_SET_NO_NEW_PRIVS)", e))?;
    }
    let program = exec::Program::resolve(p)?;
    Ok((program, filter))
}
