//! The container process: argv, environment, executable lookup, execve.

use super::user;
use crate::error::{Error, Result};
use crate::sys;
use oci_spec::runtime::Process;
use std::ffi::CString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

pub struct Program {
    path: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
}

impl Program {
    /// The executable, for debug records (the environment may hold secrets).
    pub fn path(&self) -> &std::ffi::CStr {
        &self.path
    }
}

/// Environment of the container process: the spec's, plus HOME from the
/// container's /etc/passwd when the spec does not set it (runc does this).
pub fn environment(p: &Process) -> Vec<String> {
    let mut env: Vec<String> = p.env().clone().unwrap_or_default();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        let home = user::home_of(p.user().uid()).unwrap_or_else(|| "/".into());
        env.push(format!("HOME={home}"));
    }
    env
}

/// Looks `name` up the way execvp and Go's exec.LookPath do, with the
/// error texts Docker and Podman map to exit codes 126/127.
pub fn lookup(name: &str, env: &[String]) -> Result<PathBuf> {
    if name.contains('/') {
        return check_executable(Path::new(name)).map(|_| PathBuf::from(name));
    }
    let path = env
        .iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = Path::new(dir).join(name);
        if let Ok(meta) = std::fs::metadata(&candidate) {
            if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
                return Ok(candidate);
            }
        }
    }
    Err(Error::new(format!(
        "exec: \"{name}\": executable file not found in $PATH"
    )))
}

fn check_executable(p: &Path) -> Result<()> {
    let meta = std::fs::metadata(p).map_err(|e| {
        Error::from(e).context(format!("exec: \"{}\": stat {}", p.display(), p.display()))
    })?;
    if meta.is_dir() {
        return Err(Error::new(format!(
            "exec: \"{}\": is a directory",
            p.display()
        )));
    }
    let c = sys::cpath(p)?;
    // SAFETY: access(2) on a NUL-terminated path.
    if unsafe { libc::access(c.as_ptr(), libc::X_OK) } < 0 {
        return Err(Error::errno(
            format!("exec: \"{}\"", p.display()),
            nix::Error::last(),
        ));
    }
    Ok(())
}

impl Program {
    pub fn resolve(p: &Process) -> Result<Program> {
        let args = p.args().as_deref().unwrap_or(&[]);
        let first = args
            .first()
            .ok_or_else(|| Error::new("process.args: must not be empty"))?;
        let env = environment(p);
        let path =
            lookup(first, &env).map_err(|e| e.context("unable to start container process"))?;
        let to_c = |s: &str| sys::cstr(s);
        Ok(Program {
            path: sys::cpath(&path)?,
            argv: args.iter().map(|a| to_c(a)).collect::<Result<_>>()?,
            envp: env.iter().map(|e| to_c(e)).collect::<Result<_>>()?,
        })
    }

    /// execve; returns only on failure.
    pub fn exec(&self) -> Error {
        let mut argv: Vec<*const libc::c_char> = self.argv.iter().map(|a| a.as_ptr()).collect();
        argv.push(std::ptr::null());
        let mut envp: Vec<*const libc::c_char> = self.envp.iter().map(|e| e.as_ptr()).collect();
        envp.push(std::ptr::null());
        // SAFETY: path, argv and envp are NUL-terminated strings in
        // NULL-terminated arrays that outlive the call.
        unsafe { libc::execve(self.path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
        Error::errno(
            format!("exec {}", self.path.to_string_lossy()),
            nix::Error::last(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_uses_path_and_reports_like_go() {
        let env = vec!["PATH=/nonexistent:/bin:/usr/bin".to_string()];
        assert!(lookup("sh", &env).unwrap().ends_with("sh"));
        let e = lookup("no-such-binary-xyz", &env).unwrap_err().to_string();
        assert_eq!(
            e,
            "exec: \"no-such-binary-xyz\": executable file not found in $PATH"
        );
        let e = lookup("/no/such", &env).unwrap_err().to_string();
        assert!(e.contains("no such file or directory"), "{e}");
    }
}
