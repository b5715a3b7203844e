//! OCI hooks: run a hook binary with the container state on its stdin,
//! bounded by its timeout.

use crate::error::{Error, Result};
use oci_spec::runtime::Hook;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `hooks` in order; the first failure stops the sequence.
pub fn run_all(kind: &str, hooks: &[Hook], state_json: &str) -> Result<()> {
    for (i, h) in hooks.iter().enumerate() {
        run_one(h, state_json)
            .map_err(|e| e.context(format!("{kind} hook #{i} ({})", h.path().display())))?;
    }
    Ok(())
}

/// Runs every hook of `hooks` in order; a failure is logged as a warning
/// and the rest still run (the spec's rule for poststart and poststop).
pub fn run_all_warning(kind: &str, hooks: &[Hook], state_json: &str) {
    for (i, h) in hooks.iter().enumerate() {
        if let Err(e) = run_one(h, state_json) {
            log::warn!("{kind} hook #{i} ({}): {e}", h.path().display());
        }
    }
}

fn run_one(h: &Hook, state_json: &str) -> Result<()> {
    let mut cmd = Command::new(h.path());
    if let Some(args) = h.args() {
        if let Some((first, rest)) = args.split_first() {
            cmd.arg0(first).args(rest);
        }
    }
    cmd.env_clear();
    for kv in h.env().iter().flatten() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
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
