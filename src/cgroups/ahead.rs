//! The container's v1 cgroup directories, made while clone3 builds the
//! init's namespaces.
//!
//! With `CgroupEntry::SelfWhenReady` the init waits, at its first cgroup
//! mount, until the parent has made the container's directory in every v1
//! hierarchy (a cpuset one gets its parent's cpus and mems) and opened the
//! `tasks` files the init joins through. Done after clone3 returns, that
//! took the parent longer than the init's own mounts, and the init waited
//! about 0.25 ms. A `raw_thread` does the work instead, from the moment
//! the container's intent (which names the directories) is on record,
//! through the rest of the parent's preparations and the clone, for the
//! common case only: a directory whose parent exists and which did not
//! exist. What it did not do, `Placement::create_dirs_after` does as
//! `create_dirs` always has, so errors read the same and every directory
//! rt made is recorded for removal.
//!
//! The same holds for an init with a user namespace
//! (`CgroupEntry::ByParent`): it waits for Go, which follows the
//! directories and their limits, and then joins through the same files.

use super::{CgroupDir, Placement};
use crate::raw_thread::{Running, Slot, sys4};
use std::ffi::CString;
use std::os::fd::{FromRawFd, OwnedFd};

/// The helper's stack: its frames are small, the kernel's work runs on the
/// kernel stack.
static HELPER: Slot<STACK> = Slot::new();
const STACK: usize = 16 * 1024;

/// Largest cpuset.cpus / cpuset.mems the helper copies; longer lists are
/// left to the parent's own copy.
const CPUSET_MAX: usize = 4096;

/// One v1 directory: paths made before the thread starts (it may not
/// allocate) and what it did.
struct DirJob {
    /// Index in `Placement::dirs`.
    index: usize,
    dir: CString,
    /// (parent's file, ours) for cpuset.cpus and cpuset.mems.
    cpuset: Option<[(CString, CString); 2]>,
    tasks: CString,
    /// mkdirat's result: 0 or a negative errno.
    made: isize,
    cpuset_copied: bool,
    /// The opened `tasks` file, or a negative errno.
    tasks_fd: isize,
}

#[derive(Default)]
struct Job {
    dirs: Vec<DirJob>,
}

/// The helper at work; `finish_into` (or Drop) waits for it.
pub struct Ahead {
    running: Running<Job, STACK>,
}

/// What the helper did, per entry of `Placement::dirs`.
#[derive(Default)]
pub struct Done {
    dirs: Vec<DirDone>,
}

#[derive(Default)]
enum DirDone {
    /// Left to the parent.
    #[default]
    Nothing,
    /// Made here (and its cpuset filled when `cpuset_copied`).
    Made {
        cpuset_copied: bool,
        tasks: Option<OwnedFd>,
    },
}

impl Ahead {
    /// Starts the helper on `placement`'s v1 directories, or None when it
    /// cannot run (another one still does, or no thread could be started).
    pub fn start(placement: &Placement) -> Option<Ahead> {
        let mut dirs = Vec::new();
        for (index, d) in placement.dirs.iter().enumerate() {
            if d.v2 {
                continue;
            }
            dirs.push(plan_dir(index, d)?);
        }
        if dirs.is_empty() {
            return None;
        }
        let running = Running::start(&HELPER, Job { dirs }).ok()?;
        Some(Ahead { running })
    }

    /// Waits for the helper and records in `placement` the directories
    /// it made, so that they are removed with the rest whatever happens
    /// next; returns what it did for `create_dirs_after`.
    pub fn finish_into(self, placement: &mut Placement) -> Done {
        let job = self.running.finish();
        let mut done = Done::default();
        done.dirs
            .resize_with(placement.dirs.len(), Default::default);
        for j in job.dirs {
            if j.made != 0 {
                continue;
            }
            placement.created.push(placement.dirs[j.index].full());
            // SAFETY: a file the helper opened and handed over to us.
            let tasks =
                (j.tasks_fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(j.tasks_fd as i32) });
            done.dirs[j.index] = DirDone::Made {
                cpuset_copied: j.cpuset_copied,
                tasks,
            };
        }
        done
    }
}

