//! Compiler semantics, checked by interpreting the emitted BPF.

use serde_json::json;

use super::*;

#[test]
fn allowed_and_denied_syscalls() {
    let p = compile_ok(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["getpid"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}
        ]
    }));
    assert_eq!(eval(&p, X86_64, nr("getpid"), [0; 6]), errno(libc::EPERM));
    assert_eq!(eval(&p, X86_64, nr("mkdir"), [0; 6]), errno(libc::EACCES));
    assert_eq!(eval(&p, X86_64, nr("read"), [0; 6]), ALLOW);
    assert_eq!(eval(&p, X86_64, nr("getppid"), [0; 6]), ALLOW);
}

#[test]
fn default_errno_ret_and_every_action_value() {
    let p = compile_ok(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 38,
        "syscalls": [
            {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["write"], "action": "SCMP_ACT_LOG"},
            {"names": ["open"], "action": "SCMP_ACT_KILL"},
            {"names": ["close"], "action": "SCMP_ACT_KILL_THREAD"},
            {"names": ["stat"], "action": "SCMP_ACT_KILL_PROCESS"},
            {"names": ["fstat"], "action": "SCMP_ACT_TRAP"},
            {"names": ["lstat"], "action": "SCMP_ACT_TRACE"},
            {"names": ["poll"], "action": "SCMP_ACT_TRACE", "errnoRet": 7},
            {"names": ["lseek"], "action": "SCMP_ACT_NOTIFY"},
            {"names": ["mmap"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["brk"], "action": "SCMP_ACT_ERRNO", "errnoRet": 12}
        ]
    }));
    let expect = [
        ("read", ALLOW),
        ("write", libc::SECCOMP_RET_LOG),
        ("open", libc::SECCOMP_RET_KILL_THREAD),
        ("close", libc::SECCOMP_RET_KILL_THREAD),
        ("stat", libc::SECCOMP_RET_KILL_PROCESS),
        ("fstat", libc::SECCOMP_RET_TRAP),
        ("lstat", libc::SECCOMP_RET_TRACE | libc::EPERM as u32),
        ("poll", libc::SECCOMP_RET_TRACE | 7),
        ("lseek", libc::SECCOMP_RET_USER_NOTIF),
        ("mmap", errno(libc::EPERM)),
        ("brk", errno(libc::ENOMEM)),
        ("getpid", errno(libc::ENOSYS)),
    ];
    for (name, want) in expect {
        assert_eq!(eval(&p, X86_64, nr(name), [0; 6]), want, "{name}");
    }
    assert!(p.uses_notify());
    assert_ne!(p.flags() & libc::SECCOMP_FILTER_FLAG_NEW_LISTENER, 0);
}

/// Values around `v` that differ in the high word, the low word, or both,
/// so a comparison that only looks at one half gets caught.
fn probes(v: u64) -> Vec<u64> {
    let mut out = vec![0, 1, u64::MAX, u64::MAX - 1, 0xffff_ffff, 0x1_0000_0000];
    for d in [
        0u64,
        1,
        0xffff_ffff,
        0x1_0000_0000,
        0x1_0000_0001,
        0xffff_ffff_0000_0000,
    ] {
        out.push(v.wrapping_add(d));
        out.push(v.wrapping_sub(d));
    }
    let (hi, lo) = (v >> 32, v & 0xffff_ffff);
    out.push(((hi + 1) << 32) | lo.wrapping_sub(1) & 0xffff_ffff);
    out.push((hi.wrapping_sub(1) << 32) | (lo + 1) & 0xffff_ffff);
    out
}

#[test]
fn every_operator_compares_all_64_bits() {
    type Pred = fn(u64, u64) -> bool;
    let ops: [(&str, Pred); 6] = [
        ("SCMP_CMP_EQ", |a, v| a == v),
        ("SCMP_CMP_NE", |a, v| a != v),
        ("SCMP_CMP_LT", |a, v| a < v),
        ("SCMP_CMP_LE", |a, v| a <= v),
        ("SCMP_CMP_GT", |a, v| a > v),
        ("SCMP_CMP_GE", |a, v| a >= v),
    ];
    for value in [
        0u64,
        5,
        0xffff_ffff,
        0x1_0000_0000,
        0x1234_5678_9abc_def0,
        u64::MAX,
    ] {
        for (op, pred) in ops {
            for index in [0usize, 3, 5] {
                let p = compile_ok(json!({
                    "defaultAction": "SCMP_ACT_ALLOW",
                    "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                                  "args": [{"index": index, "value": value, "op": op}]}]
                }));
                for arg in probes(value) {
                    let mut args = [0x5555_5555_5555_5555u64; 6];
                    args[index] = arg;
                    let want = if pred(arg, value) {
                        errno(libc::EPERM)
                    } else {
                        ALLOW
                    };
                    assert_eq!(
                        eval(&p, X86_64, nr("mkdir"), args),
                        want,
                        "arg{index}={arg:#x} {op} {value:#x}"
                    );
                }
            }
        }
    }
}

