//! A container's directory under `--root`, and the rules that make
//! concurrent commands see a container either whole or absent:
//!
//! - every command that reads or changes a container holds an exclusive
//!   flock on its directory, and reads the record only once it holds it,
//!   through the locked directory fd (so a directory removed while we
//!   waited reads as absent, not as a missing file);
//! - `state.json` is only ever replaced whole (temp file + rename) or
//!   removed, and removing a container unlinks its records first: their
//!   presence is what "the container exists" means;
//! - `create` writes a first record, `creating.json`, before it makes
//!   anything outside this directory, so a killed create is still visible
//!   to `list` and removable by `delete --force`. It is a file of its own,
//!   removed once `state.json` exists: renaming `state.json` over it would
//!   make ext4 flush the new file's data (auto_da_alloc), a cost on every
//!   create.

use super::{CREATING_FILE, ContainerState, STATE_FILE, Status, status_of, validate_id};
use crate::error::{Context, Error, Result};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// An open container directory, locked for the lifetime of this value
/// (flock is released when the fd closes, also when rt dies).
pub struct ContainerDir {
    pub path: PathBuf,
    lock: File,
}

/// What is found under `--root` for an id, looked at under its lock.
pub enum Lookup {
    /// A container with its state record.
    Found(ContainerDir, Box<ContainerState>),
    /// No such container (never was, or removed, also while we waited).
    Absent,
    /// A directory without a record: a `create` killed between reserving
    /// the id and writing its first record. Nothing else was made yet.
    Unfinished(ContainerDir),
}

pub fn does_not_exist(id: &str) -> Error {
    // runc's words, which callers match.
    Error::new(format!("container does not exist: {id}"))
}

impl ContainerDir {
    /// Reserves a new container directory; fails if the id is taken.
    pub fn create(root: &Path, id: &str) -> Result<ContainerDir> {
        validate_id(id)?;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o711)
            .create(root)
            .with_ctx(|| format!("create state root {}", root.display()))?;
        let path = root.join(id);
        match std::fs::DirBuilder::new().mode(0o711).create(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::new(format!("container with id exists: {id}")));
            }
            Err(e) => return Err(Error::from(e).context(format!("create {}", path.display()))),
        }
        let lock = open_dir(&path).with_ctx(|| format!("open {}", path.display()))?;
        Self::lock_reserved(path, lock, id)
    }

    /// Locks the directory `create` made and opened, and makes sure it is
    /// still ours. Until the lock is held, a `delete --force` of the same
    /// id sees a directory without a record (as a killed create leaves
    /// one) and may remove it, and another `create` may then make a new
    /// one at the path: the directory locked must still be the one at the
    /// path, and hold no record.
    fn lock_reserved(path: PathBuf, lock: File, id: &str) -> Result<ContainerDir> {
        flock(&lock, &path)?;
        let dir = ContainerDir { path, lock };
        if !dir.still_at_path() {
            return Err(Error::new(format!(
                "create {id}: {} was removed by another command before it could be locked",
                dir.path.display()
            )));
        }
        if dir.read_record()?.is_some() {
            return Err(Error::new(format!("container with id exists: {id}")));
        }
        Ok(dir)
    }

    /// Locks the id's directory and reads its record.
    pub fn lookup(root: &Path, id: &str) -> Result<Lookup> {
        validate_id(id)?;
        let path = root.join(id);
        let lock = match open_dir(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Lookup::Absent),
            Err(e) => return Err(Error::from(e).context(format!("open {}", path.display()))),
        };
        flock(&lock, &path)?;
        let dir = ContainerDir { path, lock };
        match dir.read_record()? {
            Some(st) => Ok(Lookup::Found(dir, Box::new(st))),
            // Removed while we waited for the lock (or replaced by a new
            // directory of the same name, which is another container).
            None if !dir.still_at_path() => Ok(Lookup::Absent),
            None => Ok(Lookup::Unfinished(dir)),
        }
    }

    /// Opens and locks an existing container and reads its state; a
    /// container that is absent, or was removed while we waited for the
    /// lock, "does not exist".
    pub fn open(root: &Path, id: &str) -> Result<(ContainerDir, ContainerState)> {
        match Self::lookup(root, id)? {
            Lookup::Found(dir, st) => Ok((dir, *st)),
            Lookup::Absent | Lookup::Unfinished(_) => Err(does_not_exist(id)),
        }
    }

    /// `state.json` read through the directory fd; None if there is none.
    fn read_record(&self) -> Result<Option<ContainerState>> {
        read_record_at(&self.lock, &self.path)
    }

    /// True if `self.path` still names the directory we locked.
    fn still_at_path(&self) -> bool {
        match (self.lock.metadata(), std::fs::symlink_metadata(&self.path)) {
            (Ok(ours), Ok(now)) => ours.dev() == now.dev() && ours.ino() == now.ino(),
            _ => false,
        }
    }

    /// Writes state.json atomically (temp file + rename).
    pub fn save(&self, st: &ContainerState) -> Result<()> {
        let text = serde_json::to_vec(st).map_err(|e| Error::new(e.to_string()))?;
        write_atomic(&self.path.join(STATE_FILE), &text, 0o600)
    }

    /// Writes `creating.json`, the record of a create under way, in one
    /// write to a new file (no temp file and rename: readers that see it
    /// torn hold no lock, and skip it). A create killed before the write
    /// leaves it empty, which reads as no record: nothing was made yet.
    pub fn save_intent(&self, st: &ContainerState) -> Result<()> {
        let text = serde_json::to_vec(st).map_err(|e| Error::new(e.to_string()))?;
        let p = self.path.join(CREATING_FILE);
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC)
            .open(&p)
            .and_then(|mut f| f.write_all(&text))
            .with_ctx(|| format!("write {}", p.display()))
    }

    /// Removes `creating.json` once `state.json` replaces it.
    pub fn remove_intent(&self) -> Result<()> {
        let p = self.path.join(CREATING_FILE);
        std::fs::remove_file(&p).with_ctx(|| format!("remove {}", p.display()))
    }

    /// The fd holding the lock. A cloned child shares it, so the init must
    /// close it, or the lock outlives `create`.
    pub fn lock_fd(&self) -> std::os::fd::RawFd {
        self.lock.as_raw_fd()
    }

    pub fn fifo_path(&self) -> PathBuf {
        self.path.join(super::EXEC_FIFO)
    }

    /// Removes the directory and everything in it. The records go first
    /// (the one `state.json` overrides first): from then on every reader,
    /// locked or not, finds no container.
    pub fn remove(self) -> Result<()> {
        for name in [CREATING_FILE, STATE_FILE] {
            let record = self.path.join(name);
            match std::fs::remove_file(&record) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(Error::from(e).context(format!("remove {}", record.display())));
                }
            }
        }
        match std::fs::remove_dir_all(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::from(e).context(format!("remove {}", self.path.display()))),
        }
    }
}

