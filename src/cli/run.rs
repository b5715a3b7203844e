//! `run`: create + start, then (unless --detach) wait for the container,
//! forward signals to it, and delete it unless --keep.

use super::args::RunArgs;
use super::commands::create_options;
use crate::container;
use crate::error::{Error, Result};
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};

static INIT_PID: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int) {
    let pid = INIT_PID.load(Ordering::Relaxed);
    if pid > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(pid, sig) };
    }
}

/// Forwards the signals a foreground `run` (or `restore`) gets to `pid`.
pub(super) fn forward_signals_to(pid: i32) {
    INIT_PID.store(pid, Ordering::Relaxed);
    forward_signals();
}

fn forward_signals() {
    for sig in [
        libc::SIGINT,
        libc::SIGTERM,
        libc::SIGHUP,
        libc::SIGQUIT,
        libc::SIGUSR1,
        libc::SIGUSR2,
        libc::SIGWINCH,
    ] {
        // SAFETY: installing a handler that only calls kill(2).
        unsafe { libc::signal(sig, forward as *const () as libc::sighandler_t) };
    }
}

pub fn run(root: &Path, a: &RunArgs, systemd_cgroup: bool) -> Result<i32> {
    let mut opts = create_options(root, &a.create, systemd_cgroup)?;
    let bundle = crate::spec::load_bundle(&opts.bundle)?;
    // A terminal without --console-socket: we hold the pty ourselves.
    let terminal = bundle
        .spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    let mut proxy_sock: Option<(
        std::os::unix::net::UnixStream,
        std::os::unix::net::UnixStream,
    )> = None;
    if terminal && opts.console_socket.is_none() {
        if a.detach {
            return Err(Error::new(
                "cannot allocate tty if rt will detach without setting console socket",
            ));
        }
        let pair = std::os::unix::net::UnixStream::pair().map_err(Error::from)?;
        opts.console_fd = Some(std::os::fd::AsRawFd::as_raw_fd(&pair.1));
        proxy_sock = Some(pair);
    }
    if !a.detach && !a.no_subreaper {
        // Processes the container leaves behind are reparented to us.
        crate::sys::prctl(libc::PR_SET_CHILD_SUBREAPER, 1)
            .map_err(|e| Error::errno("set subreaper", e))?;
    }
    // The init execs the container process as soon as it is set up; the
    // container runs when this returns.
    let st = container::create_and_start(&opts, &bundle)?;
    if !a.detach {
        INIT_PID.store(st.pid, Ordering::Relaxed);
        forward_signals();
    }
    let proxy = match &proxy_sock {
        Some((ours, _)) => {
            match super::tty_proxy::Proxy::receive(std::os::fd::AsRawFd::as_raw_fd(ours)) {
                Ok(p) => Some(p),
                Err(e) => {
                    let _ = container::delete(root, &opts.id, true);
                    return Err(e);
                }
            }
        }
        None => None,
    };
    drop(proxy_sock);
    if a.detach {
        return Ok(0);
    }
    if let Some(p) = &proxy {
        p.copy();
    }
    let code = container::exec_wait_child(st.pid);
    drop(proxy);
    if !a.keep {
        container::delete(root, &opts.id, true)?;
    }
    Ok(code)
}