fn plan_dir(index: usize, d: &CgroupDir) -> Option<DirJob> {
    let full = d.full();
    let c = |p: std::path::PathBuf| CString::new(p.into_os_string().into_encoded_bytes()).ok();
    let parent = full.parent()?.to_path_buf();
    let cpuset = if d.has("cpuset") {
        let pair = |f: &str| Some((c(parent.join(f))?, c(full.join(f))?));
        Some([pair("cpuset.cpus")?, pair("cpuset.mems")?])
    } else {
        None
    };
    Some(DirJob {
        index,
        dir: c(full.clone())?,
        cpuset,
        tasks: c(full.join("tasks"))?,
        made: 1,
        cpuset_copied: false,
        tasks_fd: -1,
    })
}

// SAFETY: `run` makes system calls through sys4 only, on the job's own
// paths, buffers and results.
unsafe impl crate::raw_thread::Job for Job {
    /// On the helper thread.
    fn run(&mut self) {
        make(self)
    }
}

/// The helper thread's work: system calls only (see raw_thread).
fn make(job: &mut Job) {
    let mut buf = [0u8; CPUSET_MAX];
    for j in job.dirs.iter_mut() {
        // SAFETY: mkdirat(AT_FDCWD, NUL-terminated absolute path), with
        // the mode std::fs::create_dir gives (cgroupfs ignores it).
        j.made = unsafe {
            sys4(
                libc::SYS_mkdirat,
                libc::AT_FDCWD as usize,
                j.dir.as_ptr() as usize,
                0o777,
                0,
            )
        };
        if j.made != 0 {
            continue;
        }
        j.cpuset_copied = match &j.cpuset {
            Some(files) => files.iter().all(|(from, to)| copy(from, to, &mut buf)),
            None => true,
        };
        if j.cpuset_copied {
            j.tasks_fd = open(&j.tasks, libc::O_WRONLY);
        }
    }
}

/// Copies a cgroup file's list (a new v1 cpuset starts empty and refuses
/// tasks); false if it is empty, too long, or a call fails.
fn copy(from: &CString, to: &CString, buf: &mut [u8; CPUSET_MAX]) -> bool {
    let src = open(from, libc::O_RDONLY);
    if src < 0 {
        return false;
    }
    // SAFETY: read into the job's buffer, at most its length.
    let n = unsafe {
        sys4(
            libc::SYS_read,
            src as usize,
            buf.as_mut_ptr() as usize,
            CPUSET_MAX,
            0,
        )
    };
    close(src);
    if n <= 0 || n as usize >= CPUSET_MAX {
        return false;
    }
    let mut len = n as usize;
    while len > 0 && buf[len - 1].is_ascii_whitespace() {
        len -= 1;
    }
    if len == 0 {
        return false;
    }
    let dst = open(to, libc::O_WRONLY);
    if dst < 0 {
        return false;
    }
    // SAFETY: write of the first `len` bytes of the buffer.
    let w = unsafe { sys4(libc::SYS_write, dst as usize, buf.as_ptr() as usize, len, 0) };
    close(dst);
    w == len as isize
}

fn open(path: &CString, mode: i32) -> isize {
    // SAFETY: openat(AT_FDCWD, NUL-terminated path), close-on-exec.
    unsafe {
        sys4(
            libc::SYS_openat,
            libc::AT_FDCWD as usize,
            path.as_ptr() as usize,
            (mode | libc::O_CLOEXEC) as usize,
            0,
        )
    }
}

fn close(fd: isize) {
    // SAFETY: closes a file this thread opened.
    unsafe { sys4(libc::SYS_close, fd as usize, 0, 0, 0) };
}

impl Done {
    /// The `tasks` file the helper opened for `Placement::dirs[index]`.
    pub fn take_tasks(&mut self, index: usize) -> Option<OwnedFd> {
        match self.dirs.get_mut(index) {
            Some(DirDone::Made { tasks, .. }) => tasks.take(),
            _ => None,
        }
    }
}

