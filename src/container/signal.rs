//! `kill`: signal names and numbers as runc accepts them.

use crate::error::{Error, Result};
use crate::state::{ContainerDir, Status, status_of};
use nix::sys::signal::Signal;
use std::path::Path;
use std::str::FromStr;

/// "9", "KILL", "SIGKILL", "kill" → SIGKILL. "0" is kill(2)'s null
/// signal: `kill ID 0` checks that the container's init is alive (runc).
pub fn parse_signal(s: &str) -> Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        if (0..=64).contains(&n) {
            return Ok(n);
        }
        return Err(Error::new(format!("invalid signal number {n}")));
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    if let Some(rest) = name.strip_prefix("SIGRTMIN+") {
        if let Ok(off) = rest.parse::<i32>() {
            return Ok(libc::SIGRTMIN() + off);
        }
    }
    if name == "SIGRTMIN" {
        return Ok(libc::SIGRTMIN());
    }
    if name == "SIGRTMAX" {
        return Ok(libc::SIGRTMAX());
    }
    Signal::from_str(&name)
        .map(|s| s as i32)
        .map_err(|_| Error::new(format!("unknown signal {s:?}")))
}

fn send(pid: i32, sig: i32) -> nix::Result<()> {
    log::debug!("sending signal {sig} to pid {pid}");
    // SAFETY: kill(2) with integer arguments.
    if unsafe { libc::kill(pid, sig) } < 0 {
        Err(nix::Error::last())
    } else {
        Ok(())
    }
}

pub fn kill(root: &Path, id: &str, sig: i32, all: bool) -> Result<()> {
    let (dir, st) = ContainerDir::open(root, id)?;
    let status = status_of(&dir.path, &st);
    if status == Status::Stopped {
        // containerd calls `kill --all` after the init exited: not an error.
        if all {
            return Ok(());
        }
        return Err(Error::new("container not running"));
    }
    signal_container(&st, sig, all)
}

/// Delivers `sig` to the init, or to every process of the cgroup when asked
/// (or when SIGKILL would otherwise leave processes behind: a container
/// without its own PID namespace).
pub fn signal_container(st: &crate::state::ContainerState, sig: i32, all: bool) -> Result<()> {
    if all || (sig == libc::SIGKILL && !st.own_pid_ns) {
        let frozen = st.cgroup.is_frozen();
        for pid in st.cgroup.pids() {
            let _ = send(pid, sig);
        }
        if frozen && sig == libc::SIGKILL {
            let _ = st.cgroup.set_frozen(false);
        }
        if !all {
            return Ok(());
        }
        let _ = send(st.pid, sig);
        return Ok(());
    }
    send(st.pid, sig).map_err(|e| match e {
        nix::Error::ESRCH => Error::new("container not running"),
        e => Error::errno("kill", e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_forms() {
        for s in ["9", "KILL", "SIGKILL", "kill", "sigkill"] {
            assert_eq!(parse_signal(s).unwrap(), libc::SIGKILL, "{s}");
        }
        assert_eq!(parse_signal("TERM").unwrap(), libc::SIGTERM);
        assert_eq!(parse_signal("15").unwrap(), libc::SIGTERM);
        assert_eq!(parse_signal("RTMIN+1").unwrap(), libc::SIGRTMIN() + 1);
        assert_eq!(parse_signal("0").unwrap(), 0);
        assert!(parse_signal("-1").is_err());
        assert!(parse_signal("65").is_err());
        assert!(parse_signal("NOPE").is_err());
    }
}
