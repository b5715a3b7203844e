//! Running a command with its stdout/stderr in files and a deadline.
//!
//! Files, not pipes: a detached container inherits the runtime's stdio, so a
//! pipe would stay open (and a reader would block) as long as it lives.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long one runtime invocation may take before the test fails.
pub fn default_timeout() -> Duration {
    let secs = std::env::var("RT_ITEST_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    Duration::from_secs(secs)
}

#[derive(Debug)]
pub struct Output {
    pub argv: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub stdout_path: PathBuf,
}

impl Output {
    pub fn code(&self) -> Option<i32> {
        use std::os::unix::process::ExitStatusExt;
        self.status
            .code()
            .or_else(|| self.status.signal().map(|s| 128 + s))
    }

    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// Panics with the full output unless the command exited 0.
    pub fn ok(&self) -> &Self {
        assert!(
            self.success(),
            "expected success: {}\nstatus {:?}\nstdout:\n{}\nstderr:\n{}",
            self.argv,
            self.status,
            self.stdout,
            self.stderr
        );
        self
    }

    /// Panics unless the command exited with `code`.
    pub fn fails_with(&self, code: i32) -> &Self {
        assert_eq!(
            self.code(),
            Some(code),
            "exit status of {}\nstdout:\n{}\nstderr:\n{}",
            self.argv,
            self.stdout,
            self.stderr
        );
        self
    }

    pub fn stderr_has(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "stderr of {} lacks {needle:?}:\n{}",
            self.argv,
            self.stderr
        );
        self
    }

    /// Stdout as written so far (a created container writes here after start).
    pub fn stdout_now(&self) -> String {
        fs::read_to_string(&self.stdout_path).unwrap_or_default()
    }
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// Runs `cmd` with stdout/stderr redirected into files under `dir`, stdin
/// from /dev/null unless the caller set it, and kills it after `timeout`.
pub fn run_logged(mut cmd: Command, dir: &Path, timeout: Duration) -> Output {
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let out_path = dir.join(format!("out-{n}.stdout"));
    let err_path = dir.join(format!("out-{n}.stderr"));
    let argv = format!("{cmd:?}");
    cmd.stdout(File::create(&out_path).unwrap());
    cmd.stderr(File::create(&err_path).unwrap());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot spawn {argv}: {e}"));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "timed out after {timeout:?}: {argv}\nstderr:\n{}",
                fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    Output {
        argv,
        status,
        stdout: fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: fs::read_to_string(&err_path).unwrap_or_default(),
        stdout_path: out_path,
    }
}

/// A command whose stdin is /dev/null (the runtime must not read the test's).
pub fn command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new(program);
    cmd.stdin(Stdio::null());
    cmd
}

/// Polls `check` until it returns true or `timeout` passes.
pub fn wait_until(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