#[test]
fn masked_eq_uses_value_as_mask_and_value_two_as_datum() {
    let (mask, datum) = (0xff00_0000_0000_00ffu64, 0x1200_0000_0000_0034u64);
    let p = compile_ok(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["clone"], "action": "SCMP_ACT_ERRNO",
                      "args": [{"index": 1, "value": mask, "valueTwo": datum, "op": "SCMP_CMP_MASKED_EQ"}]}]
    }));
    let cases = [
        0x1200_0000_0000_0034u64,
        0x12ab_cdef_0123_4534,
        0x1300_0000_0000_0034,
        0x1200_0000_0000_0035,
        0x0000_0000_0000_0034,
        0x1200_0000_0000_0000,
        u64::MAX,
    ];
    for arg in cases {
        let want = if arg & mask == datum {
            errno(libc::EPERM)
        } else {
            ALLOW
        };
        assert_eq!(
            eval(&p, X86_64, nr("clone"), [0, arg, 0, 0, 0, 0]),
            want,
            "{arg:#x}"
        );
    }
    // A mask-only rule (valueTwo omitted means 0), as in Docker's clone rule.
    let p = compile_ok(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                      "args": [{"index": 0, "value": 0x7E02_0000u64, "op": "SCMP_CMP_MASKED_EQ"}]}]
    }));
    let sigchld = libc::SIGCHLD as u64;
    assert_eq!(
        eval(&p, X86_64, nr("clone"), [sigchld, 0, 0, 0, 0, 0]),
        ALLOW
    );
    let newns = (libc::CLONE_NEWNS as u64) | sigchld;
    assert_eq!(
        eval(&p, X86_64, nr("clone"), [newns, 0, 0, 0, 0, 0]),
        errno(libc::EPERM)
    );
}

#[test]
fn args_in_a_rule_are_anded_and_rules_are_ored() {
    let p = compile_ok(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
             "args": [{"index": 0, "value": 10, "op": "SCMP_CMP_EQ"},
                      {"index": 1, "value": 20, "op": "SCMP_CMP_EQ"}]},
            {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 2,
             "args": [{"index": 2, "value": 30, "op": "SCMP_CMP_EQ"}]}
        ]
    }));
    let mkdir = nr("mkdir");
    assert_eq!(eval(&p, X86_64, mkdir, [10, 20, 0, 0, 0, 0]), errno(1));
    assert_eq!(eval(&p, X86_64, mkdir, [10, 21, 0, 0, 0, 0]), ALLOW);
    assert_eq!(eval(&p, X86_64, mkdir, [11, 20, 0, 0, 0, 0]), ALLOW);
    assert_eq!(eval(&p, X86_64, mkdir, [0, 0, 30, 0, 0, 0]), errno(2));
    // Both match: the first rule in config order wins.
    assert_eq!(eval(&p, X86_64, mkdir, [10, 20, 30, 0, 0, 0]), errno(1));
}

#[test]
fn repeated_arg_index_splits_into_ored_rules_like_runc() {
    let p = compile_ok(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO",
                      "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                               {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]}]
    }));
    let n = nr("personality");
    assert_eq!(eval(&p, X86_64, n, [1, 0, 0, 0, 0, 0]), errno(libc::EPERM));
    assert_eq!(eval(&p, X86_64, n, [2, 0, 0, 0, 0, 0]), errno(libc::EPERM));
    assert_eq!(eval(&p, X86_64, n, [3, 0, 0, 0, 0, 0]), ALLOW);
}

