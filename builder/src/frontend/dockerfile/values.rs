//! Validation of instruction values that have their own little syntax:
//! Go-style durations (HEALTHCHECK), port specs (EXPOSE), signals
//! (STOPSIGNAL) and stage names (FROM ... AS name).

use super::error::{QUOTE_CHARS, quote, shorten};

/// Parses a Go `time.ParseDuration` string (`30s`, `1m30s`, `1.5h`,
/// `250ms`, `0`) into nanoseconds.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let bad = || {
        format!(
            "invalid duration {} (examples: 30s, 1m30s, 500ms)",
            quote(text)
        )
    };
    let s = text.strip_prefix('+').unwrap_or(text);
    if s.starts_with('-') {
        return Err(format!("duration {} cannot be negative", quote(text)));
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(bad());
    }
    let mut total: f64 = 0.0;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let number = &rest[..num_len];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(bad());
        }
        let value: f64 = number.parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total += value * scale;
    }
    if total > u64::MAX as f64 / 2.0 {
        return Err(format!("duration {} is too large", quote(text)));
    }
    Ok(total.round() as u64)
}

/// HEALTHCHECK intervals: 0 means "inherit the default", otherwise at
/// least 1ms (Docker's minimum).
pub fn parse_interval(flag: &str, text: &str) -> Result<u64, String> {
    let ns = parse_duration(text).map_err(|e| format!("--{flag}: {e}"))?;
    if ns != 0 && ns < 1_000_000 {
        return Err(format!(
            "--{flag}={} cannot be less than 1ms",
            shorten(text, QUOTE_CHARS)
        ));
    }
    Ok(ns)
}

/// `80`, `80/tcp`, `53/udp`, `8000-8010`, `9000-9001/sctp`.
pub fn validate_port(spec: &str) -> Result<(), String> {
    let (range, proto) = match spec.split_once('/') {
        Some((r, p)) => (r, Some(p)),
        None => (spec, None),
    };
    if let Some(p) = proto
        && !matches!(p.to_ascii_lowercase().as_str(), "tcp" | "udp" | "sctp")
    {
        return Err(format!(
            "invalid protocol {} in port {} (tcp, udp or sctp)",
            quote(p),
            quote(spec)
        ));
    }
    let port = |p: &str| -> Result<u32, String> {
        match p.parse::<u32>() {
            Ok(n) if n <= 65535 => Ok(n),
            _ => Err(format!(
                "invalid port {}: {} is not a port number (0-65535)",
                quote(spec),
                quote(p)
            )),
        }
    };
    match range.split_once('-') {
        Some((lo, hi)) => {
            let (lo, hi) = (port(lo)?, port(hi)?);
            if lo > hi {
                return Err(format!(
                    "invalid port range {}: start is after end",
                    quote(spec)
                ));
            }
        }
        None => {
            port(range)?;
        }
    }
    Ok(())
}

/// Signal names Linux knows, with or without the SIG prefix.
const SIGNALS: &[&str] = &[
    "ABRT", "ALRM", "BUS", "CHLD", "CLD", "CONT", "FPE", "HUP", "ILL", "INT", "IO", "IOT", "KILL",
    "PIPE", "POLL", "PROF", "PWR", "QUIT", "SEGV", "STKFLT", "STOP", "SYS", "TERM", "TRAP", "TSTP",
    "TTIN", "TTOU", "URG", "USR1", "USR2", "VTALRM", "WINCH", "XCPU", "XFSZ",
];

/// `SIGTERM`, `TERM`, `15`, `SIGRTMIN+3`.
pub fn validate_signal(sig: &str) -> Result<(), String> {
    if let Ok(n) = sig.parse::<u32>() {
        if (1..=64).contains(&n) {
            return Ok(());
        }
        return Err(format!("invalid signal number {} (1-64)", quote(sig)));
    }
    let upper = sig.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if SIGNALS.contains(&name) {
        return Ok(());
    }
    for base in ["RTMIN", "RTMAX"] {
        if let Some(off) = name.strip_prefix(base) {
            if off.is_empty() {
                return Ok(());
            }
            let n = off.get(1..).and_then(|d| d.parse::<u32>().ok());
            let sign_ok = (base == "RTMIN" && off.starts_with('+'))
                || (base == "RTMAX" && off.starts_with('-'));
            if sign_ok && n.is_some_and(|n| n <= 30) {
                return Ok(());
            }
        }
    }
    Err(format!("invalid signal {}", quote(sig)))
}

/// Stage names: a lowercase letter, then letters, digits, `-`, `_`, `.`.
pub fn valid_stage_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_like_go() {
        assert_eq!(parse_duration("30s"), Ok(30_000_000_000));
        assert_eq!(parse_duration("1m30s"), Ok(90_000_000_000));
        assert_eq!(parse_duration("1.5h"), Ok(5_400_000_000_000));
        assert_eq!(parse_duration("250ms"), Ok(250_000_000));
        assert_eq!(parse_duration("10us"), Ok(10_000));
        assert_eq!(parse_duration("0"), Ok(0));
        for bad in ["", "s", "10", "1x", "1..5s", "-1s", "abc"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn intervals_have_a_minimum() {
        assert_eq!(parse_interval("interval", "0s"), Ok(0));
        assert!(
            parse_interval("interval", "100us")
                .unwrap_err()
                .contains("less than 1ms")
        );
    }

    #[test]
    fn ports() {
        for ok in [
            "80",
            "80/tcp",
            "53/udp",
            "8000-8010",
            "9/sctp",
            "65535",
            "1-2/TCP",
        ] {
            assert_eq!(validate_port(ok), Ok(()), "{ok}");
        }
        for bad in ["http", "80/icmp", "70000", "10-5", "-1", "", "1-"] {
            assert!(validate_port(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn signals() {
        for ok in ["SIGTERM", "term", "9", "SIGRTMIN+3", "RTMAX-1", "SIGRTMIN"] {
            assert_eq!(validate_signal(ok), Ok(()), "{ok}");
        }
        for bad in ["SIGFOO", "0", "99", "RTMIN-1", ""] {
            assert!(validate_signal(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn stage_names() {
        assert!(valid_stage_name("build-1.x_y"));
        assert!(!valid_stage_name("1build"));
        assert!(!valid_stage_name("Build"));
        assert!(!valid_stage_name("a/b"));
        assert!(!valid_stage_name(""));
    }
}