impl Placement {
    /// `create_dirs` for what the helper left (`Ahead::finish_into` has
    /// recorded what it made): the v1 directories it did not make, and the
    /// cpusets it could not fill. The cgroup2 one exists already
    /// (`create_unified_dir`, before the clone).
    pub fn create_dirs_after(&mut self, done: &Done) -> crate::error::Result<()> {
        let dirs = self.dirs.clone();
        for (i, d) in dirs.iter().enumerate().filter(|(_, d)| !d.v2) {
            match done.dirs.get(i) {
                Some(DirDone::Made {
                    cpuset_copied: true,
                    ..
                }) => {}
                Some(DirDone::Made { .. }) => {
                    let full = d.full();
                    let parent = full.parent().unwrap_or(&d.mount);
                    super::copy_cpuset(d, parent, &full)?;
                }
                _ => self.create_one(d)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One helper at a time: the tests take turns.
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

    /// The helper makes a directory whose parent exists and leaves one
    /// whose parent is missing; `create_dirs_after` makes that one, parents
    /// first, and every directory made is recorded once, so `remove` takes
    /// them all and nothing that existed before.
    #[test]
    fn helper_and_parent_together_make_and_record_every_directory() {
        let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
        let mount = std::env::temp_dir().join(format!("rt-ahead-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&mount);
        for h in ["pids", "freezer", "unified"] {
            std::fs::create_dir_all(mount.join(h)).unwrap();
        }
        std::fs::create_dir_all(mount.join("freezer/x")).unwrap();
        let dir = |h: &str, path: &str, v2: bool| CgroupDir {
            mount: mount.join(h),
            path: path.into(),
            controllers: if v2 { vec![] } else { vec![h.to_string()] },
            v2,
        };
        let mut p = Placement {
            dirs: vec![
                dir("pids", "/c", false),
                dir("freezer", "/x/y/c", false),
                dir("unified", "/c", true),
            ],
            ..Placement::default()
        };
        std::fs::create_dir(mount.join("unified/c")).unwrap();
        let ahead = Ahead::start(&p).expect("helper started");
        let done = ahead.finish_into(&mut p);
        assert!(matches!(
            done.dirs[0],
            DirDone::Made {
                cpuset_copied: true,
                ..
            }
        ));
        assert!(matches!(done.dirs[1], DirDone::Nothing), "parent missing");
        assert!(
            matches!(done.dirs[2], DirDone::Nothing),
            "cgroup2 not its job"
        );
        assert_eq!(p.created, vec![mount.join("pids/c")]);
        p.create_dirs_after(&done).unwrap();
        assert_eq!(
            p.created,
            vec![
                mount.join("pids/c"),
                mount.join("freezer/x/y"),
                mount.join("freezer/x/y/c")
            ]
        );
        assert!(!HELPER.busy());
        assert!(p.remove());
        assert!(!mount.join("pids/c").exists() && !mount.join("freezer/x/y").exists());
        assert!(mount.join("freezer/x").is_dir(), "existed before");
        std::fs::remove_dir_all(&mount).unwrap();
    }

    /// A directory that exists is not the helper's: it is left to
    /// `create_dirs_after` and not recorded as made.
    #[test]
    fn an_existing_directory_is_not_recorded() {
        let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
        let mount = std::env::temp_dir().join(format!("rt-ahead-exists-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&mount);
        std::fs::create_dir_all(mount.join("pids/c")).unwrap();
        let mut p = Placement {
            dirs: vec![CgroupDir {
                mount: mount.join("pids"),
                path: "/c".into(),
                controllers: vec!["pids".into()],
                v2: false,
            }],
            ..Placement::default()
        };
        let done = Ahead::start(&p).unwrap().finish_into(&mut p);
        assert!(matches!(done.dirs[0], DirDone::Nothing));
        p.create_dirs_after(&done).unwrap();
        assert!(p.created.is_empty());
        std::fs::remove_dir_all(&mount).unwrap();
    }
}
