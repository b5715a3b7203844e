//! Switching to process.user: groups, gid, uid, umask. Numeric ids are
//! always ids, never looked up as names (CVE-2016-3697).

use crate::error::{Error, Result};
use crate::sys;
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::User;

pub fn become_root() -> Result<()> {
    nix::unistd::setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0))
        .map_err(|e| Error::errno("setresgid", e))?;
    nix::unistd::setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0))
        .map_err(|e| Error::errno("setresuid", e))
}

/// setgroups may be denied in a user namespace (/proc/self/setgroups).
fn setgroups_allowed() -> bool {
    crate::sys::read_virtual("/proc/self/setgroups")
        .map(|s| s.trim() != "deny")
        .unwrap_or(true)
}

pub fn switch(u: &User) -> Result<()> {
    // Keep the permitted set across the uid change; capabilities::apply
    // sets the final sets right after.
    sys::prctl(libc::PR_SET_KEEPCAPS, 1).map_err(|e| Error::errno("prctl(PR_SET_KEEPCAPS)", e))?;
    if setgroups_allowed() {
        let groups: Vec<Gid> = u
            .additional_gids()
            .iter()
            .flatten()
            .map(|g| Gid::from_raw(*g))
            .collect();
        nix::unistd::setgroups(&groups).map_err(|e| Error::errno("setgroups", e))?;
    }
    let gid = Gid::from_raw(u.gid());
    nix::unistd::setresgid(gid, gid, gid)
        .map_err(|e| Error::errno(format!("setgid {}", u.gid()), e))?;
    let uid = Uid::from_raw(u.uid());
    nix::unistd::setresuid(uid, uid, uid)
        .map_err(|e| Error::errno(format!("setuid {}", u.uid()), e))?;
    sys::prctl(libc::PR_SET_KEEPCAPS, 0).map_err(|e| Error::errno("prctl(PR_SET_KEEPCAPS)", e))?;
    let mask = u.umask().unwrap_or(0o022);
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(
        mask as libc::mode_t,
    ));
    Ok(())
}

/// Home directory of `uid` in the container's /etc/passwd, for $HOME.
pub fn home_of(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 6 && f[2].parse::<u32>().ok() == Some(uid)).then(|| f[5].to_string())
    })
}
