//! Inputs and profiles for the differential test: random (arch, nr, args)
//! biased to what a profile names, and generated profiles.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use oci_spec::runtime::LinuxSeccomp;
use serde_json::{Value, json};

use super::super::interp::SeccompData;
use super::super::{AARCH64, I386, X32_BIT, X86_64};
use super::ABIS;
use super::helper::{libseccomp_knows, runc_action};
use crate::fuzzing::Rng;
use crate::seccomp::syscalls::{self, I386_IPC, I386_SOCKETCALL, Syscall};

pub(super) fn seed() -> u64 {
    let seed = match std::env::var("RT_SECCOMP_DIFF_SEED") {
        Ok(s) => s.parse().expect("RT_SECCOMP_DIFF_SEED: a number"),
        Err(_) => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
    };
    println!("seccomp differential: seed {seed} (RT_SECCOMP_DIFF_SEED to repeat)");
    seed
}

/// Syscall numbers and argument values worth trying for one profile: the
/// numbers it names (and their neighbours) and the values its conditions
/// compare with (and values just off them).
pub(super) struct Interesting {
    numbers: [Vec<u32>; 3],
    values: Vec<u64>,
}

impl Interesting {
    pub(super) fn of(cfg: &LinuxSeccomp) -> Interesting {
        let mut numbers: [Vec<u32>; 3] = Default::default();
        let mut values: Vec<u64> = (0..=24).chain([u32::MAX as u64, u64::MAX]).collect();
        for call in cfg.syscalls().iter().flatten() {
            for name in call.names() {
                for (i, abi) in ABIS.iter().enumerate() {
                    if let Some(nr) = Syscall::lookup(name).and_then(|s| s.nr(*abi)) {
                        numbers[i].push(nr);
                    }
                }
            }
            for a in call.args().iter().flatten() {
                values.push(a.value());
                if let Some(two) = a.value_two() {
                    values.push(two);
                }
            }
        }
        numbers[1].extend([I386_SOCKETCALL, I386_IPC]);
        for n in &mut numbers {
            n.sort_unstable();
            n.dedup();
        }
        values.sort_unstable();
        values.dedup();
        Interesting { numbers, values }
    }

    fn arg(&self, rng: &mut Rng) -> u64 {
        match rng.below(10) {
            0..=4 => {
                let v = *rng.pick(&self.values);
                match rng.below(8) {
                    0 => v.wrapping_add(1),
                    1 => v.wrapping_sub(1),
                    2 => v ^ (1 << rng.below(64)),
                    3 => (v & 0xffff_ffff) | (rng.next() << 32),
                    4 => (v & !0xffff_ffff) | (rng.next() & 0xffff_ffff),
                    5 => v | rng.next(),
                    _ => v,
                }
            }
            5 => 0,
            6 => rng.next() & 0xffff_ffff,
            7 => rng.next() & 0xff,
            _ => rng.next(),
        }
    }

    pub(super) fn input(&self, rng: &mut Rng) -> SeccompData {
        let (arch, abi) = match rng.below(20) {
            0..=7 => (X86_64, 0),
            8..=11 => (X86_64, 2),
            12..=18 => (I386, 1),
            _ => {
                let any = rng.next() as u32;
                (*rng.pick(&[AARCH64, 0, 0x4000_003e, any]), 0)
            }
        };
        let known = &self.numbers[abi];
        let base = if abi == 2 { X32_BIT } else { 0 };
        let nr = match rng.below(20) {
            0..=11 if !known.is_empty() => {
                let nr = *rng.pick(known);
                match rng.below(6) {
                    0 => nr.wrapping_sub(1),
                    1 => nr.wrapping_add(1),
                    _ => nr,
                }
            }
            0..=16 => base | rng.below(600) as u32,
            17 => *rng.pick(&[
                u32::MAX,
                X32_BIT - 1,
                X32_BIT,
                0x7fff_ffff,
                0x8000_0000,
                X32_BIT | 0x3fff_ffff,
            ]),
            _ => rng.next() as u32,
        };
        let mut args = [0u64; 6];
        for a in &mut args {
            *a = self.arg(rng);
        }
        SeccompData::new(arch, nr, args)
    }
}

/// Names for generated profiles: a few each, so that rules pile up on the
/// same syscalls, often i386's socket and IPC calls and their
/// multiplexers, and some names that exist only on other CPUs.
fn name_pool(rng: &mut Rng) -> Vec<&'static str> {
    let all: Vec<&'static str> = syscalls::all_names()
        .filter(|n| libseccomp_knows(n))
        .collect();
    let special = [
        "socket",
        "connect",
        "accept",
        "send",
        "recv",
        "socketcall",
        "semop",
        "shmat",
        "ipc",
        "read",
        "clone",
        "personality",
        "arm_fadvise64_64",
        "chown32",
        "_llseek",
        "fchmodat2",
        "uname",
        "write",
    ];
    let mut pool: Vec<&'static str> = (0..3).map(|_| *rng.pick(&special)).collect();
    pool.extend((0..1 + rng.below(8)).map(|_| *rng.pick(&all)));
    pool.sort_unstable();
    pool.dedup();
    pool
}

