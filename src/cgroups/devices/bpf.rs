//! The bpf(2) commands a cgroup device filter needs: load a program,
//! attach it to a cgroup directory, list and detach the ones attached
//! before. Attribute layouts are the kernel's `union bpf_attr` members
//! (include/uapi/linux/bpf.h); unused trailing fields must be zero, which
//! `#[repr(C)]` structs built with all fields set guarantee.

use super::insn::{Insn, encode_all};
use crate::error::errno_text;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const BPF_PROG_LOAD: libc::c_int = 5;
const BPF_PROG_ATTACH: libc::c_int = 8;
const BPF_PROG_DETACH: libc::c_int = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_int = 13;
const BPF_PROG_QUERY: libc::c_int = 16;

const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
/// Programs of a cgroup and of all its ancestors run, and all must allow.
const BPF_F_ALLOW_MULTI: u32 = 2;

#[repr(C)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

#[repr(C)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

#[repr(C)]
struct QueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    _pad: u32,
}

#[repr(C)]
struct GetFdByIdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

fn bpf<T>(cmd: libc::c_int, attr: &mut T) -> nix::Result<libc::c_long> {
    // SAFETY: attr is a live, fully initialised #[repr(C)] bpf_attr member
    // of the size passed; the kernel reads it and writes back only fields
    // inside it (prog_cnt, attach_flags for QUERY).
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T as *mut libc::c_void,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    nix::errno::Errno::result(r)
}

fn owned(fd: libc::c_long) -> OwnedFd {
    // SAFETY: bpf(2) returned a new file descriptor that nothing else owns.
    unsafe { OwnedFd::from_raw_fd(fd as i32) }
}

/// Loads a cgroup device program. On a verifier rejection the error text
/// carries the verifier's log, which names the offending instruction.
pub fn load_device_program(prog: &[Insn]) -> Result<OwnedFd, String> {
    let insns = encode_all(prog);
    // No GPL-only helper is called, so any license string will do; ours.
    let license = CString::new("Apache-2.0").expect("no NUL");
    let mut name = [0u8; 16];
    name[..13].copy_from_slice(b"rt_dev_filter");
    let attempt = |log: &mut Vec<u8>| {
        let mut attr = ProgLoadAttr {
            prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
            insn_cnt: insns.len() as u32,
            insns: insns.as_ptr() as u64,
            license: license.as_ptr() as u64,
            log_level: if log.is_empty() { 0 } else { 1 },
            log_size: log.len() as u32,
            log_buf: if log.is_empty() {
                0
            } else {
                log.as_mut_ptr() as u64
            },
            kern_version: 0,
            prog_flags: 0,
            prog_name: name,
            prog_ifindex: 0,
            expected_attach_type: 0,
        };
        bpf(BPF_PROG_LOAD, &mut attr).map(owned)
    };
    match attempt(&mut Vec::new()) {
        Ok(fd) => Ok(fd),
        Err(e @ (nix::errno::Errno::EINVAL | nix::errno::Errno::EACCES)) => {
            let mut log = vec![0u8; 1 << 16];
            let _ = attempt(&mut log);
            let end = log.iter().position(|b| *b == 0).unwrap_or(log.len());
            let text = String::from_utf8_lossy(&log[..end]);
            Err(format!("{}; verifier: {}", errno_text(e), text.trim()))
        }
        Err(e) => Err(errno_text(e)),
    }
}

/// Ids of the device programs attached directly to the cgroup `dir`.
pub fn attached_device_programs(dir: &impl AsRawFd) -> nix::Result<Vec<u32>> {
    let mut ids = vec![0u32; 64];
    loop {
        let mut attr = QueryAttr {
            target_fd: dir.as_raw_fd() as u32,
            attach_type: BPF_CGROUP_DEVICE,
            query_flags: 0,
            attach_flags: 0,
            prog_ids: ids.as_mut_ptr() as u64,
            prog_cnt: ids.len() as u32,
            _pad: 0,
        };
        match bpf(BPF_PROG_QUERY, &mut attr) {
            Ok(_) => {
                ids.truncate(attr.prog_cnt as usize);
                return Ok(ids);
            }
            // More than fit: prog_cnt says how many there are.
            Err(nix::errno::Errno::ENOSPC) => ids = vec![0; attr.prog_cnt as usize],
            Err(e) => return Err(e),
        }
    }
}

pub fn attach(dir: &impl AsRawFd, prog: &impl AsRawFd) -> nix::Result<()> {
    let mut attr = AttachAttr {
        target_fd: dir.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        replace_bpf_fd: 0,
    };
    bpf(BPF_PROG_ATTACH, &mut attr).map(drop)
}

/// Detaches the program with id `id` from the cgroup `dir`.
pub fn detach_by_id(dir: &impl AsRawFd, id: u32) -> nix::Result<()> {
    let mut get = GetFdByIdAttr {
        prog_id: id,
        next_id: 0,
        open_flags: 0,
    };
    let prog = owned(bpf(BPF_PROG_GET_FD_BY_ID, &mut get)?);
    let mut attr = AttachAttr {
        target_fd: dir.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: 0,
        replace_bpf_fd: 0,
    };
    bpf(BPF_PROG_DETACH, &mut attr).map(drop)
}
