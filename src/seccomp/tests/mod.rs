//! Tests: the compiler checked through a BPF interpreter, error messages, and
//! filters installed for real in forked children.

mod compiler;
mod docker;
mod errors;
mod fuzz;
mod interp;
mod kernel;
mod libseccomp;

use oci_spec::runtime::LinuxSeccomp;

use super::compile::{AUDIT_ARCH_I386, AUDIT_ARCH_X86_64};
use super::{SeccompProgram, bpf, compile};

pub const X86_64: u32 = AUDIT_ARCH_X86_64;
pub const I386: u32 = AUDIT_ARCH_I386;
pub const AARCH64: u32 = 0xc000_00b7;
pub const X32_BIT: u32 = 0x4000_0000;

pub const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
pub const KILL_THREAD: u32 = libc::SECCOMP_RET_KILL_THREAD;

pub fn errno(e: i32) -> u32 {
    libc::SECCOMP_RET_ERRNO | e as u32
}

pub fn profile(json: serde_json::Value) -> LinuxSeccomp {
    serde_json::from_value(json).expect("test profile parses")
}

/// Compile and check the program is one the kernel would accept.
pub fn compile_ok(json: serde_json::Value) -> SeccompProgram {
    let p = compile(&profile(json)).expect("profile compiles");
    bpf::validate(p.instructions()).expect("valid BPF");
    p
}

pub fn eval(p: &SeccompProgram, arch: u32, nr: u32, args: [u64; 6]) -> u32 {
    interp::run(p.instructions(), &interp::SeccompData::new(arch, nr, args))
}

pub fn nr(name: &str) -> u32 {
    super::syscalls::Abi::X86_64.resolve(name).unwrap()
}
