//! OOM-kill notifications for `events`, where runc gets them:
//! * cgroup v1: an eventfd registered for the memory cgroup's
//!   `memory.oom_control` through `cgroup.event_control`; the kernel adds
//!   one to it per OOM event, and signals it once more when the cgroup is
//!   removed.
//! * cgroup v2: `memory.events` watched with inotify; its `oom_kill`
//!   counter says how many processes the OOM killer took.

use super::Placement;
use crate::error::{Context, Error, Result};
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::PathBuf;

pub struct OomWatcher {
    fd: OwnedFd,
    source: Source,
}

enum Source {
    /// The eventfd's cgroup directory, and the open `memory.oom_control`
    /// that must stay open while the registration lives.
    V1 { dir: PathBuf, _control: File },
    /// `memory.events`, and the oom_kill count last seen.
    V2 { events: PathBuf, seen: u64 },
}

/// What the watcher saw since it was last asked.
#[derive(Debug, PartialEq, Eq)]
pub struct Seen {
    pub ooms: u64,
    /// The cgroup is gone (v1: the eventfd fired for its removal).
    pub cgroup_removed: bool,
}

impl OomWatcher {
    /// A watcher on the container's memory cgroup; None when it has none
    /// (no memory controller in its hierarchies).
    pub fn new(p: &Placement) -> Result<Option<OomWatcher>> {
        if let Some(d) = p
            .dirs
            .iter()
            .find(|d| !d.v2 && d.controllers.iter().any(|c| c == "memory"))
        {
            return Self::v1(d.full()).map(Some);
        }
        match p.unified().map(|d| d.join("memory.events")) {
            Some(events) if events.exists() => Self::v2(events).map(Some),
            _ => Ok(None),
        }
    }

    fn v1(dir: PathBuf) -> Result<OomWatcher> {
        let control_path = dir.join("memory.oom_control");
        let control =
            File::open(&control_path).with_ctx(|| format!("open {}", control_path.display()))?;
        // SAFETY: eventfd takes two integers and returns a new fd or -1.
        let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if raw < 0 {
            return Err(Error::errno(
                "eventfd for OOM notifications",
                nix::Error::last(),
            ));
        }
        // SAFETY: a fresh fd that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let register = dir.join("cgroup.event_control");
        std::fs::write(
            &register,
            format!("{} {}", fd.as_raw_fd(), control.as_raw_fd()),
        )
        .with_ctx(|| format!("register OOM eventfd in {}", register.display()))?;
        Ok(OomWatcher {
            fd,
            source: Source::V1 {
                dir,
                _control: control,
            },
        })
    }

    fn v2(events: PathBuf) -> Result<OomWatcher> {
        // SAFETY: inotify_init1 takes flags and returns a new fd or -1.
        let raw = unsafe { libc::inotify_init1(libc::IN_CLOEXEC | libc::IN_NONBLOCK) };
        if raw < 0 {
            return Err(Error::errno(
                "inotify for OOM notifications",
                nix::Error::last(),
            ));
        }
        // SAFETY: a fresh fd that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let path = crate::sys::cpath(&events)?;
        // SAFETY: `path` is a NUL-terminated string that outlives the call.
        if unsafe { libc::inotify_add_watch(fd.as_raw_fd(), path.as_ptr(), libc::IN_MODIFY) } < 0 {
            return Err(Error::errno(
                format!("watch {}", events.display()),
                nix::Error::last(),
            ));
        }
        let seen = oom_kill_count(&events).unwrap_or(0);
        Ok(OomWatcher {
            fd,
            source: Source::V2 { events, seen },
        })
    }

    /// Becomes readable when there may be something new.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// New OOM kills since the last call, without blocking.
    pub fn take(&mut self) -> Seen {
        let mut buf = [0u8; 4096];
        let mut drained = Vec::new();
        loop {
            // SAFETY: reading into a buffer we own, of its length.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                break;
            }
            drained.extend_from_slice(&buf[..n as usize]);
        }
        match &mut self.source {
            Source::V1 { dir, .. } => {
                // The eventfd counter: 8 bytes, native endian.
                let count = drained
                    .get(..8)
                    .map_or(0, |b| u64::from_ne_bytes(b.try_into().unwrap_or_default()));
                let removed = !dir.join("cgroup.event_control").exists();
                Seen {
                    // The signal for the removal is no OOM.
                    ooms: if removed {
                        count.saturating_sub(1)
                    } else {
                        count
                    },
                    cgroup_removed: removed,
                }
            }
            Source::V2 { events, seen } => match oom_kill_count(events) {
                Some(now) => {
                    let new = now.saturating_sub(*seen);
                    *seen = now;
                    Seen {
                        ooms: new,
                        cgroup_removed: false,
                    }
                }
                None => Seen {
                    ooms: 0,
                    cgroup_removed: true,
                },
            },
        }
    }
}

/// `oom_kill N` of a memory.events file.
fn oom_kill_count(events: &std::path::Path) -> Option<u64> {
    let mut text = String::new();
    File::open(events).ok()?.read_to_string(&mut text).ok()?;
    parse_oom_kill(&text)
}

fn parse_oom_kill(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_events_oom_kill_counter() {
        let text = "low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n";
        assert_eq!(parse_oom_kill(text), Some(2));
        assert_eq!(parse_oom_kill("low 0\n"), None);
    }

    #[test]
    fn v2_watcher_counts_new_kills_only() {
        let dir = std::env::temp_dir().join(format!("rt-oom-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let events = dir.join("memory.events");
        std::fs::write(&events, "oom 1\noom_kill 1\n").unwrap();
        let mut w = OomWatcher::v2(events.clone()).unwrap();
        assert_eq!(
            w.take(),
            Seen {
                ooms: 0,
                cgroup_removed: false
            }
        );
        std::fs::write(&events, "oom 4\noom_kill 3\n").unwrap();
        assert_eq!(
            w.take(),
            Seen {
                ooms: 2,
                cgroup_removed: false
            }
        );
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            w.take(),
            Seen {
                ooms: 0,
                cgroup_removed: true
            }
        );
    }
}
