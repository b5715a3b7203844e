//! Loading a compiled filter with seccomp(2).

use std::os::fd::{FromRawFd, OwnedFd};

use nix::errno::Errno;

use super::SeccompError;

const FLAG_NAMES: &[(libc::c_ulong, &str)] = &[
    (libc::SECCOMP_FILTER_FLAG_TSYNC, "SECCOMP_FILTER_FLAG_TSYNC"),
    (libc::SECCOMP_FILTER_FLAG_LOG, "SECCOMP_FILTER_FLAG_LOG"),
    (
        libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW,
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    ),
    (
        libc::SECCOMP_FILTER_FLAG_NEW_LISTENER,
        "SECCOMP_FILTER_FLAG_NEW_LISTENER",
    ),
    (
        libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH,
        "SECCOMP_FILTER_FLAG_TSYNC_ESRCH",
    ),
    (
        libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
    ),
];

/// `seccomp(SECCOMP_SET_MODE_FILTER, flags, prog)`; returns the syscall's
/// result (0, a listener fd, or with TSYNC the tid that could not sync).
fn set_mode_filter(
    flags: libc::c_ulong,
    prog: Option<&libc::sock_fprog>,
) -> Result<libc::c_long, Errno> {
    let ptr = prog.map_or(std::ptr::null(), |p| p as *const libc::sock_fprog);
    // SAFETY: seccomp(2) only reads `*ptr`, a sock_fprog whose `filter`
    // points at `len` instructions kept alive by the caller's borrow; a null
    // pointer (flag probing) makes the kernel fail with EFAULT, reading nothing.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER as libc::c_ulong,
            flags,
            ptr,
        )
    };
    if ret < 0 { Err(Errno::last()) } else { Ok(ret) }
}

/// Flags in `flags` that this kernel does not know. The kernel checks flags
/// before it reads the program, so probing with a null program answers
/// EFAULT for a known flag and EINVAL for an unknown one (as libseccomp does).
fn unsupported_flags(flags: libc::c_ulong) -> Vec<&'static str> {
    FLAG_NAMES
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .filter(|(bit, _)| {
            // Some flags are only valid together with another one.
            let companion = match *bit {
                libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV => {
                    libc::SECCOMP_FILTER_FLAG_NEW_LISTENER
                }
                libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH => libc::SECCOMP_FILTER_FLAG_TSYNC,
                _ => 0,
            };
            !kernel_knows_flag(bit | companion)
        })
        .map(|(_, name)| *name)
        .collect()
}

/// Whether this kernel accepts the `flags` combination (probed without
/// installing anything).
pub(super) fn kernel_knows_flag(flags: libc::c_ulong) -> bool {
    set_mode_filter(flags, None) != Err(Errno::EINVAL)
}

pub(super) fn install(
    filter: &[libc::sock_filter],
    flags: libc::c_ulong,
    notify: bool,
) -> Result<Option<OwnedFd>, SeccompError> {
    let len = u16::try_from(filter.len()).map_err(|_| {
        SeccompError::install(
            format!("filter of {} instructions is too long", filter.len()),
            None,
        )
    })?;
    let prog = libc::sock_fprog {
        len,
        filter: filter.as_ptr().cast_mut(),
    };
    match set_mode_filter(flags, Some(&prog)) {
        Ok(fd) if notify => {
            let fd = i32::try_from(fd).map_err(|_| {
                SeccompError::install(format!("seccomp(2) returned bad listener fd {fd}"), None)
            })?;
            // SAFETY: with SECCOMP_FILTER_FLAG_NEW_LISTENER a successful
            // seccomp(2) returns a new fd that nothing else owns.
            Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) }))
        }
        Ok(0) => Ok(None),
        Ok(tid) => Err(SeccompError::install(
            format!("SECCOMP_FILTER_FLAG_TSYNC: thread {tid} could not be synchronized"),
            None,
        )),
        Err(Errno::EINVAL) if !unsupported_flags(flags).is_empty() => Err(SeccompError::install(
            format!(
                "the kernel does not support {}",
                unsupported_flags(flags).join(", ")
            ),
            Some(Errno::EINVAL),
        )),
        Err(Errno::EACCES) => Err(SeccompError::install(
            "installing the filter needs no_new_privs or CAP_SYS_ADMIN",
            Some(Errno::EACCES),
        )),
        Err(Errno::ESRCH) => Err(SeccompError::install(
            "SECCOMP_FILTER_FLAG_TSYNC: another thread could not be synchronized",
            Some(Errno::ESRCH),
        )),
        Err(e) => Err(SeccompError::install(
            format!("seccomp(SECCOMP_SET_MODE_FILTER, flags {flags:#x}) of {len} instructions"),
            Some(e),
        )),
    }
}
