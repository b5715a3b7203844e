//! Seccomp: compile an OCI `linux.seccomp` section into a classic BPF
//! program and install it, with the semantics runc gets from libseccomp.
//!
//! * Architectures: the native x86_64 ABI is always filtered. `SCMP_ARCH_X86`
//!   adds an i386 section and `SCMP_ARCH_X32` an x32 section (numbers with
//!   bit 30 set); both compare arguments as 32-bit values, as libseccomp
//!   does. A syscall from an ABI the profile does not list is killed
//!   (libseccomp's default bad-arch action; -1 excepted, as there), so it
//!   can never bypass the default action; other CPUs' arches are accepted
//!   and ignored, since an x86_64 kernel never reports them.
//! * On i386 a rule on a socket or System V IPC call also holds for its
//!   multiplexer: `socket` for `socketcall(SYS_SOCKET, …)`, `semop` for
//!   `ipc(SEMOP, …)` (the first argument selects the call), as libseccomp
//!   does it.
//! * Names that exist only on other CPUs (`arm_fadvise64_64`, i386's
//!   `socketcall` when i386 is not listed) are skipped as libseccomp does;
//!   a name that is no syscall anywhere is an error (runc would ignore it).
//! * Per syscall: the first unconditional rule decides; otherwise the
//!   conditional rules are tried in config order; within a rule the args
//!   are ANDed (runc splits repeated indexes into separate ORed rules, and
//!   so do we). Rules whose action equals the default are dropped, as runc
//!   does. SCMP_CMP_MASKED_EQ masks the datum too (libseccomp's meaning);
//!   errnoRet for SCMP_ACT_ERRNO is 0..=4094, as libseccomp takes it.
//! * runc's -ENOSYS stub: unless the default action is ALLOW/LOG/TRACE,
//!   syscalls numbered above the highest one named for a listed arch return
//!   ENOSYS, so libc falls back from syscalls newer than the profile.
//! * tests/libseccomp/ checks all of this against libseccomp itself,
//!   listing the deliberate deviations.
//! * Flags: TSYNC, LOG, SPEC_ALLOW and WAIT_KILLABLE_RECV go to seccomp(2)
//!   as given; any NOTIFY rule adds NEW_LISTENER (and TSYNC_ESRCH next to
//!   TSYNC). A flag the kernel refuses is named in the error (probed).
//!
//! Use: `compile` while parsing the config (pure, ~50-150 us for Docker's
//! profile), `install` in the container init after capabilities and
//! no_new_privs, right before exec. `listener` hands the notify fd to the
//! agent at `listenerPath` (with `listenerMetadata`), from rt's side.

mod bpf;
mod compile;
mod error;
mod install;
pub mod listener;
mod syscalls;

#[cfg(test)]
mod tests;

use std::fmt;

pub use error::SeccompError;
use oci_spec::runtime::LinuxSeccomp;

/// A compiled filter plus the `seccomp(2)` flags to install it with.
pub struct SeccompProgram {
    filter: Vec<libc::sock_filter>,
    flags: libc::c_ulong,
    notify: bool,
}

/// Compile `cfg` (no syscalls are made).
pub fn compile(cfg: &LinuxSeccomp) -> Result<SeccompProgram, SeccompError> {
    let compiled = compile::compile(cfg)?;
    Ok(SeccompProgram {
        filter: compiled.filter,
        flags: compiled.flags,
        notify: compiled.notify,
    })
}

/// Parse a `linux.seccomp` JSON object on its own, with errors naming the
/// field (`linux.seccomp.syscalls[1].action: unknown variant ...`). The
/// runtime's config.json parser reports the same through its own path.
pub fn parse_json(json: &str) -> Result<LinuxSeccomp, SeccompError> {
    let de = &mut serde_json::Deserializer::from_str(json);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            "linux.seccomp".to_string()
        } else {
            format!("linux.seccomp.{path}")
        };
        SeccompError::config(field, e.inner().to_string())
    })
}

/// The `linux.seccomp` part of `rt features`: what this build compiles and
/// this kernel installs. SCMP_ACT_NOTIFY and each filter flag are listed as
/// supported only if the kernel takes the flag they need (probed).
pub fn features() -> serde_json::Value {
    let knows = install::kernel_knows_flag;
    let mut actions = vec![
        "SCMP_ACT_ALLOW",
        "SCMP_ACT_ERRNO",
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_LOG",
        "SCMP_ACT_TRACE",
        "SCMP_ACT_TRAP",
    ];
    if knows(libc::SECCOMP_FILTER_FLAG_NEW_LISTENER) {
        actions.push("SCMP_ACT_NOTIFY");
        actions.sort_unstable();
    }
    let flags = [
        ("SECCOMP_FILTER_FLAG_LOG", libc::SECCOMP_FILTER_FLAG_LOG),
        (
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
            libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW,
        ),
        ("SECCOMP_FILTER_FLAG_TSYNC", libc::SECCOMP_FILTER_FLAG_TSYNC),
        (
            "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
            libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV | libc::SECCOMP_FILTER_FLAG_NEW_LISTENER,
        ),
    ];
    serde_json::json!({
        "enabled": true,
        "actions": actions,
        "operators": ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE",
            "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"],
        // Other CPUs' architectures are accepted but never filter anything
        // on x86_64 (see above): only these three are enforced.
        "archs": ["SCMP_ARCH_X32", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64"],
        "knownFlags": flags.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        "supportedFlags": flags.iter().filter(|(_, b)| knows(*b)).map(|(n, _)| *n).collect::<Vec<_>>(),
    })
}

impl SeccompProgram {
    /// The BPF instructions, as handed to the kernel.
    pub fn instructions(&self) -> &[libc::sock_filter] {
        &self.filter
    }

    /// `SECCOMP_FILTER_FLAG_*` bits passed to `seccomp(2)`.
    pub fn flags(&self) -> libc::c_ulong {
        self.flags
    }

    /// Whether some rule is SCMP_ACT_NOTIFY, so `install` returns a listener fd.
    pub fn uses_notify(&self) -> bool {
        self.notify
    }

    /// Install on the calling thread; call after no_new_privs/caps as runc does.
    /// Returns the notify fd when an action is SCMP_ACT_NOTIFY.
    pub fn install(&self) -> Result<Option<std::os::fd::OwnedFd>, SeccompError> {
        install::install(&self.filter, self.flags, self.notify)
    }
}

impl fmt::Debug for SeccompProgram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeccompProgram")
            .field("instructions", &self.filter.len())
            .field("flags", &format_args!("{:#x}", self.flags))
            .field("notify", &self.notify)
            .finish()
    }
}