#[test]
fn unconditional_rule_overrides_conditional_ones_and_default_action_rules_are_dropped() {
    let p = compile_ok(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
            {"names": ["clone"], "action": "SCMP_ACT_TRAP"},
            // Same as the default: ignored, so it cannot shadow the next rule.
            {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 1, "value": 0o700, "op": "SCMP_CMP_EQ"}]},
            {"names": ["mkdir"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 1, "value": 0o700, "op": "SCMP_CMP_EQ"}]}
        ]
    }));
    assert_eq!(
        eval(&p, X86_64, nr("clone"), [1, 0, 0, 0, 0, 0]),
        libc::SECCOMP_RET_TRAP
    );
    assert_eq!(
        eval(&p, X86_64, nr("clone"), [2, 0, 0, 0, 0, 0]),
        libc::SECCOMP_RET_TRAP
    );
    assert_eq!(eval(&p, X86_64, nr("mkdir"), [0, 0o700, 0, 0, 0, 0]), ALLOW);
    assert_eq!(
        eval(&p, X86_64, nr("mkdir"), [0, 0o755, 0, 0, 0, 0]),
        errno(libc::EPERM)
    );
}

#[test]
fn unlisted_arch_is_killed_and_never_reaches_rules() {
    let p = compile_ok(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO"}]
    }));
    // i386 getpid is 20; x86_64 20 is writev. Neither may be allowed by the
    // x86_64 rules: the whole i386 ABI is a bad arch here.
    assert_eq!(eval(&p, I386, 20, [0; 6]), KILL_THREAD);
    assert_eq!(eval(&p, I386, nr("getpid"), [0; 6]), KILL_THREAD);
    assert_eq!(eval(&p, AARCH64, 172, [0; 6]), KILL_THREAD);
    assert_eq!(eval(&p, 0, 0, [0; 6]), KILL_THREAD);
    // x32 not listed: x32 syscall numbers are a bad arch too.
    assert_eq!(
        eval(&p, X86_64, X32_BIT | nr("getpid"), [0; 6]),
        KILL_THREAD
    );
    assert_eq!(eval(&p, X86_64, X32_BIT | nr("read"), [0; 6]), KILL_THREAD);
    assert_eq!(eval(&p, X86_64, nr("read"), [0; 6]), ALLOW);
    assert_eq!(eval(&p, X86_64, nr("getpid"), [0; 6]), errno(libc::EPERM));
}

#[test]
fn foreign_cpu_arches_are_accepted_and_change_nothing() {
    let with = compile_ok(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
        "syscalls": [{"names": ["read", "arm_fadvise64_64"], "action": "SCMP_ACT_ALLOW"}]
    }));
    let without = compile_ok(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]
    }));
    let code = |p: &SeccompProgram| {
        p.instructions()
            .iter()
            .map(|i| (i.code, i.jt, i.jf, i.k))
            .collect::<Vec<_>>()
    };
    assert_eq!(code(&with), code(&without));
    assert_eq!(eval(&with, AARCH64, 63, [0; 6]), KILL_THREAD);
}

#[test]
fn x32_and_i386_sections_use_their_own_numbers() {
    let p = compile_ok(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            {"names": ["ioctl", "chown32", "getpid"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 0xffff_ffffu64, "op": "SCMP_CMP_EQ"}]}
        ]
    }));
    // x86_64 ioctl = 16, x32 ioctl = bit | 514, i386 ioctl = 54.
    assert_eq!(eval(&p, X86_64, 16, [0; 6]), ALLOW);
    assert_eq!(eval(&p, X86_64, X32_BIT | 514, [0; 6]), ALLOW);
    assert_eq!(
        eval(&p, X86_64, X32_BIT | 16, [0; 6]),
        errno(libc::EPERM),
        "x32 16 is not ioctl"
    );
    assert_eq!(eval(&p, I386, 54, [0; 6]), ALLOW);
    assert_eq!(
        eval(&p, I386, 16, [0; 6]),
        errno(libc::EPERM),
        "i386 16 is lchown"
    );
    // chown32 exists on i386 only.
    assert_eq!(eval(&p, I386, 212, [0; 6]), ALLOW);
    // (x86_64 212 is above the highest x86_64 number named, 135: ENOSYS.)
    assert_eq!(eval(&p, X86_64, 212, [0; 6]), errno(libc::ENOSYS));
    // getpid on all three.
    assert_eq!(eval(&p, X86_64, 39, [0; 6]), ALLOW);
    assert_eq!(eval(&p, X86_64, X32_BIT | 39, [0; 6]), ALLOW);
    assert_eq!(eval(&p, I386, 20, [0; 6]), ALLOW);
    // i386 compares the 32-bit argument only: the high word is not looked at.
    assert_eq!(eval(&p, I386, 136, [0xffff_ffff, 0, 0, 0, 0, 0]), ALLOW);
    assert_eq!(
        eval(&p, X86_64, nr("personality"), [0xffff_ffff, 0, 0, 0, 0, 0]),
        ALLOW
    );
    assert_eq!(
        eval(
            &p,
            X86_64,
            nr("personality"),
            [0x1_ffff_ffff, 0, 0, 0, 0, 0]
        ),
        errno(libc::EPERM)
    );
}

