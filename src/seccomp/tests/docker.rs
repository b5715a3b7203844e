//! Docker's default profile (amd64, default capabilities, as Docker hands it
//! to the runtime): compile time, program size, and every decision of the
//! program checked against a direct reading of the profile.

use std::time::Instant;

use oci_spec::runtime::{Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompOperator};

use super::*;
use crate::seccomp::compile::{RET_BAD_ARCH, RET_ENOSYS};
use crate::seccomp::syscalls::Abi;

pub const DOCKER_DEFAULT: &str = include_str!("../testdata/docker-default-amd64.json");

pub fn docker_profile() -> LinuxSeccomp {
    crate::seccomp::parse_json(DOCKER_DEFAULT).expect("fixture parses")
}

/// Names of the profile's big allow rule that exist on x86_64.
pub fn x86_64_names() -> Vec<&'static str> {
    let v: serde_json::Value = serde_json::from_str(DOCKER_DEFAULT).unwrap();
    let names = v["syscalls"][0]["names"].as_array().unwrap();
    names
        .iter()
        .map(|n| &*String::leak(n.as_str().unwrap().to_string()))
        .filter(|n| Abi::X86_64.resolve(n).is_some())
        .collect()
}

/// What the profile says for one syscall, read straight off the config
/// with the documented semantics, no BPF involved.
fn reference(cfg: &LinuxSeccomp, arch: u32, nr: u32, args: [u64; 6]) -> u32 {
    let listed: Vec<Abi> = cfg
        .architectures()
        .clone()
        .unwrap_or_default()
        .iter()
        .filter_map(|a| match a {
            Arch::ScmpArchX86_64 | Arch::ScmpArchNative => Some(Abi::X86_64),
            Arch::ScmpArchX86 => Some(Abi::I386),
            Arch::ScmpArchX32 => Some(Abi::X32),
            _ => None,
        })
        .collect();
    let abi = match arch {
        X86_64 if nr & X32_BIT != 0 => Abi::X32,
        X86_64 => Abi::X86_64,
        I386 => Abi::I386,
        _ => return RET_BAD_ARCH,
    };
    if abi != Abi::X86_64 && !listed.contains(&abi) {
        return RET_BAD_ARCH;
    }
    let default = cfg.default_action().as_u32(cfg.default_errno_ret());
    let syscalls = cfg.syscalls().clone().unwrap_or_default();
    let mut max_named = 0;
    let mut candidates = Vec::new();
    for rule in &syscalls {
        for name in rule.names() {
            if let Some(n) = abi.resolve(name) {
                max_named = max_named.max(n);
                let action = rule.action().as_u32(rule.errno_ret());
                if n == nr && action != default {
                    candidates.push((action, rule.args().clone().unwrap_or_default()));
                }
            }
        }
    }
    if let Some((action, _)) = candidates.iter().find(|(_, a)| a.is_empty()) {
        return *action;
    }
    let wide = abi != Abi::I386;
    let holds = |arg: &oci_spec::runtime::LinuxSeccompArg| {
        let (mut a, mut v) = (args[arg.index()], arg.value());
        let mut two = arg.value_two().unwrap_or(0);
        if !wide {
            (a, v, two) = (a & 0xffff_ffff, v & 0xffff_ffff, two & 0xffff_ffff);
        }
        match arg.op() {
            LinuxSeccompOperator::ScmpCmpEq => a == v,
            LinuxSeccompOperator::ScmpCmpNe => a != v,
            LinuxSeccompOperator::ScmpCmpLt => a < v,
            LinuxSeccompOperator::ScmpCmpLe => a <= v,
            LinuxSeccompOperator::ScmpCmpGt => a > v,
            LinuxSeccompOperator::ScmpCmpGe => a >= v,
            LinuxSeccompOperator::ScmpCmpMaskedEq => a & v == two,
        }
    };
    for (action, conds) in &candidates {
        if conds.iter().all(holds) {
            return *action;
        }
    }
    let stub = !matches!(
        cfg.default_action(),
        LinuxSeccompAction::ScmpActAllow
            | LinuxSeccompAction::ScmpActLog
            | LinuxSeccompAction::ScmpActTrace
    );
    if candidates.is_empty() && stub && listed.contains(&abi) && max_named != 0 && nr > max_named {
        return RET_ENOSYS;
    }
    default
}

