//! process.apparmorProfile: the profile the kernel switches the process to
//! at its execve. A requested profile is never ignored: without AppArmor
//! in the kernel the container is refused, as runc and crun do.

use crate::error::{Error, Result};
use crate::sys;
use std::os::fd::{AsRawFd, OwnedFd};

const ENABLED: &str = "/sys/module/apparmor/parameters/enabled";

/// The profile to switch to, with the exec attribute already opened.
pub struct ExecProfile {
    profile: String,
    attr: OwnedFd,
}

/// Checks AppArmor is on and opens our exec attribute. Call it while the
/// host's /sys and /proc are still visible (before pivot_root or setns).
pub fn prepare(profile: Option<&str>) -> Result<Option<ExecProfile>> {
    let Some(profile) = profile.filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let enabled = std::fs::read_to_string(ENABLED).is_ok_and(|s| s.starts_with('Y'));
    if !enabled {
        return Err(Error::new(format!(
            "process.apparmorProfile {profile:?} is set but AppArmor is not enabled on this host"
        )));
    }
    // The LSM-specific file first (Linux 5.8+), then the shared one.
    let attr = sys::openat(
        libc::AT_FDCWD,
        c"/proc/thread-self/attr/apparmor/exec",
        libc::O_WRONLY,
        0,
    )
    .or_else(|_| {
        sys::openat(
            libc::AT_FDCWD,
            c"/proc/thread-self/attr/exec",
            libc::O_WRONLY,
            0,
        )
    })
    .map_err(|e| Error::errno("open the AppArmor exec attribute", e))?;
    Ok(Some(ExecProfile {
        profile: profile.to_string(),
        attr,
    }))
}

impl ExecProfile {
    /// Asks for the profile at the next execve.
    pub fn apply(&self) -> Result<()> {
        sys::write_all(
            self.attr.as_raw_fd(),
            format!("exec {}", self.profile).as_bytes(),
        )
        .map_err(|e| {
            Error::errno(
                format!("set AppArmor profile {:?} for exec", self.profile),
                e,
            )
        })
    }
}
