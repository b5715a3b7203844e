//! Fuzz target: the seccomp compiler on `linux.seccomp` JSON (parse_json +
//! compile). Invariants: no panic, no hang, never an internal error; a
//! compiled program passes the kernel verifier's checks, and on random
//! inputs it only ever returns the default action, a rule's action, ENOSYS
//! (runc's stub) or the bad-arch kill, and kills other CPUs' arches.
//! Budget and knobs: crate::fuzzing.

use std::time::Instant;

use serde_json::{Value, json};

use super::interp::{self, SeccompData};
use super::*;
use crate::fuzzing::{Fuzzer, JsonMutator, Rng, budget, seed};
use crate::seccomp::compile::{RET_BAD_ARCH, RET_ENOSYS, action_value};
use crate::seccomp::{SeccompError, parse_json};

const KEYS: &[&str] = &[
    "defaultAction",
    "defaultErrnoRet",
    "architectures",
    "flags",
    "listenerPath",
    "listenerMetadata",
    "syscalls",
    "names",
    "action",
    "errnoRet",
    "args",
    "index",
    "value",
    "valueTwo",
    "op",
];

const WORDS: &[&str] = &[
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
    "SCMP_ACT_BOGUS",
    "SCMP_ARCH_X86_64",
    "SCMP_ARCH_X86",
    "SCMP_ARCH_X32",
    "SCMP_ARCH_NATIVE",
    "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_S390X",
    "SCMP_CMP_EQ",
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_GT",
    "SCMP_CMP_GE",
    "SCMP_CMP_MASKED_EQ",
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
    "read",
    "write",
    "socket",
    "socketcall",
    "ipc",
    "semop",
    "send",
    "clone",
    "clone3",
    "personality",
    "chown32",
    "_llseek",
    "arm_fadvise64_64",
    "mseal",
    "nosuchcall",
    "",
];

/// A profile with many rules on a few syscalls: what stresses the
/// compiler's chains, ranges and far jumps.
fn big_profile(rng: &mut Rng) -> Value {
    let names = ["read", "socket", "clone", "personality", "semop", "ioctl"];
    let ops = [
        "SCMP_CMP_EQ",
        "SCMP_CMP_NE",
        "SCMP_CMP_LT",
        "SCMP_CMP_LE",
        "SCMP_CMP_GT",
        "SCMP_CMP_GE",
        "SCMP_CMP_MASKED_EQ",
    ];
    let rules: Vec<Value> = (0..rng.count(900))
        .map(|_| {
            let args: Vec<Value> = (0..rng.below(4))
                .map(|_| {
                    json!({"index": rng.below(6), "op": *rng.pick(&ops),
                           "value": rng.next() >> rng.below(64),
                           "valueTwo": rng.next() >> rng.below(64)})
                })
                .collect();
            json!({"names": [*rng.pick(&names)], "action": "SCMP_ACT_ERRNO",
                   "errnoRet": rng.below(4095), "args": args})
        })
        .collect();
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": rules
    })
}

fn seeds(rng: &mut Rng) -> Vec<Vec<u8>> {
    let docker = super::docker::DOCKER_DEFAULT.as_bytes().to_vec();
    let podman = include_bytes!("../testdata/podman-default-amd64.json").to_vec();
    let small = json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 38,
        "architectures": ["SCMP_ARCH_X86"],
        "flags": ["SECCOMP_FILTER_FLAG_LOG"],
        "syscalls": [
            {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                      {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]},
            {"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"},
            {"names": ["clone"], "action": "SCMP_ACT_TRACE", "errnoRet": 7,
             "args": [{"index": 0, "value": 2114060288, "valueTwo": 0,
                       "op": "SCMP_CMP_MASKED_EQ"}]}
        ]
    });
    vec![
        docker,
        podman,
        serde_json::to_vec(&small).unwrap(),
        serde_json::to_vec(&big_profile(rng)).unwrap(),
    ]
}

fn check(text: &[u8]) -> Result<(), String> {
    let Ok(text) = std::str::from_utf8(text) else {
        return Ok(()); // parse_json takes a &str; config.json target covers bytes
    };
    let cfg = match parse_json(text) {
        Ok(cfg) => cfg,
        Err(e) if e.to_string().trim().is_empty() => return Err("empty parse error".into()),
        Err(_) => return Ok(()),
    };
    let program = match compile(&cfg) {
        Ok(p) => p,
        Err(SeccompError::Internal(m)) => return Err(format!("internal error: {m}")),
        Err(e) if e.to_string().trim().is_empty() => return Err("empty error".into()),
        Err(_) => return Ok(()),
    };
    bpf::validate(program.instructions()).map_err(|e| format!("invalid program: {e}"))?;

    let field = "fuzz";
    let default = action_value(cfg.default_action(), cfg.default_errno_ret(), field)
        .map_err(|e| format!("compiled, but the default action is refused: {e}"))?;
    let mut allowed = vec![default, RET_BAD_ARCH, RET_ENOSYS];
    for call in cfg.syscalls().iter().flatten() {
        let action = action_value(call.action(), call.errno_ret(), field)
            .map_err(|e| format!("compiled, but an action is refused: {e}"))?;
        allowed.push(action);
    }
    let mut rng = Rng::new(text.len() as u64 ^ 0x5eed);
    for _ in 0..64 {
        let any = rng.next() as u32;
        let arch = *rng.pick(&[X86_64, X86_64, I386, AARCH64, any]);
        let nr = match rng.below(3) {
            0 => rng.below(600) as u32,
            1 => X32_BIT | rng.below(600) as u32,
            _ => rng.next() as u32,
        };
        let mut args = [0u64; 6];
        for a in &mut args {
            *a = rng.next() >> rng.below(64);
        }
        let got = interp::run(program.instructions(), &SeccompData::new(arch, nr, args));
        if !allowed.contains(&got) {
            return Err(format!(
                "arch {arch:#x} nr {nr:#x}: returns {got:#x}, not an action of the profile"
            ));
        }
        if ![X86_64, I386].contains(&arch) && got != RET_BAD_ARCH {
            return Err(format!("arch {arch:#x} is not killed: {got:#x}"));
        }
    }
    Ok(())
}

#[test]
fn fuzz_seccomp_compiler() {
    let mut fuzzer = Fuzzer::new("seccomp", "json", check);
    if fuzzer.replay() {
        return;
    }
    let seed = seed();
    eprintln!("fuzz seccomp: seed {seed}, {:?}", budget());
    let mut rng = Rng::new(seed);
    let seeds = seeds(&mut rng);
    for s in &seeds {
        fuzzer.run(s);
    }
    let mutator = JsonMutator {
        keys: KEYS,
        words: WORDS,
    };
    let end = Instant::now() + budget();
    let mut previous: Option<Vec<u8>> = None;
    while Instant::now() < end {
        let base = match previous.take() {
            Some(p) if p.len() < 1 << 16 && rng.chance(40) => p,
            _ if rng.chance(5) => serde_json::to_vec(&big_profile(&mut rng)).unwrap(),
            _ => rng.pick(&seeds).clone(),
        };
        let input = mutator.mutate(&mut rng, &base);
        fuzzer.run(&input);
        previous = Some(input);
    }
    fuzzer.report(seed);
}
