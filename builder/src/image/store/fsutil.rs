//! Small filesystem helpers: atomic writes and an exclusive file lock.

use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A name unique to this process and call, for temp files and dirs.
pub fn unique_name(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    format!("{prefix}-{}-{n}-{t:08x}", std::process::id())
}

/// True when `pid` is a live process (a zombie counts as dead: a builder
/// killed under a PID 1 that does not reap stays a zombie).
pub fn pid_alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// Writes `data` to a temp file next to `path`, syncs it and renames it
/// over `path`: readers see the old or the new content, never a mix.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<(), String> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".{}", unique_name("tmp")));
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!("writing {}: {e}", path.display()));
    }
    Ok(())
}

/// A `flock` on a lock file, held until dropped.
pub struct Lock {
    _file: File,
}

/// How [`Lock::take`] locks.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// Exclusive, waiting for other holders.
    Exclusive,
    /// Exclusive, or nothing when someone holds the lock.
    ExclusiveIfFree,
    /// Shared with other shared holders, waiting for an exclusive one.
    Shared,
}

impl Lock {
    /// An exclusive lock on `path` (created if missing), waiting for it.
    pub fn acquire(path: &Path) -> Result<Lock, String> {
        Lock::take(path, LockMode::Exclusive)?
            .ok_or_else(|| format!("locking {}: not taken", path.display()))
    }

    /// A lock on `path` (created if missing); `None` only for
    /// [`LockMode::ExclusiveIfFree`] when the lock is held elsewhere.
    pub fn take(path: &Path, mode: LockMode) -> Result<Option<Lock>, String> {
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let op = match mode {
            LockMode::Exclusive => libc::LOCK_EX,
            LockMode::ExclusiveIfFree => libc::LOCK_EX | libc::LOCK_NB,
            LockMode::Shared => libc::LOCK_SH,
        };
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(file.as_raw_fd(), op) } != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
                return Ok(None);
            }
            return Err(format!("locking {}: {e}", path.display()));
        }
        Ok(Some(Lock { _file: file }))
    }
}

/// A directory removed (recursively) when dropped unless kept.
pub struct TempDir {
    pub path: PathBuf,
    keep: bool,
}

impl TempDir {
    pub fn new(parent: &Path, prefix: &str) -> Result<TempDir, String> {
        let path = parent.join(unique_name(prefix));
        std::fs::create_dir_all(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(TempDir { path, keep: false })
    }

    /// Keeps the directory (it was renamed into place).
    pub fn keep(mut self) -> PathBuf {
        self.keep = true;
        self.path.clone()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = remove_tree(&self.path);
        }
    }
}

/// `rm -rf` that also works on directories we made read-only.
pub fn remove_tree(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
        Ok(m) if m.is_dir() => match std::fs::remove_dir_all(path) {
            Ok(()) => Ok(()),
            Err(_) => {
                make_writable(path);
                std::fs::remove_dir_all(path)
            }
        },
        Ok(_) => std::fs::remove_file(path),
    }
}

fn make_writable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(m) = std::fs::symlink_metadata(path)
        && m.is_dir()
    {
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700));
        if let Ok(rd) = std::fs::read_dir(path) {
            for e in rd.flatten() {
                make_writable(&e.path());
            }
        }
    }
}
