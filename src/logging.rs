//! Log records for `--log` / `--log-format` / `--debug`, shaped like runc's
//! logrus output: containerd decodes every line of the log file as
//! `{"level","msg","time"}` and reports the last `"level":"error"` record.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::Mutex;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

struct Sink {
    file: Option<File>,
    format: Format,
    /// `file` is the init's duplicate of rt's stderr (keep_stderr_for_init).
    stderr_copy: bool,
}

static SINK: Mutex<Option<Sink>> = Mutex::new(None);
struct Logger;
static LOGGER: Logger = Logger;

/// Sets up logging for this invocation. The file is opened for appending
/// (runc: O_APPEND|O_SYNC) so concurrent calls never overwrite each other.
pub fn init(path: Option<&str>, format: Format, debug: bool) -> crate::Result<()> {
    let file = match path {
        Some(p) if !p.is_empty() => Some(
            OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o644)
                .custom_flags(libc::O_CLOEXEC | libc::O_SYNC)
                .open(p)
                .map_err(|e| crate::Error::from(e).context(format!("open log file {p}")))?,
        ),
        _ => None,
    };
    *SINK.lock().unwrap_or_else(|e| e.into_inner()) = Some(Sink {
        file,
        format,
        stderr_copy: false,
    });
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(if debug {
        log::LevelFilter::Debug
    } else {
        log::LevelFilter::Warn
    });
    Ok(())
}

/// The container init swaps its stdio for the container's; its debug
/// records keep going where rt's go (runc's init forwards them to runc):
/// to the --log file, or to a close-on-exec duplicate of rt's stderr taken
/// here, before the swap. Nothing to do unless --debug is on.
pub fn keep_stderr_for_init() {
    if log::max_level() < log::LevelFilter::Debug {
        return;
    }
    let Ok(mut guard) = SINK.lock() else { return };
    let Some(sink) = guard.as_mut().filter(|s| s.file.is_none()) else {
        return;
    };
    // SAFETY: F_DUPFD_CLOEXEC makes a new fd (>= 3) for our stderr; we own it.
    let fd = unsafe { libc::fcntl(2, libc::F_DUPFD_CLOEXEC, 3) };
    if fd >= 0 {
        // SAFETY: `fd` is fresh and owned by nothing else.
        sink.file = Some(unsafe { <File as std::os::fd::FromRawFd>::from_raw_fd(fd) });
        sink.stderr_copy = true;
    }
}

/// The init of `create` waits for `start` long after rt exited: it must
/// not keep rt's stderr open meanwhile (a caller reading it to EOF would
/// wait for `start`). Its later records are dropped, as runc's are once
/// runc stops forwarding them; a --log file keeps getting them.
pub fn release_stderr_copy() {
    let Ok(mut guard) = SINK.lock() else { return };
    if let Some(sink) = guard.as_mut().filter(|s| s.stderr_copy) {
        sink.file = None;
        sink.stderr_copy = false;
        log::set_max_level(log::LevelFilter::Off);
    }
}

/// True when records go to a file rather than stderr: the CLI then also
/// prints the final error on stderr, as runc does.
pub fn logs_to_file() -> bool {
    SINK.lock()
        .map(|s| s.as_ref().is_some_and(|s| s.file.is_some()))
        .unwrap_or(false)
}

/// The record format chosen by --log-format (text before `init`).
pub fn format() -> Format {
    SINK.lock()
        .map(|s| s.as_ref().map_or(Format::Text, |s| s.format))
        .unwrap_or(Format::Text)
}

/// RFC 3339 UTC timestamp with nanoseconds, computed without a time crate.
pub fn rfc3339_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(now.as_secs() as i64, now.subsec_nanos())
}

pub fn rfc3339(secs: i64, nanos: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if mo <= 2 { 1 } else { 0 };
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:{s:02}.{nanos:09}Z")
}

fn level_name(level: log::Level) -> &'static str {
    match level {
        log::Level::Error => "error",
        log::Level::Warn => "warning",
        log::Level::Info => "info",
        log::Level::Debug => "debug",
        log::Level::Trace => "trace",
    }
}

/// One record, formatted for the sink.
pub fn format_record(format: Format, level: log::Level, msg: &str) -> String {
    match format {
        Format::Json => {
            let v = serde_json::json!({
                "level": level_name(level),
                "msg": msg,
                "time": rfc3339_now(),
            });
            format!("{v}\n")
        }
        Format::Text => format!(
            "time=\"{}\" level={} msg={:?}\n",
            rfc3339_now(),
            level_name(level),
            msg
        ),
    }
}

impl log::Log for Logger {
    fn enabled(&self, meta: &log::Metadata) -> bool {
        meta.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let Ok(mut guard) = SINK.lock() else { return };
        let Some(sink) = guard.as_mut() else { return };
        let line = format_record(sink.format, record.level(), &record.args().to_string());
        match sink.file.as_mut() {
            Some(f) => {
                let _ = f.write_all(line.as_bytes());
            }
            None => {
                let _ = std::io::stderr().write_all(line.as_bytes());
            }
        }
    }

    fn flush(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_dates() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(rfc3339(951_782_400, 5), "2000-02-29T00:00:00.000000005Z");
        assert_eq!(rfc3339(1_798_761_599, 0), "2026-12-31T23:59:59.000000000Z");
    }

    #[test]
    fn json_record_has_runc_shape() {
        let line = format_record(Format::Json, log::Level::Error, "boom \"x\"");
        let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
        assert_eq!(v["level"], "error");
        assert_eq!(v["msg"], "boom \"x\"");
        assert!(v["time"].as_str().unwrap().ends_with('Z'));
        assert!(line.ends_with('\n'));
    }
}