#[test]
fn syscalls_newer_than_the_profile_get_enosys_like_runc() {
    let p = compile_ok(json!({
        "defaultAction": "SCMP_ACT_KILL_PROCESS",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["read", "openat2"], "action": "SCMP_ACT_ALLOW"}]
    }));
    let openat2 = nr("openat2");
    assert_eq!(
        eval(&p, X86_64, openat2 - 1, [0; 6]),
        libc::SECCOMP_RET_KILL_PROCESS
    );
    assert_eq!(eval(&p, X86_64, openat2, [0; 6]), ALLOW);
    assert_eq!(eval(&p, X86_64, openat2 + 1, [0; 6]), errno(libc::ENOSYS));
    assert_eq!(eval(&p, X86_64, 1000, [0; 6]), errno(libc::ENOSYS));
    assert_eq!(eval(&p, X86_64, X32_BIT | openat2, [0; 6]), ALLOW);
    assert_eq!(
        eval(&p, X86_64, X32_BIT | (openat2 + 1), [0; 6]),
        errno(libc::ENOSYS)
    );
    assert_eq!(eval(&p, X86_64, u32::MAX, [0; 6]), errno(libc::ENOSYS));
    // Not for an unlisted ABI, and not when the default lets syscalls run.
    let p = compile_ok(json!({
        "defaultAction": "SCMP_ACT_KILL_PROCESS",
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]
    }));
    assert_eq!(
        eval(&p, X86_64, 1000, [0; 6]),
        libc::SECCOMP_RET_KILL_PROCESS
    );
    let p = compile_ok(json!({
        "defaultAction": "SCMP_ACT_LOG",
        "architectures": ["SCMP_ARCH_NATIVE"],
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO"}]
    }));
    assert_eq!(eval(&p, X86_64, 1000, [0; 6]), libc::SECCOMP_RET_LOG);
}

#[test]
fn names_of_other_cpus_are_skipped() {
    let p = compile_ok(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["arm_fadvise64_64", "send", "socketcall", "openat"],
                      "action": "SCMP_ACT_ALLOW"}]
    }));
    assert_eq!(eval(&p, X86_64, nr("openat"), [0; 6]), ALLOW);
    assert_eq!(eval(&p, X86_64, nr("read"), [0; 6]), errno(libc::EPERM));
    // socketcall is i386's (102); x86_64 102 is getuid, which stays denied.
    assert_eq!(eval(&p, X86_64, 102, [0; 6]), errno(libc::EPERM));
}

#[test]
fn libseccomp_names_from_podmans_profile_are_skipped() {
    // containers-common's seccomp.json (podman's default) allows these two;
    // libseccomp knows them, so runc accepts the profile.
    let p = compile_ok(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": ["syscall", "timerfd", "openat"],
                      "action": "SCMP_ACT_ALLOW"}]
    }));
    assert_eq!(eval(&p, X86_64, nr("openat"), [0; 6]), ALLOW);
    assert_eq!(eval(&p, X86_64, nr("read"), [0; 6]), errno(libc::EPERM));
}

#[test]
fn far_targets_get_trampolines_and_stay_correct() {
    // 300 syscalls, each with its own argument chain: the search tree and
    // chains are far longer than an 8-bit jump can cross.
    let names: Vec<&str> = super::docker::x86_64_names()
        .into_iter()
        .take(300)
        .collect();
    let rules: Vec<_> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            json!({"names": [n], "action": "SCMP_ACT_ERRNO", "errnoRet": i + 1,
                             "args": [{"index": 2, "value": i, "op": "SCMP_CMP_EQ"}]})
        })
        .collect();
    let p = compile_ok(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules}));
    assert!(p.instructions().len() > 1000, "test needs a long program");
    assert!(p.instructions().len() < bpf::MAX_INSNS);
    assert!(
        p.instructions()
            .iter()
            .any(|i| i.code == bpf::OP_JA && i.k > 255)
    );
    for (i, n) in names.iter().enumerate() {
        let i = i as u64;
        assert_eq!(
            eval(&p, X86_64, nr(n), [0, 0, i, 0, 0, 0]),
            errno(i as i32 + 1),
            "{n}"
        );
        assert_eq!(
            eval(&p, X86_64, nr(n), [0, 0, i + 1, 0, 0, 0]),
            ALLOW,
            "{n}"
        );
    }
}