#[test]
fn docker_default_profile_compiles_fast_and_small() {
    let cfg = docker_profile();
    let names: usize = cfg
        .syscalls()
        .as_ref()
        .unwrap()
        .iter()
        .map(|s| s.names().len())
        .sum();
    let p = compile(&cfg).unwrap();
    bpf::validate(p.instructions()).unwrap();
    let runs = 200;
    let start = Instant::now();
    for _ in 0..runs {
        std::hint::black_box(compile(std::hint::black_box(&cfg)).unwrap());
    }
    let per_compile = start.elapsed() / runs;
    println!(
        "docker default profile: {names} names -> {} BPF instructions, compile {:.1} us",
        p.instructions().len(),
        per_compile.as_secs_f64() * 1e6
    );
    assert!(names > 350);
    assert!(
        p.instructions().len() < 1024,
        "program is {} long",
        p.instructions().len()
    );
    // Far below what would matter for container start even in a debug build.
    assert!(per_compile.as_millis() < 50, "compile took {per_compile:?}");
}

#[test]
fn docker_default_profile_matches_the_reference_for_every_number() {
    let cfg = docker_profile();
    let p = compile(&cfg).unwrap();
    let mut checked = 0;
    let arg_sets: [[u64; 6]; 5] = [
        [0; 6],
        [8, 0, 0, 0, 0, 0],
        [40, 1, 0, 0, 0, 0],
        [(libc::CLONE_NEWUSER | libc::SIGCHLD) as u64, 0, 0, 0, 0, 0],
        [0xffff_ffff, 0x7E02_0000, 2, 3, 4, 5],
    ];
    let numbers = (0..700u32).chain([u32::MAX, 0x3fff_ffff]);
    for base in numbers {
        for (arch, nr) in [
            (X86_64, base),
            (X86_64, base | X32_BIT),
            (I386, base),
            (AARCH64, base),
        ] {
            for args in arg_sets {
                let got = eval(&p, arch, nr, args);
                assert_eq!(
                    got,
                    reference(&cfg, arch, nr, args),
                    "arch {arch:#x} nr {nr:#x} args {args:x?}"
                );
                checked += 1;
            }
        }
    }
    println!("docker default profile: {checked} decisions agree with the reference");
}

#[test]
fn docker_default_profile_key_decisions() {
    let p = compile(&docker_profile()).unwrap();
    let eperm = errno(libc::EPERM);
    for name in [
        "read",
        "write",
        "uname",
        "execve",
        "getpid",
        "mkdir",
        "arch_prctl",
        "ptrace",
    ] {
        assert_eq!(eval(&p, X86_64, nr(name), [0; 6]), ALLOW, "{name}");
    }
    for name in [
        "unshare",
        "mount",
        "setns",
        "bpf",
        "kexec_load",
        "reboot",
        "umount2",
    ] {
        assert_eq!(eval(&p, X86_64, nr(name), [0; 6]), eperm, "{name}");
    }
    assert_eq!(eval(&p, X86_64, nr("clone3"), [0; 6]), errno(libc::ENOSYS));
    let clone = nr("clone");
    assert_eq!(
        eval(&p, X86_64, clone, [libc::SIGCHLD as u64, 0, 0, 0, 0, 0]),
        ALLOW
    );
    let userns = (libc::CLONE_NEWUSER | libc::SIGCHLD) as u64;
    assert_eq!(eval(&p, X86_64, clone, [userns, 0, 0, 0, 0, 0]), eperm);
    assert_eq!(
        eval(
            &p,
            X86_64,
            nr("socket"),
            [libc::AF_INET as u64, 0, 0, 0, 0, 0]
        ),
        ALLOW
    );
    assert_eq!(
        eval(
            &p,
            X86_64,
            nr("socket"),
            [libc::AF_VSOCK as u64, 0, 0, 0, 0, 0]
        ),
        eperm
    );
    assert_eq!(
        eval(&p, X86_64, nr("personality"), [0xffff_ffff, 0, 0, 0, 0, 0]),
        ALLOW
    );
    assert_eq!(
        eval(&p, X86_64, nr("personality"), [0x0040_0000, 0, 0, 0, 0, 0]),
        eperm
    );
    // x32 and i386 uname are allowed, i386 unshare (310) is not.
    assert_eq!(eval(&p, X86_64, X32_BIT | nr("uname"), [0; 6]), ALLOW);
    assert_eq!(eval(&p, I386, 122, [0; 6]), ALLOW);
    assert_eq!(eval(&p, I386, 310, [0; 6]), eperm);
    assert_eq!(eval(&p, AARCH64, 160, [0; 6]), KILL_THREAD);
}
