//! OCI hooks: run a hook binary with the container state on its stdin,
//! bounded by its timeout, seeing only its stdio.

use crate::error::{Error, Result};
use oci_spec::runtime::Hook;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Where hooks of one kind run, as runc runs them.
#[derive(Clone, Copy, Default)]
pub struct Setting<'a> {
    /// Working directory (None: rt's own). runc runs createRuntime and
    /// prestart hooks in the bundle and createContainer hooks in the rootfs.
    pub cwd: Option<&'a Path>,
    /// Environment of a hook that has no `env` of its own. None: rt's own
    /// environment (the caller's); the hooks run inside the container get
    /// the container process's.
    pub default_env: Option<&'a [String]>,
}

/// Runs `hooks` in order; the first failure stops the sequence.
pub fn run_all(kind: &str, hooks: &[Hook], state_json: &str, at: Setting) -> Result<()> {
    for (i, h) in hooks.iter().enumerate() {
        log::debug!("running {kind} hook #{i} ({})", h.path().display());
        run_one(h, state_json, at)
            .map_err(|e| e.context(format!("{kind} hook #{i} ({})", h.path().display())))?;
    }
    Ok(())
}

/// Runs every hook of `hooks` in order; a failure is logged as a warning
/// and the rest still run (the spec's rule for poststart and poststop).
pub fn run_all_warning(kind: &str, hooks: &[Hook], state_json: &str) {
    for (i, h) in hooks.iter().enumerate() {
        log::debug!("running {kind} hook #{i} ({})", h.path().display());
        if let Err(e) = run_one(h, state_json, Setting::default()) {
            log::warn!("{kind} hook #{i} ({}): {e}", h.path().display());
        }
    }
}

fn run_one(h: &Hook, state_json: &str, at: Setting) -> Result<()> {
    let mut cmd = Command::new(h.path());
    if let Some((first, rest)) = h.args().as_deref().and_then(<[String]>::split_first) {
        cmd.arg0(first).args(rest);
    }
    // A hook's own `env` (even an empty one) is all it gets; without one
    // it inherits, as runc's hooks do.
    if let Some(env) = h.env().as_deref().or(at.default_env) {
        cmd.env_clear();
        for kv in env {
            if let Some((k, v)) = kv.split_once('=') {
                cmd.env(k, v);
            }
        }
    }
    if let Some(dir) = at.cwd {
        cmd.current_dir(dir);
    }
    // Only stdio crosses into the hook: not the fds a caller passed to the
    // container (--preserve-fds, LISTEN_FDS), nor any it leaked to rt.
    // SAFETY: the closure only makes one syscall (no allocation, no lock),
    // which is what may run between fork and exec.
    unsafe {
        cmd.pre_exec(|| crate::sys::cloexec_range_from(3));
    }
    cmd.stdin(Stdio::piped());
    let mut child = cmd.spawn().map_err(Error::from)?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that exits without reading its stdin is fine (EPIPE).
        let _ = stdin.write_all(state_json.as_bytes());
    }
    let deadline = h
        .timeout()
        .map(|t| Instant::now() + Duration::from_secs(t as u64));
    loop {
        if let Some(status) = child.try_wait().map_err(Error::from)? {
            if status.success() {
                return Ok(());
            }
            return Err(Error::new(format!("exited with {status}")));
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::new(format!(
                "timed out after {}s",
                h.timeout().unwrap_or(0)
            )));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}
