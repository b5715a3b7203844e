//! The container's new network namespace, made on a helper thread while
//! `create` does its other work.
//!
//! Making a network namespace is most of what clone3 costs (the loopback
//! device, the per-namespace sysctl tables: 0.45 of its 0.7 ms here), and
//! the parent waits for all of it before the init exists. Nothing about the
//! namespace depends on the init: with no user namespace in the container
//! it belongs to rt's own user namespace whoever makes it. So a
//! `raw_thread` makes it with unshare(CLONE_NEWNET) as soon as the spec is
//! loaded, on another CPU, while rt makes the state directory, plans the
//! cgroups and opens the bind sources; the init then joins it with setns,
//! as it joins a namespace given by path, and the clone leaves
//! CLONE_NEWNET out.
//!
//! Not with a user namespace (new or joined): the container's network
//! namespace must belong to it, which only a process inside it can make.
//! Where the thread cannot run or unshare fails, the clone makes the
//! namespace as before, so errors read the same.

use crate::raw_thread::{Running, Slot, sys4};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::os::fd::{FromRawFd, OwnedFd};

/// The helper's stack: two system calls, no frames to speak of.
static HELPER: Slot<STACK> = Slot::new();
const STACK: usize = 8 * 1024;

/// The namespace file of the calling thread, which is the helper's own
/// after its unshare.
const OWN_NETNS: &std::ffi::CStr = c"/proc/thread-self/ns/net";

/// What the helper did: an fd of the new namespace, or a negative errno.
struct Job {
    result: isize,
}

impl Default for Job {
    fn default() -> Self {
        Job {
            result: -(libc::EAGAIN as isize),
        }
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        // An fd nobody took is closed, and with it goes the namespace.
        if self.result >= 0 {
            // SAFETY: the helper's fd, which no one else owns.
            drop(unsafe { OwnedFd::from_raw_fd(self.result as i32) });
        }
    }
}

/// The helper at work; `finish` (or Drop) waits for it.
pub struct NetnsAhead {
    running: Running<Job, STACK>,
}

/// Whether `spec` asks for a network namespace that can be made ahead: a
/// new one (no path), in a container without a user namespace, by root.
pub fn wanted(spec: &Spec) -> bool {
    let namespaces = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_deref())
        .unwrap_or(&[]);
    let new_network = namespaces
        .iter()
        .any(|n| n.typ() == LinuxNamespaceType::Network && n.path().is_none());
    let any_user = namespaces
        .iter()
        .any(|n| n.typ() == LinuxNamespaceType::User);
    new_network && !any_user && crate::rootless::euid_is_root()
}

impl NetnsAhead {
    /// Starts making the namespace for `spec`, or None when it is not
    /// `wanted` or no helper could start.
    pub fn start(spec: &Spec) -> Option<NetnsAhead> {
        if !wanted(spec) {
            return None;
        }
        let running = Running::start(&HELPER, Job::default()).ok()?;
        Some(NetnsAhead { running })
    }

    /// Waits for the helper: the new namespace, or None when it could not
    /// be made (the caller then has the clone make it).
    pub fn finish(self) -> Option<OwnedFd> {
        let mut job = self.running.finish();
        let fd = std::mem::replace(&mut job.result, -(libc::EBADF as isize));
        if fd < 0 {
            log::debug!(
                "network namespace ahead of the clone: {}",
                std::io::Error::from_raw_os_error(-fd as i32)
            );
            return None;
        }
        // SAFETY: a file the helper opened and handed over to us.
        Some(unsafe { OwnedFd::from_raw_fd(fd as i32) })
    }
}

// SAFETY: `run` makes system calls through sys4 only and writes the job's
// result.
unsafe impl crate::raw_thread::Job for Job {
    /// On the helper thread.
    fn run(&mut self) {
        make(self)
    }
}

/// The helper thread's work: system calls only (see raw_thread). The
/// thread ends right after, so its own move into the new namespace needs
/// no undoing.
fn make(job: &mut Job) {
    // SAFETY: unshare of this thread's network namespace only.
    let r = unsafe { sys4(libc::SYS_unshare, libc::CLONE_NEWNET as usize, 0, 0, 0) };
    job.result = if r < 0 {
        r
    } else {
        // SAFETY: openat(AT_FDCWD, NUL-terminated path), close-on-exec.
        unsafe {
            sys4(
                libc::SYS_openat,
                libc::AT_FDCWD as usize,
                OWN_NETNS.as_ptr() as usize,
                (libc::O_RDONLY | libc::O_CLOEXEC) as usize,
                0,
            )
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_with(namespaces: serde_json::Value) -> Spec {
        serde_json::from_value(serde_json::json!({
            "ociVersion": "1.0.2",
            "root": {"path": "rootfs"},
            "linux": {"namespaces": namespaces}
        }))
        .unwrap()
    }

    #[test]
    fn only_a_new_network_namespace_without_a_user_namespace_is_wanted() {
        let root = crate::rootless::euid_is_root();
        let net = spec_with(serde_json::json!([{"type": "network"}, {"type": "mount"}]));
        assert_eq!(wanted(&net), root);
        let by_path = spec_with(serde_json::json!([{"type": "network", "path": "/proc/1/ns/net"}]));
        assert!(!wanted(&by_path));
        let userns = spec_with(serde_json::json!([{"type": "network"}, {"type": "user"}]));
        assert!(!wanted(&userns));
        let joined_userns = spec_with(serde_json::json!([
            {"type": "network"},
            {"type": "user", "path": "/proc/1/ns/user"}
        ]));
        assert!(!wanted(&joined_userns));
        let none = spec_with(serde_json::json!([{"type": "mount"}]));
        assert!(!wanted(&none));
    }

    /// The fd names a network namespace that is neither ours nor the one
    /// another start makes.
    #[test]
    fn each_start_makes_a_namespace_of_its_own() {
        if !crate::rootless::euid_is_root() {
            return;
        }
        use std::os::unix::fs::MetadataExt;
        let spec = spec_with(serde_json::json!([{"type": "network"}]));
        // Both stay open: a freed namespace's inode number may come back.
        let a = std::fs::File::from(NetnsAhead::start(&spec).unwrap().finish().unwrap());
        let b = std::fs::File::from(NetnsAhead::start(&spec).unwrap().finish().unwrap());
        let ino = |f: &std::fs::File| f.metadata().unwrap().ino();
        let ours = std::fs::metadata("/proc/self/ns/net").unwrap().ino();
        let (a, b) = (ino(&a), ino(&b));
        assert_ne!(a, ours);
        assert_ne!(b, ours);
        assert_ne!(a, b);
        // The caller's own namespace did not change.
        assert_eq!(std::fs::metadata("/proc/self/ns/net").unwrap().ino(), ours);
    }
}
