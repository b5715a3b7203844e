//! `rt events [--stats] [--interval D] ID`: the container's resource usage
//! as runc prints it, one JSON object per line
//! (`{"type":"stats","id":ID,"data":{...}}`). With --stats once; without,
//! every interval, plus `{"type":"oom","id":ID}` as soon as the OOM killer
//! strikes in the container's memory cgroup, until the container stops
//! (runc's v2 stream ends there too; its v1 stream goes on until delete).

use super::args::EventsArgs;
use crate::cgroups::oom::OomWatcher;
use crate::error::{Error, Result};
use crate::state::{ContainerDir, ContainerState, Status, status_of};
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

/// runc's event envelope; a struct (not json!) keeps runc's field order,
/// and an oom record has no data, as runc's.
#[derive(serde::Serialize)]
struct Event<'a> {
    #[serde(rename = "type")]
    typ: &'static str,
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<crate::cgroups::Stats>,
}

/// The container's state while it runs; None once it stopped or is gone.
/// The lock is held only while reading: the stream must not block kill,
/// delete or update meanwhile.
fn running(root: &Path, id: &str) -> Result<Option<ContainerState>> {
    let (dir, st) = ContainerDir::open(root, id)?;
    Ok((status_of(&dir.path, &st) != Status::Stopped).then_some(st))
}

/// Prints one record; false when stdout is closed (the reader went away).
fn emit(event: &Event) -> Result<bool> {
    let line =
        serde_json::to_string(event).map_err(|e| Error::new(format!("encode event: {e}")))?;
    let mut out = std::io::stdout().lock();
    Ok(writeln!(out, "{line}").and_then(|_| out.flush()).is_ok())
}

pub fn events(root: &Path, a: &EventsArgs) -> Result<i32> {
    let interval = parse_duration(&a.interval)
        .map_err(|e| Error::new(format!("--interval {:?}: {e}", a.interval)))?;
    let not_running = || Error::new(format!("container with id {} is not running", a.id));
    let st = running(root, &a.id)?.ok_or_else(not_running)?;
    let stats = |st: &ContainerState| Event {
        typ: "stats",
        id: &a.id,
        data: Some(crate::cgroups::stats(&st.cgroup)),
    };
    if a.stats {
        emit(&stats(&st))?;
        return Ok(0);
    }
    let mut oom = OomWatcher::new(&st.cgroup).unwrap_or_else(|e| {
        log::warn!("events: no OOM notifications: {e}");
        None
    });
    // Ends the wait as soon as the init exits; taken after the watcher so
    // an OOM kill of the init is seen by both. Checked against pid reuse.
    let init_exit = crate::sys::pidfd_open(st.pid).ok();
    let oom_record = Event {
        typ: "oom",
        id: &a.id,
        data: None,
    };
    let mut st = running(root, &a.id)?.ok_or_else(not_running)?;
    loop {
        if !emit(&stats(&st))? {
            return Ok(0);
        }
        let deadline = Instant::now() + interval;
        loop {
            let woke = wait(deadline, init_exit.as_ref(), oom.as_ref());
            if let Some(w) = oom.as_mut().filter(|_| woke.oom || woke.init_exited) {
                let seen = w.take();
                for _ in 0..seen.ooms {
                    if !emit(&oom_record)? {
                        return Ok(0);
                    }
                }
                if seen.cgroup_removed {
                    return Ok(0);
                }
            }
            if woke.init_exited {
                return Ok(0);
            }
            if woke.timed_out {
                break;
            }
        }
        st = match running(root, &a.id) {
            Ok(Some(st)) => st,
            // Stopped, or deleted meanwhile.
            Ok(None) | Err(_) => return Ok(0),
        };
    }
}

#[derive(Default)]
struct Woke {
    oom: bool,
    init_exited: bool,
    timed_out: bool,
}

/// Waits until `deadline`, the init's exit or a possible OOM event.
fn wait(deadline: Instant, init_exit: Option<&OwnedFd>, oom: Option<&OomWatcher>) -> Woke {
    let mut fds = Vec::new();
    let none = -1; // poll ignores negative fds
    fds.push(libc::pollfd {
        fd: init_exit.map_or(none, |f| f.as_raw_fd()),
        events: libc::POLLIN,
        revents: 0,
    });
    fds.push(libc::pollfd {
        fd: oom.map_or(none, |w| w.fd().as_raw_fd()),
        events: libc::POLLIN,
        revents: 0,
    });
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ms =
            i32::try_from(left.as_millis().max(u128::from(!left.is_zero()))).unwrap_or(i32::MAX);
        // SAFETY: `fds` is a valid array of pollfd of the given length.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
        if n < 0 && nix::Error::last() == nix::Error::EINTR {
            continue;
        }
        if n <= 0 {
            return Woke {
                timed_out: true,
                ..Woke::default()
            };
        }
        return Woke {
            init_exited: fds[0].revents != 0,
            oom: fds[1].revents != 0,
            timed_out: false,
        };
    }
}

/// Go's time.ParseDuration syntax, which runc's --interval takes: a
/// sequence of decimal numbers with units ns, us (µs), ms, s, m, h
/// ("5s", "1m30s", "1.5s", "100ms"). Must be positive.
fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err("empty duration".into());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or("missing unit")?;
        let value: f64 = rest[..num_len].parse().map_err(|_| "bad number")?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            u => return Err(format!("unknown unit {u:?}")),
        };
        total += value * seconds;
        rest = &rest[unit_len..];
    }
    if total <= 0.0 || !total.is_finite() {
        return Err("duration interval must be greater than 0".into());
    }
    Ok(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        for bad in ["", "5", "5x", "0s", "s", "1..2s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
        }
    }
}
