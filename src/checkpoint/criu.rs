//! Running the `criu` binary and turning its failure into an error that
//! says what CRIU said (the "Error (...)" lines of its log), not just an
//! exit status.

use crate::error::{Error, Result};
use std::ffi::CString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The CRIU binary: `criu` from PATH, as runc finds it.
fn binary() -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path)
        .map(|d| d.join("criu"))
        .find(|p| {
            std::fs::metadata(p)
                .map(|m| {
                    m.is_file()
                        && std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o111 != 0
                })
                .unwrap_or(false)
        })
        .ok_or_else(|| {
            Error::new(
                "criu not found in PATH: checkpoint and restore need CRIU (https://criu.org)",
            )
        })
}

/// True when CRIU is installed and `criu check` passes on this kernel (for
/// `features`, which must report only what works: Debian's CRIU 3.17 is
/// installed on hosts whose kernels it cannot dump on). About 30 ms.
pub fn available() -> bool {
    let Ok(bin) = binary() else {
        return false;
    };
    Command::new(bin)
        .arg("check")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// One CRIU invocation: `criu ACTION ARGS`, its log written to `log` (a
/// path CRIU resolves in its work directory, given by the caller in ARGS).
pub struct Invocation {
    pub action: &'static str,
    pub args: Vec<String>,
    pub log: PathBuf,
    /// cgroup.procs files the CRIU process writes itself into before it
    /// execs (restore: the restored tasks are born in the container's
    /// cgroup, as runc moves its `criu swrk` there).
    pub join_cgroups: Vec<PathBuf>,
}

impl Invocation {
    /// Runs CRIU to its end; stdio is ours (restored tasks inherit it).
    pub fn run(&self) -> Result<()> {
        let bin = binary()?;
        let mut cmd = Command::new(&bin);
        cmd.arg(self.action).args(&self.args);
        cmd.args(["-v4", "-o"]).arg(&self.log);
        let procs: Vec<CString> = self
            .join_cgroups
            .iter()
            .map(|p| crate::sys::cpath(p))
            .collect::<Result<_>>()?;
        if !procs.is_empty() {
            // SAFETY: between fork and exec only open/write/close, which
            // are async-signal-safe, on paths prepared before the fork.
            unsafe {
                cmd.pre_exec(move || {
                    for p in &procs {
                        let fd = libc::open(p.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                        if fd < 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                        // "0": the writing process itself.
                        let n = libc::write(fd, b"0".as_ptr().cast(), 1);
                        let err = std::io::Error::last_os_error();
                        libc::close(fd);
                        if n != 1 {
                            return Err(err);
                        }
                    }
                    Ok(())
                });
            }
        }
        log::debug!(
            "running {} {} {}",
            bin.display(),
            self.action,
            self.args.join(" ")
        );
        let status = cmd.status().map_err(|e| {
            Error::from(e).context(format!("run {} {}", bin.display(), self.action))
        })?;
        if status.success() {
            return Ok(());
        }
        let how = match status.code() {
            Some(c) => format!("exit status {c}"),
            None => format!("{status}"),
        };
        Err(Error::new(format!(
            "criu {} failed ({how}){}; log file: {}",
            self.action,
            log_errors(&self.log),
            self.log.display()
        )))
    }
}

/// CRIU's own error lines from its log (the last few), as ": line; line".
fn log_errors(log: &Path) -> String {
    let Ok(text) = std::fs::read_to_string(log) else {
        return String::new();
    };
    let errors: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("Error (") || l.starts_with("Error"))
        .map(|l| l.trim())
        .collect();
    let last = &errors[errors.len().saturating_sub(3)..];
    if last.is_empty() {
        String::new()
    } else {
        format!(": {}", last.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_errors_keeps_the_last_error_lines() {
        let dir = std::env::temp_dir().join(format!("rt-criu-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("dump.log");
        std::fs::write(
            &log,
            "(00.001) Version: 3.17\n(00.002) Error (criu/a.c:1): first\n(00.003) info\n\
             (00.004) Error (criu/b.c:2): Unexpected rt vDSO area bounds\n",
        )
        .unwrap();
        let s = log_errors(&log);
        assert!(
            s.contains("first") && s.contains("Unexpected rt vDSO area bounds"),
            "{s}"
        );
        assert_eq!(log_errors(&dir.join("absent")), "");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