fn open_dir(path: &Path) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(path)
}

fn flock(f: &File, path: &Path) -> Result<()> {
    loop {
        // SAFETY: flock on an fd we own; no memory is involved.
        let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
        if rc == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(Error::from(e).context(format!("lock {}", path.display())));
        }
    }
}

/// True if another process holds the directory's lock right now.
fn is_locked(f: &File) -> bool {
    // SAFETY: flock on an fd we own. A lock we get is released below (and
    // with the fd anyway).
    let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        // SAFETY: as above.
        unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_UN) };
        return false;
    }
    std::io::Error::last_os_error().raw_os_error() == Some(libc::EWOULDBLOCK)
}

/// The container's record: `state.json`, else the `creating.json` of a
/// create under way or killed (`creating` set). None if there is neither,
/// or only a torn `creating.json` (see `save_intent`).
fn read_record_at(dir: &File, path: &Path) -> Result<Option<ContainerState>> {
    if let Some(text) = read_at(dir, path, STATE_FILE)? {
        let st = serde_json::from_slice(&text)
            .map_err(|e| Error::new(format!("{}: {e}", path.join(STATE_FILE).display())))?;
        return Ok(Some(st));
    }
    let Some(text) = read_at(dir, path, CREATING_FILE)? else {
        return Ok(None);
    };
    Ok(serde_json::from_slice::<ContainerState>(&text)
        .ok()
        .map(|st| ContainerState {
            creating: true,
            ..st
        }))
}

/// The content of `name` in the directory `dir` (at `path`), None if absent.
fn read_at(dir: &File, path: &Path, name: &str) -> Result<Option<Vec<u8>>> {
    let p = path.join(name);
    let cname = crate::sys::cstr(name.as_bytes())?;
    let fd = match crate::sys::openat(dir.as_raw_fd(), &cname, libc::O_RDONLY, 0) {
        Ok(fd) => fd,
        Err(nix::Error::ENOENT) => return Ok(None),
        Err(e) => return Err(Error::errno(format!("open {}", p.display()), e)),
    };
    let mut text = Vec::new();
    File::from(fd)
        .read_to_end(&mut text)
        .with_ctx(|| format!("read {}", p.display()))?;
    Ok(Some(text))
}