fn random_action(rng: &mut Rng, allow_notify: bool) -> (&'static str, Option<u32>) {
    // SCMP_ACT_ERRNO takes 0..=4094 (both refuse more); TRACE 16 bits.
    let errno = |rng: &mut Rng, top: u32| -> Option<u32> {
        match rng.below(5) {
            0 => None,
            1 => Some(0),
            2 => Some(top),
            _ => Some(rng.below(200) as u32),
        }
    };
    let mut actions = vec![
        "SCMP_ACT_ALLOW",
        "SCMP_ACT_ERRNO",
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_TRAP",
        "SCMP_ACT_TRACE",
        "SCMP_ACT_LOG",
        "SCMP_ACT_ERRNO",
        "SCMP_ACT_ALLOW",
    ];
    if allow_notify {
        actions.push("SCMP_ACT_NOTIFY");
    }
    let action = *rng.pick(&actions);
    let errno_ret = match action {
        "SCMP_ACT_ERRNO" => errno(rng, 4094),
        "SCMP_ACT_TRACE" => errno(rng, 0xffff),
        _ if rng.chance(10) => errno(rng, 0xffff), // ignored by both
        _ => None,
    };
    (action, errno_ret)
}

fn random_value(rng: &mut Rng) -> u64 {
    match rng.below(9) {
        0 | 1 => rng.below(20) as u64,
        2 => *rng.pick(&[16, 9, 40, 0x7e02_0000, 0x1000_0000]),
        3 => u32::MAX as u64,
        4 => 1 << 32 | rng.below(8) as u64,
        5 => u64::MAX,
        6 => rng.next() & 0xffff_ffff,
        7 => 1 << rng.below(64),
        _ => rng.next(),
    }
}

fn random_condition(rng: &mut Rng) -> Value {
    let index = *rng.pick(&[0, 0, 0, 0, 1, 1, 1, 2, 2, 3, 4, 5]);
    let op = *rng.pick(&[
        "SCMP_CMP_EQ",
        "SCMP_CMP_NE",
        "SCMP_CMP_LT",
        "SCMP_CMP_LE",
        "SCMP_CMP_GT",
        "SCMP_CMP_GE",
        "SCMP_CMP_MASKED_EQ",
        "SCMP_CMP_MASKED_EQ",
    ]);
    let value = random_value(rng);
    let mut c = json!({"index": index, "op": op, "value": value});
    if op == "SCMP_CMP_MASKED_EQ" {
        c["valueTwo"] = json!(match rng.below(4) {
            0 => 0,
            1 => value & rng.next(),
            2 => value,
            _ => random_value(rng), // bits outside the mask too
        });
    } else if rng.chance(20) {
        c["valueTwo"] = json!(rng.next()); // ignored by both
    }
    c
}

/// Which rules may not carry different conditional actions (deviation 3):
/// a syscall, or an i386 multiplexer together with the calls it carries.
fn conflict_group(name: &str) -> String {
    match syscalls::i386_multiplexed(name) {
        Some((nr, _)) => format!("mux{nr}"),
        None if name == "socketcall" => format!("mux{I386_SOCKETCALL}"),
        None if name == "ipc" => format!("mux{I386_IPC}"),
        None => name.to_string(),
    }
}

pub(super) fn generated_profile(rng: &mut Rng) -> Value {
    let pool = name_pool(rng);
    let (default_action, default_errno) = random_action(rng, false);
    let default_value = runc_action(
        serde_json::from_value(json!(default_action)).unwrap(),
        default_errno,
    );
    let mut arches = Vec::new();
    for arch in [
        "SCMP_ARCH_X86_64",
        "SCMP_ARCH_X86",
        "SCMP_ARCH_X32",
        "SCMP_ARCH_AARCH64",
    ] {
        if rng.chance(if arch == "SCMP_ARCH_AARCH64" { 15 } else { 60 }) {
            arches.push(arch);
        }
    }
    let mut conditional_action: HashMap<String, u32> = HashMap::new();
    let mut calls = Vec::new();
    for _ in 0..1 + rng.below(14) {
        let (action, errno_ret) = random_action(rng, true);
        let value = runc_action(serde_json::from_value(json!(action)).unwrap(), errno_ret);
        let args: Vec<Value> = if rng.chance(55) {
            Vec::new()
        } else {
            (0..1 + rng.below(3))
                .map(|_| random_condition(rng))
                .collect()
        };
        let mut names: Vec<&str> = (0..1 + rng.below(3)).map(|_| *rng.pick(&pool)).collect();
        names.sort_unstable();
        names.dedup();
        if action == "SCMP_ACT_NOTIFY" {
            names.retain(|n| *n != "write");
        }
        if value != default_value {
            // On i386 a rule on a multiplexed call is a condition on its
            // multiplexer, with or without args (libseccomp even refuses
            // some such conflicts: EEXIST, and runc fails).
            names.retain(|n| {
                let conditional = !args.is_empty() || syscalls::i386_multiplexed(n).is_some();
                !conditional
                    || *conditional_action.entry(conflict_group(n)).or_insert(value) == value
            });
        }
        if names.is_empty() {
            continue;
        }
        let mut call = json!({"names": names, "action": action});
        if let Some(e) = errno_ret {
            call["errnoRet"] = json!(e);
        }
        if !args.is_empty() {
            call["args"] = json!(args);
        }
        calls.push(call);
    }
    let mut profile = json!({
        "defaultAction": default_action,
        "architectures": arches,
        "syscalls": calls,
    });
    if let Some(e) = default_errno {
        profile["defaultErrnoRet"] = json!(e);
    }
    profile
}
