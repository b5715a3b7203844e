//! Kernel knobs of the process and its namespaces: rlimits, oom score,
//! sysctls, domain name, session keyring.

use crate::error::{Context, Error, Result};
use oci_spec::runtime::{PosixRlimitType, Process};
use std::collections::HashMap;

fn resource(t: PosixRlimitType) -> libc::__rlimit_resource_t {
    use PosixRlimitType::*;
    (match t {
        RlimitCpu => libc::RLIMIT_CPU,
        RlimitFsize => libc::RLIMIT_FSIZE,
        RlimitData => libc::RLIMIT_DATA,
        RlimitStack => libc::RLIMIT_STACK,
        RlimitCore => libc::RLIMIT_CORE,
        RlimitRss => libc::RLIMIT_RSS,
        RlimitNproc => libc::RLIMIT_NPROC,
        RlimitNofile => libc::RLIMIT_NOFILE,
        RlimitMemlock => libc::RLIMIT_MEMLOCK,
        RlimitAs => libc::RLIMIT_AS,
        RlimitLocks => libc::RLIMIT_LOCKS,
        RlimitSigpending => libc::RLIMIT_SIGPENDING,
        RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        RlimitNice => libc::RLIMIT_NICE,
        RlimitRtprio => libc::RLIMIT_RTPRIO,
        RlimitRttime => libc::RLIMIT_RTTIME,
    }) as libc::__rlimit_resource_t
}

pub fn apply_process_limits(p: &Process) -> Result<()> {
    for r in p.rlimits().iter().flatten() {
        let lim = libc::rlimit {
            rlim_cur: r.soft(),
            rlim_max: r.hard(),
        };
        // SAFETY: setrlimit reads the struct we pass.
        if unsafe { libc::setrlimit(resource(r.typ()), &lim) } < 0 {
            return Err(Error::errno(
                format!(
                    "setrlimit {:?} (soft {}, hard {})",
                    r.typ(),
                    r.soft(),
                    r.hard()
                ),
                nix::Error::last(),
            ));
        }
    }
    if let Some(adj) = p.oom_score_adj() {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string())
            .ctx("write /proc/self/oom_score_adj")?;
    }
    Ok(())
}

pub fn write_sysctls(sysctl: &HashMap<String, String>) -> Result<()> {
    for (k, v) in sysctl {
        let path = format!("/proc/sys/{}", k.replace('.', "/"));
        std::fs::write(&path, v).with_ctx(|| format!("linux.sysctl: write {path}"))?;
    }
    Ok(())
}

pub fn set_domainname(name: &str) -> Result<()> {
    // SAFETY: setdomainname reads `len` bytes from the buffer.
    let rc = unsafe { libc::setdomainname(name.as_ptr() as *const libc::c_char, name.len()) };
    if rc < 0 {
        return Err(Error::errno("setdomainname", nix::Error::last()));
    }
    Ok(())
}

/// A fresh session keyring, so the container cannot read the host's keys.
pub fn new_session_keyring() -> Result<()> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    // SAFETY: keyctl with a NULL name creates an anonymous keyring.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_JOIN_SESSION_KEYRING,
            std::ptr::null::<libc::c_char>(),
        )
    };
    if rc < 0 {
        let e = nix::Error::last();
        // Kernels without keys, or seccomp'd callers: not fatal (runc agrees).
        if e != nix::Error::ENOSYS && e != nix::Error::EPERM {
            return Err(Error::errno("join session keyring", e));
        }
    }
    Ok(())
}