/// Writes `data` to `path` via a temp file in the same directory and a
/// rename, so readers see the old or the new content, never a torn one.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(libc::O_CLOEXEC)
        .open(&tmp)
        .with_ctx(|| format!("create {}", tmp.display()))?;
    let res = f.write_all(data).and_then(|_| std::fs::rename(&tmp, path));
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::from(e).context(format!("write {}", path.display())));
    }
    Ok(())
}

/// Lists the ids under the state root that have a record.
pub fn list_ids(root: &Path) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    let rd = match std::fs::read_dir(root) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ids),
        Err(e) => return Err(Error::from(e).context(format!("read {}", root.display()))),
    };
    for entry in rd.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let dir = entry.path();
        if dir.join(STATE_FILE).exists() || dir.join(CREATING_FILE).exists() {
            ids.push(name);
        }
    }
    ids.sort();
    Ok(ids)
}

/// One container's record and status for `list`, read without waiting for
/// its lock, so `list` never blocks behind a create, start or delete. The
/// record is replaced whole or removed, never torn; None if it is gone.
/// A `creating` record is "creating" while its create holds the lock and
/// "stopped" once that create is gone (killed: `delete` cleans it up).
pub fn peek(root: &Path, id: &str) -> Option<(ContainerState, Status)> {
    let path = root.join(id);
    let dir = open_dir(&path).ok()?;
    let st = read_record_at(&dir, &path).ok()??;
    let status = if st.creating {
        if is_locked(&dir) {
            Status::Creating
        } else {
            Status::Stopped
        }
    } else {
        status_of(&path, &st)
    };
    Some((st, status))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn temp_root(tag: &str) -> PathBuf {
        let root = std::env::temp_dir().join(format!("rt-state-test-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        root
    }

    fn record(id: &str, pid: i32) -> ContainerState {
        ContainerState {
            id: id.into(),
            pid,
            ..Default::default()
        }
    }

    #[test]
    fn create_twice_fails_and_open_missing_says_does_not_exist() {
        let root = temp_root("basic");
        let d = ContainerDir::create(&root, "c1").unwrap();
        d.save(&record("c1", 42)).unwrap();
        let e = ContainerDir::create(&root, "c1").err().unwrap();
        assert_eq!(e.to_string(), "container with id exists: c1");
        drop(d);
        let (d, st) = ContainerDir::open(&root, "c1").unwrap();
        assert_eq!(st.pid, 42);
        assert_eq!(list_ids(&root).unwrap(), vec!["c1".to_string()]);
        d.remove().unwrap();
        let e = ContainerDir::open(&root, "c1").err().unwrap();
        assert_eq!(e.to_string(), "container does not exist: c1");
        std::fs::remove_dir_all(&root).unwrap();
    }

    /// A command that waited for the lock while another removed the
    /// container finds it absent, not a missing state.json.
    #[test]
    fn removed_while_waiting_for_the_lock_does_not_exist() {
        let root = temp_root("wait");
        let d = ContainerDir::create(&root, "c2").unwrap();
        d.save(&record("c2", 1)).unwrap();
        let waiter = {
            let root = root.clone();
            std::thread::spawn(move || ContainerDir::open(&root, "c2").map(|_| ()))
        };
        // Give the waiter time to open the directory and block on the lock.
        std::thread::sleep(Duration::from_millis(100));
        d.remove().unwrap();
        let e = waiter.join().unwrap().unwrap_err();
        assert_eq!(e.to_string(), "container does not exist: c2");
        assert!(matches!(
            ContainerDir::lookup(&root, "c2").unwrap(),
            Lookup::Absent
        ));
        std::fs::remove_dir_all(&root).unwrap();
    }

    /// A `delete --force` that locks a new directory before its `create`
    /// does (it sees no record, as of a killed create) and removes it
    /// makes that create fail, and leaves nothing behind.
    #[test]
    fn create_whose_directory_was_removed_before_the_lock_fails() {
        let root = temp_root("reserved-removed");
        let path = root.join("c6");
        std::fs::create_dir_all(&path).unwrap();
        let opened = open_dir(&path).unwrap();
        match ContainerDir::lookup(&root, "c6").unwrap() {
            Lookup::Unfinished(d) => d.remove().unwrap(),
            _ => panic!("expected an unfinished directory"),
        }
        let e = ContainerDir::lock_reserved(path.clone(), opened, "c6")
            .err()
            .unwrap();
        assert!(
            e.to_string()
                .contains("was removed by another command before it could be locked"),
            "{e}"
        );
        assert!(!path.exists());
        // The same, when another create has made the id's directory anew
        // meanwhile: that container is left alone.
        std::fs::create_dir_all(&path).unwrap();
        let opened = open_dir(&path).unwrap();
        match ContainerDir::lookup(&root, "c6").unwrap() {
            Lookup::Unfinished(d) => d.remove().unwrap(),
            _ => panic!("expected an unfinished directory"),
        }
        let other = ContainerDir::create(&root, "c6").unwrap();
        other.save(&record("c6", 9)).unwrap();
        drop(other);
        assert!(ContainerDir::lock_reserved(path.clone(), opened, "c6").is_err());
        let (d, st) = ContainerDir::open(&root, "c6").unwrap();
        assert_eq!(st.pid, 9);
        drop(d);
        std::fs::remove_dir_all(&root).unwrap();
    }

    /// A create that opened the id's directory only after another create
    /// had made it anew waits for that create's lock, then finds its
    /// record: the id is taken.
    #[test]
    fn create_that_locked_another_creates_directory_fails() {
        let root = temp_root("reserved-taken");
        let other = ContainerDir::create(&root, "c7").unwrap();
        other.save(&record("c7", 11)).unwrap();
        let path = root.join("c7");
        let opened = open_dir(&path).unwrap();
        drop(other);
        let e = ContainerDir::lock_reserved(path.clone(), opened, "c7")
            .err()
            .unwrap();
        assert_eq!(e.to_string(), "container with id exists: c7");
        let (d, st) = ContainerDir::open(&root, "c7").unwrap();
        assert_eq!(st.pid, 11);
        drop(d);
        std::fs::remove_dir_all(&root).unwrap();
    }

    /// A reserved directory without a record (a create killed early) is
    /// "unfinished": open says it does not exist, lookup hands it over.
    #[test]
    fn directory_without_record_is_unfinished() {
        let root = temp_root("unfinished");
        drop(ContainerDir::create(&root, "c3").unwrap());
        let e = ContainerDir::open(&root, "c3").err().unwrap();
        assert_eq!(e.to_string(), "container does not exist: c3");
        assert!(list_ids(&root).unwrap().is_empty());
        match ContainerDir::lookup(&root, "c3").unwrap() {
            Lookup::Unfinished(d) => d.remove().unwrap(),
            _ => panic!("expected an unfinished directory"),
        }
        assert!(!root.join("c3").exists());
        // So is one whose create was killed between creating its first
        // record and writing it.
        let d = ContainerDir::create(&root, "c3").unwrap();
        std::fs::write(d.path.join(CREATING_FILE), "").unwrap();
        drop(d);
        assert!(matches!(
            ContainerDir::lookup(&root, "c3").unwrap(),
            Lookup::Unfinished(_)
        ));
        std::fs::remove_dir_all(&root).unwrap();
    }

    /// Between writing state.json and removing creating.json, the full
    /// record is the one that counts.
    #[test]
    fn full_record_overrides_the_first() {
        let root = temp_root("override");
        let d = ContainerDir::create(&root, "c5").unwrap();
        d.save_intent(&record("c5", 0)).unwrap();
        d.save(&record("c5", 7)).unwrap();
        drop(d);
        let (d, st) = ContainerDir::open(&root, "c5").unwrap();
        assert_eq!(st.pid, 7);
        assert!(!st.creating);
        d.remove_intent().unwrap();
        d.remove().unwrap();
        assert!(!root.join("c5").exists());
        std::fs::remove_dir_all(&root).unwrap();
    }

    /// A `creating` record reads as "creating" while its create holds the
    /// lock, and as "stopped" once that create is gone.
    #[test]
    fn creating_record_is_creating_only_while_locked() {
        let root = temp_root("creating");
        let d = ContainerDir::create(&root, "c4").unwrap();
        d.save_intent(&record("c4", 0)).unwrap();
        let (seen, status) = peek(&root, "c4").unwrap();
        assert!(seen.creating);
        assert_eq!(status, Status::Creating);
        drop(d);
        assert_eq!(peek(&root, "c4").unwrap().1, Status::Stopped);
        let (d, _) = ContainerDir::open(&root, "c4").unwrap();
        d.remove().unwrap();
        assert!(peek(&root, "c4").is_none());
        std::fs::remove_dir_all(&root).unwrap();
    }
}
