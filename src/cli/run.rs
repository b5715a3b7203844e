//! `run`: create + start, then (unless --detach) wait for the container,
//! forward signals to it, and delete it unless --keep.

use super::args::RunArgs;
use super::commands::create_options;
use crate::container;
use crate::error::{Error, Result};
use std::path::Path;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};

static INIT_PID: AtomicI32 = AtomicI32::new(0);
/// Signals that came before the init's pid was known, one bit each.
static PENDING: AtomicU64 = AtomicU64::new(0);

extern "C" fn forward(sig: libc::c_int) {
    let pid = INIT_PID.load(Ordering::Relaxed);
    if pid > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(pid, sig) };
    } else if (0..64).contains(&sig) {
        PENDING.fetch_or(1 << sig, Ordering::Relaxed);
    }
}

/// From now on signals go to `pid`, those that came meanwhile too.
fn forward_to(pid: i32) {
    INIT_PID.store(pid, Ordering::Relaxed);
    let pending = PENDING.swap(0, Ordering::Relaxed);
    for sig in (1..64).filter(|s| pending & (1 << s) != 0) {
        // SAFETY: kill(2) of the container's init with a signal we caught.
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

pub fn run(root: &Path, a: &RunArgs, systemd_cgroup: bool, rootless: Option<bool>) -> Result<i32> {
    let mut opts = create_options(root, &a.create, systemd_cgroup, rootless)?;
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
    // Caught from before the container runs: a signal that comes as soon
    // as it does (its first output) must not kill us; it is held until
    // the init's pid is known, then forwarded.
    if !a.detach {
        forward_signals();
    }
    // The init execs the container process as soon as it is set up; the
    // container runs when this returns.
    let st = container::create_and_start(&opts, &bundle)?;
    if !a.detach {
        forward_to(st.pid);
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
