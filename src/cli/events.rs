//! `rt events [--stats] [--interval D] ID`: the container's resource usage
//! as runc prints it, one JSON object per line
//! (`{"type":"stats","id":ID,"data":{...}}`). With --stats once; without,
//! every interval until the container stops.

use super::args::EventsArgs;
use crate::error::{Error, Result};
use crate::state::{ContainerDir, Status, status_of};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// runc's event envelope; a struct (not json!) keeps runc's field order.
#[derive(serde::Serialize)]
struct Event<'a> {
    #[serde(rename = "type")]
    typ: &'static str,
    id: &'a str,
    data: crate::cgroups::Stats,
}

pub fn events(root: &Path, a: &EventsArgs) -> Result<i32> {
    let interval = parse_duration(&a.interval)
        .map_err(|e| Error::new(format!("--interval {:?}: {e}", a.interval)))?;
    let mut first = true;
    loop {
        // The container's lock is held only while reading its state: the
        // stream must not block kill, delete or update meanwhile.
        let st = match ContainerDir::open(root, &a.id) {
            Ok((dir, st)) => (status_of(&dir.path, &st) != Status::Stopped).then_some(st),
            Err(e) if first => return Err(e),
            Err(_) => None, // deleted meanwhile
        };
        let Some(st) = st else {
            if first {
                return Err(Error::new(format!(
                    "container with id {} is not running",
                    a.id
                )));
            }
            return Ok(0);
        };
        first = false;
        let event = serde_json::to_string(&Event {
            typ: "stats",
            id: &a.id,
            data: crate::cgroups::stats(&st.cgroup),
        })
        .map_err(|e| Error::new(format!("encode stats: {e}")))?;
        let mut out = std::io::stdout().lock();
        // A closed stdout (the reader went away) ends the stream.
        if writeln!(out, "{event}").and_then(|_| out.flush()).is_err() {
            return Ok(0);
        }
        drop(out);
        if a.stats {
            return Ok(0);
        }
        std::thread::sleep(interval);
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
