//! Differential test: rt's compiler against libseccomp, which runc, crun and
//! youki hand OCI profiles to. A small C helper (libseccomp_export.c,
//! compiled here with `cc -lseccomp`; Debian's libseccomp-dev) translates
//! the profile as runc 1.1 does and exports libseccomp's BPF. Both programs
//! run in the same classic-BPF interpreter on random (arch, nr, args)
//! inputs; runc's -ENOSYS stub, which runc puts in front of libseccomp's
//! program, is applied to libseccomp's answer as runc's stub would.
//!
//! Deliberate deviations, kept out of the comparison (and why):
//! 1. Syscalls libseccomp 2.5 has never heard of (newer than its tables,
//!    e.g. `mseal`): runc ignores such a rule, rt filters the syscall. The
//!    profile both compile is stripped of those names.
//! 2. Architectures of other CPUs (`SCMP_ARCH_AARCH64`, …): libseccomp adds
//!    a section an x86_64 kernel can never enter, since the kernel never
//!    reports that AUDIT_ARCH; rt leaves it out. Not given to libseccomp;
//!    their arch values still get libseccomp's bad-arch KILL from both.
//! 3. Conditional rules of one syscall with different actions, where one
//!    call can match several of them: libseccomp's answer follows its
//!    internal argument tree (lower argument indexes first, whatever the
//!    config order), rt takes the first matching rule in config order. The
//!    OCI spec does not say; neither Docker's nor Podman's profile has such
//!    overlaps. Generated profiles never give one syscall (or one i386
//!    multiplexer and the calls it carries) two conditional actions.
//! 4. The -ENOSYS stub on i386: runc's stub ignores socket and IPC calls
//!    (libseccomp names them by pseudo numbers), so when their direct
//!    syscall or their multiplexer (socketcall 102, ipc 117) is above the
//!    highest other number a profile names, runc answers it ENOSYS in spite
//!    of the rules libseccomp has for it; rt never stubs a syscall the
//!    profile has rules for. The stub here is runc's with that fixed.
//! 5. Names that are no syscall anywhere: rt refuses them, runc ignores
//!    them (`errors.rs` tests the refusal). Not generated.
//!
//! And three bugs of libseccomp 2.5.4, where rt is right. The inputs the
//! first two touch are recognised and left out, counted; for the third,
//! libseccomp is asked about each rule alone (`rule_by_rule`):
//! * With x86_64 and x32 in one filter, a rule on a name x86_64 lacks
//!   (`_llseek`, `chown32`) and only conditional x86_64 rules, the
//!   AUDIT_ARCH_X86_64 block compares the arch value with syscall numbers
//!   (its `ld [0]` is missing), so every x86_64 and x32 rule is skipped
//!   and the default action decides (`missing_number_load`).
//! * Where two argument checks of one syscall share a tail, that tail can
//!   be reached with different words in the accumulator, e.g. `arg0 > 3`
//!   tested on arg1, or the high word of a 64-bit compare tested on the
//!   low word (`ambiguous_jumps`; rt's programs are checked to have none).
//! * Merging the rules of one syscall into its tree can lose a rule (seen
//!   with a rule runc splits for a repeated argument index next to another
//!   rule of the same action).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction as Act, LinuxSeccompOperator as Op,
};
use serde_json::{Value, json};

use super::interp::{self, SeccompData};
use super::*;
use crate::fuzzing::Rng;
use crate::seccomp::syscalls::{self, Abi, I386_IPC, I386_SOCKETCALL, Syscall};

const HELPER_SOURCE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/src/seccomp/tests/libseccomp_export.c"
);
const PODMAN_DEFAULT: &str = include_str!("../testdata/podman-default-amd64.json");

// libseccomp's action values (seccomp.h), written out so that the oracle
// does not share rt's constants.
const SCMP_ACT_KILL_PROCESS: u32 = 0x8000_0000;
const SCMP_ACT_KILL_THREAD: u32 = 0x0000_0000;
const SCMP_ACT_TRAP: u32 = 0x0003_0000;
const SCMP_ACT_ERRNO: u32 = 0x0005_0000;
const SCMP_ACT_TRACE: u32 = 0x7ff0_0000;
const SCMP_ACT_LOG: u32 = 0x7ffc_0000;
const SCMP_ACT_NOTIFY: u32 = 0x7fc0_0000;
const SCMP_ACT_ALLOW: u32 = 0x7fff_0000;
const ENOSYS_RET: u32 = SCMP_ACT_ERRNO | libc::ENOSYS as u32;

/// The helper, compiled once per test process next to the test binary.
fn helper() -> &'static Path {
    static HELPER: OnceLock<PathBuf> = OnceLock::new();
    HELPER.get_or_init(|| {
        let exe = std::env::current_exe().expect("test binary path");
        let dir = exe.parent().expect("test binary directory");
        let out = dir.join("libseccomp-export");
        // Built under a private name and renamed: test processes running
        // at once must never exec a half-written binary.
        let tmp = dir.join(format!("libseccomp-export.{}", std::process::id()));
        let result = Command::new("cc")
            .args(["-O1", "-Wall", "-o"])
            .arg(&tmp)
            .arg(HELPER_SOURCE)
            .arg("-lseccomp")
            .output()
            .expect("running cc: the differential test needs a C compiler");
        assert!(
            result.status.success(),
            "compiling {HELPER_SOURCE} failed (is libseccomp-dev installed? hack/deps.sh installs it):\n{}",
            String::from_utf8_lossy(&result.stderr)
        );
        std::fs::rename(&tmp, &out).expect("renaming the helper");
        out
    })
}

/// libseccomp's number of every name rt knows, per ABI `[x86_64, x86, x32]`
/// (x32 with the x32 bit; -1: libseccomp does not know the name; other
/// negative values: a pseudo number, i.e. not a syscall of that ABI).
fn libseccomp_numbers() -> &'static HashMap<&'static str, [i64; 3]> {
    static NUMBERS: OnceLock<HashMap<&'static str, [i64; 3]>> = OnceLock::new();
    NUMBERS.get_or_init(|| {
        let names: Vec<&'static str> = syscalls::all_names().collect();
        let out = run_helper("resolve", &names.join("\n"));
        let text = String::from_utf8(out).unwrap();
        let mut map = HashMap::new();
        for line in text.lines() {
            let f: Vec<&str> = line.split(' ').collect();
            let name = *names.iter().find(|n| **n == f[0]).unwrap();
            let nr = |i: usize| f[i].parse::<i64>().unwrap();
            map.insert(name, [nr(1), nr(2), nr(3)]);
        }
        assert_eq!(map.len(), names.len(), "every name resolved");
        map
    })
}

fn libseccomp_knows(name: &str) -> bool {
    libseccomp_numbers().get(name).is_some_and(|n| n[0] != -1)
}

fn run_helper(mode: &str, input: &str) -> Vec<u8> {
    let mut child = Command::new(helper())
        .arg(mode)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting the libseccomp helper");
    // Written from a thread: the output may fill its pipe before all the
    // input is read.
    let mut stdin = child.stdin.take().unwrap();
    let owned = input.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(owned.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "libseccomp helper {mode} failed: {}\ninput:\n{input}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// runc's getAction: the SCMP_ACT value of an OCI action.
fn runc_action(action: Act, errno_ret: Option<u32>) -> u32 {
    let data = errno_ret.map_or(libc::EPERM as u32, |e| e & 0xffff);
    match action {
        Act::ScmpActKill | Act::ScmpActKillThread => SCMP_ACT_KILL_THREAD,
        Act::ScmpActKillProcess => SCMP_ACT_KILL_PROCESS,
        Act::ScmpActTrap => SCMP_ACT_TRAP,
        Act::ScmpActErrno => SCMP_ACT_ERRNO | data,
        Act::ScmpActTrace => SCMP_ACT_TRACE | data,
        Act::ScmpActLog => SCMP_ACT_LOG,
        Act::ScmpActNotify => SCMP_ACT_NOTIFY,
        Act::ScmpActAllow => SCMP_ACT_ALLOW,
    }
}

/// SCMP_CMP_* (seccomp.h).
fn scmp_cmp(op: Op) -> u32 {
    match op {
        Op::ScmpCmpNe => 1,
        Op::ScmpCmpLt => 2,
        Op::ScmpCmpLe => 3,
        Op::ScmpCmpEq => 4,
        Op::ScmpCmpGe => 5,
        Op::ScmpCmpGt => 6,
        Op::ScmpCmpMaskedEq => 7,
    }
}

/// The helper's profile text: one rule line per name, as runc's
/// configs.Syscall list has them.
fn describe(cfg: &LinuxSeccomp) -> String {
    let mut out = format!(
        "default {}\n",
        runc_action(cfg.default_action(), cfg.default_errno_ret())
    );
    for arch in cfg.architectures().iter().flatten() {
        let name = match arch {
            Arch::ScmpArchX86_64 => "x86_64",
            Arch::ScmpArchX86 => "x86",
            Arch::ScmpArchX32 => "x32",
            _ => continue, // deviation 2
        };
        writeln!(out, "arch {name}").unwrap();
    }
    for call in cfg.syscalls().iter().flatten() {
        let action = runc_action(call.action(), call.errno_ret());
        let args = call.args().clone().unwrap_or_default();
        for name in call.names() {
            write!(out, "rule {action} {name} {}", args.len()).unwrap();
            for a in &args {
                write!(
                    out,
                    " {} {} {} {}",
                    a.index(),
                    scmp_cmp(a.op()),
                    a.value(),
                    a.value_two().unwrap_or(0)
                )
                .unwrap();
            }
            out.push('\n');
        }
    }
    out
}

fn libseccomp_program(cfg: &LinuxSeccomp) -> Vec<libc::sock_filter> {
    let bytes = run_helper("export", &describe(cfg));
    assert_eq!(bytes.len() % 8, 0, "BPF is whole instructions");
    bytes
        .chunks_exact(8)
        .map(|c| libc::sock_filter {
            code: u16::from_le_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_le_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect()
}

/// Deviation 1: the profile without the names libseccomp does not know.
fn without_names_unknown_to_libseccomp(v: &Value) -> (Value, Vec<String>) {
    let mut v = v.clone();
    let mut dropped = Vec::new();
    if let Some(calls) = v["syscalls"].as_array_mut() {
        for call in calls.iter_mut() {
            let names = call["names"].as_array_mut().unwrap();
            names.retain(|n| {
                let n = n.as_str().unwrap();
                let keep = libseccomp_knows(n);
                if !keep {
                    dropped.push(n.to_string());
                }
                keep
            });
        }
        calls.retain(|c| !c["names"].as_array().unwrap().is_empty());
    }
    dropped.sort();
    dropped.dedup();
    (v, dropped)
}

/// runc's -ENOSYS stub (patchbpf, runc 1.1): for each listed ABI, numbers
/// above the highest one any rule names get ENOSYS before libseccomp's
/// program runs; none when the default action lets syscalls run or when
/// that highest number is 0. With deviation 4.
#[derive(Debug, Default)]
struct Stub {
    x86_64: Option<u32>,
    x32: Option<u32>,
    i386: Option<u32>,
}

fn runc_stub(cfg: &LinuxSeccomp) -> Stub {
    if matches!(
        cfg.default_action(),
        Act::ScmpActAllow | Act::ScmpActLog | Act::ScmpActTrace
    ) {
        return Stub::default();
    }
    let listed = |want: Arch| cfg.architectures().iter().flatten().any(|a| *a == want);
    let highest = |abi: Abi| -> Option<u32> {
        let max = cfg
            .syscalls()
            .iter()
            .flatten()
            .flat_map(|c| c.names())
            .flat_map(|n| {
                let direct = Syscall::lookup(n).and_then(|s| s.nr(abi));
                let muxed = syscalls::i386_multiplexed(n)
                    .filter(|_| abi == Abi::I386)
                    .map(|(nr, _)| nr);
                direct.into_iter().chain(muxed)
            })
            .max()
            .unwrap_or(0);
        (max != 0).then_some(max)
    };
    Stub {
        x86_64: listed(Arch::ScmpArchX86_64)
            .then(|| highest(Abi::X86_64))
            .flatten(),
        x32: listed(Arch::ScmpArchX32)
            .then(|| highest(Abi::X32))
            .flatten(),
        i386: listed(Arch::ScmpArchX86)
            .then(|| highest(Abi::I386))
            .flatten(),
    }
}

/// The AUDIT_ARCH values whose block in libseccomp's `program` does not
/// start by loading the syscall number (the libseccomp bug above). The
/// program starts `ld [4]` and a chain of `jeq ARCH` whose true branch is
/// the arch's block.
fn missing_number_load(program: &[libc::sock_filter]) -> Vec<u32> {
    const LD_W_ABS: u16 = 0x20;
    const JEQ_K: u16 = 0x15;
    let mut broken = Vec::new();
    let mut pc = 1;
    while let Some(insn) = program.get(pc) {
        if insn.code != JEQ_K || ![X86_64, I386].contains(&insn.k) {
            break;
        }
        let block = &program[pc + 1 + insn.jt as usize];
        if block.code != LD_W_ABS || block.k != 0 {
            broken.push(insn.k);
        }
        pc += 1 + insn.jf as usize;
    }
    broken
}

/// Where a conditional jump's accumulator comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Acc {
    Start,
    Load(u32),
    Masked(u32, u32),
}

/// Per instruction: whether it is a conditional jump that different paths
/// reach with different words in the accumulator, so that it compares
/// something else than its block meant on some of them. One forward pass
/// suffices: classic BPF only jumps forward.
fn ambiguous_jumps(program: &[libc::sock_filter]) -> Vec<bool> {
    use std::collections::HashSet;
    const LD_W_ABS: u16 = 0x20;
    const AND_K: u16 = 0x54;
    const JA: u16 = 0x05;
    const RET_K: u16 = 0x06;
    let n = program.len();
    let mut sources: Vec<HashSet<Acc>> = vec![HashSet::new(); n];
    sources[0].insert(Acc::Start);
    let mut ambiguous = vec![false; n];
    for pc in 0..n {
        let insn = &program[pc];
        let here = std::mem::take(&mut sources[pc]);
        let (out, next): (HashSet<Acc>, Vec<usize>) = match insn.code {
            LD_W_ABS => ([Acc::Load(insn.k)].into(), vec![pc + 1]),
            AND_K => (
                here.iter()
                    .map(|a| match *a {
                        Acc::Load(k) => Acc::Masked(k, insn.k),
                        Acc::Masked(k, m) => Acc::Masked(k, m & insn.k),
                        Acc::Start => Acc::Start,
                    })
                    .collect(),
                vec![pc + 1],
            ),
            JA => (here, vec![pc + 1 + insn.k as usize]),
            RET_K => (HashSet::new(), Vec::new()),
            _ => {
                ambiguous[pc] = here.len() > 1;
                let jt = pc + 1 + insn.jt as usize;
                let jf = pc + 1 + insn.jf as usize;
                (here, vec![jt, jf])
            }
        };
        for next in next.into_iter().filter(|&i| i < n) {
            sources[next].extend(out.iter().copied());
        }
    }
    ambiguous
}

/// Whether runc's stub answers `d` (ENOSYS) before libseccomp's program.
fn stub_applies(stub: &Stub, d: &SeccompData) -> bool {
    let highest = match d.arch {
        X86_64 if d.nr & X32_BIT != 0 => stub.x32,
        X86_64 => stub.x86_64,
        I386 => stub.i386,
        _ => None,
    };
    highest.is_some_and(|max| d.nr > max)
}

/// What runc's filter (stub, then libseccomp's program) returns.
fn runc_decision(
    stub: &Stub,
    program: &[libc::sock_filter],
    d: &SeccompData,
    visit: impl FnMut(usize),
) -> u32 {
    if stub_applies(stub, d) {
        return ENOSYS_RET;
    }
    interp::run_traced(program, d, visit)
}

fn seed() -> u64 {
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
struct Interesting {
    numbers: [Vec<u32>; 3],
    values: Vec<u64>,
}

const ABIS: [Abi; 3] = [Abi::X86_64, Abi::I386, Abi::X32];

impl Interesting {
    fn of(cfg: &LinuxSeccomp) -> Interesting {
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

    fn input(&self, rng: &mut Rng) -> SeccompData {
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

/// How the inputs of one comparison went.
#[derive(Debug, Default)]
struct Tally {
    /// Inputs where rt agreed with runc's filter.
    agreed: usize,
    /// Of those, inputs where libseccomp's whole program dropped a rule
    /// and rt agreed with libseccomp rule by rule instead.
    rule_by_rule: usize,
    /// Inputs left out for libseccomp's code generation bugs.
    skipped: usize,
}

/// Both compilers on `inputs` random inputs for `profile`; panics listing
/// the first disagreements.
fn compare(what: &str, profile: &Value, inputs: usize, rng: &mut Rng) -> Tally {
    let (profile, dropped) = without_names_unknown_to_libseccomp(profile);
    let cfg: LinuxSeccomp = serde_json::from_value(profile.clone())
        .unwrap_or_else(|e| panic!("{what}: profile does not parse: {e}"));
    let ours = compile(&cfg).unwrap_or_else(|e| panic!("{what}: rt refuses: {e}\n{profile}"));
    let theirs = libseccomp_program(&cfg);
    let stub = runc_stub(&cfg);
    let interesting = Interesting::of(&cfg);
    let broken = missing_number_load(&theirs);
    let suspect = ambiguous_jumps(&theirs);
    assert!(
        !ambiguous_jumps(ours.instructions()).contains(&true),
        "{what}: rt's program has a jump with an ambiguous accumulator"
    );
    let mut single_rules = HashMap::new();
    let mut bad = Vec::new();
    let mut tally = Tally::default();
    for _ in 0..inputs {
        let d = interesting.input(rng);
        if broken.contains(&d.arch) {
            tally.skipped += 1;
            continue;
        }
        let mut unreliable = false;
        let want = runc_decision(&stub, &theirs, &d, |pc| unreliable |= suspect[pc]);
        if unreliable {
            tally.skipped += 1;
            continue;
        }
        let got = interp::run(ours.instructions(), &d);
        if got == want {
            tally.agreed += 1;
            continue;
        }
        match rule_by_rule(&cfg, &stub, &d, &mut single_rules) {
            Some(Verdict::Decided(v)) if v == got => {
                tally.agreed += 1;
                tally.rule_by_rule += 1;
            }
            Some(Verdict::Unreliable) => tally.skipped += 1,
            other => bad.push(format!(
                "arch {:#x} nr {:#x} args {:x?}: rt {got:#x}, runc/libseccomp {want:#x} \
                 (rule by rule: {other:x?})",
                d.arch, d.nr, d.args
            )),
        }
    }
    assert!(
        bad.is_empty(),
        "{what}: {} of {inputs} decisions differ (names dropped: {dropped:?}, stub {stub:?}):\n{}\nprofile: {profile}",
        bad.len(),
        bad.iter().take(12).cloned().collect::<Vec<_>>().join("\n")
    );
    tally
}

#[derive(Debug)]
enum Verdict {
    Decided(u32),
    /// A single-rule program hit one of libseccomp's code generation bugs.
    Unreliable,
}

/// libseccomp's tree of one syscall's rules can lose a rule (seen: a
/// rule split by runc for a repeated argument index, next to another rule
/// of the same action on the same syscall, swallows the other). Where the
/// whole program and rt disagree, ask libseccomp about each rule of that
/// syscall alone (one profile per OCI entry and name) and combine as
/// libseccomp documents it: the first unconditional rule decides, else any
/// matching conditional rule (generated profiles give them one action),
/// else the default; runc's stub first. None: no rule names the syscall.
fn rule_by_rule(
    cfg: &LinuxSeccomp,
    stub: &Stub,
    d: &SeccompData,
    cache: &mut HashMap<(usize, String), Vec<libc::sock_filter>>,
) -> Option<Verdict> {
    if stub_applies(stub, d) {
        return Some(Verdict::Decided(ENOSYS_RET));
    }
    let (abi, wide) = match d.arch {
        X86_64 if d.nr & X32_BIT != 0 => (Abi::X32, false),
        X86_64 => (Abi::X86_64, true),
        I386 => (Abi::I386, false),
        _ => return None,
    };
    let default = runc_action(cfg.default_action(), cfg.default_errno_ret());
    let mut relevant = Vec::new();
    for (i, call) in cfg.syscalls().iter().flatten().enumerate() {
        let action = runc_action(call.action(), call.errno_ret());
        if action == default {
            continue;
        }
        for name in call.names() {
            let direct = Syscall::lookup(name).and_then(|s| s.nr(abi)) == Some(d.nr);
            let muxed = abi == Abi::I386
                && syscalls::i386_multiplexed(name).is_some_and(|(nr, _)| nr == d.nr);
            if direct || muxed {
                relevant.push((i, name.clone(), action, call, muxed && !direct));
            }
        }
    }
    if relevant.is_empty() {
        return None;
    }
    let noop = |a: &oci_spec::runtime::LinuxSeccompArg| {
        let compared = if wide {
            a.value()
        } else {
            a.value() & 0xffff_ffff
        };
        a.op() == Op::ScmpCmpMaskedEq && compared == 0
    };
    for (_, _, action, call, muxed) in &relevant {
        let args = call.args().clone().unwrap_or_default();
        let mut seen = [0; 6];
        args.iter().for_each(|a| seen[a.index()] += 1);
        let split = seen.iter().any(|&n| n > 1);
        let unconditional = args.is_empty()
            || if split {
                args.iter().any(noop)
            } else {
                args.iter().all(noop)
            };
        if unconditional && !muxed {
            return Some(Verdict::Decided(*action));
        }
    }
    for (i, name, action, call, _) in &relevant {
        let program = cache.entry((*i, name.clone())).or_insert_with(|| {
            let mut one = cfg.clone();
            let mut entry = (*call).clone();
            entry.set_names(vec![name.clone()]);
            one.set_syscalls(Some(vec![entry]));
            libseccomp_program(&one)
        });
        let suspect = ambiguous_jumps(program);
        let mut unreliable = false;
        let got = interp::run_traced(program, d, |pc| unreliable |= suspect[pc]);
        if unreliable || !missing_number_load(program).is_empty() {
            return Some(Verdict::Unreliable);
        }
        if got == *action {
            return Some(Verdict::Decided(*action));
        }
    }
    Some(Verdict::Decided(default))
}

/// Every number rt's tables give equals libseccomp's, apart from names
/// libseccomp does not know (deviation 1) and i386's socket and IPC calls,
/// which libseccomp names by their multiplexer (its rules reach both).
#[test]
fn syscall_tables_match_libseccomp() {
    let numbers = libseccomp_numbers();
    let mut unknown = Vec::new();
    let mut wrong = Vec::new();
    let mut checked = 0;
    for name in syscalls::all_names() {
        let theirs = numbers[name];
        if theirs[0] == -1 {
            unknown.push(name);
            continue;
        }
        for (i, abi) in [Abi::X86_64, Abi::I386, Abi::X32].into_iter().enumerate() {
            let ours = Syscall::lookup(name).and_then(|s| s.nr(abi));
            let muxed = abi == Abi::I386 && syscalls::i386_multiplexed(name).is_some();
            let agree = match (ours, theirs[i]) {
                (_, t) if muxed => (-224..=-100).contains(&t),
                (Some(o), t) => i64::from(o) == t,
                (None, t) => t < 0,
            };
            if !agree {
                wrong.push(format!(
                    "{name} on {abi:?}: rt {ours:?}, libseccomp {}",
                    theirs[i]
                ));
            }
            checked += 1;
        }
    }
    assert!(wrong.is_empty(), "numbers differ:\n{}", wrong.join("\n"));
    println!(
        "syscall tables: {checked} numbers equal libseccomp's; unknown to libseccomp: {unknown:?}"
    );
    // Only syscalls newer than libseccomp 2.5.4 (numbers from 450 on, and
    // uprobe/uretprobe of Linux 6.11, which took free x86_64 numbers) and
    // names of other CPUs may be missing from it.
    for name in &unknown {
        let syscall = Syscall::lookup(name);
        let x86 = ABIS.map(|abi| syscall.as_ref().and_then(|s| s.nr(abi)));
        let newer = x86[0].is_some_and(|n| n >= 450) || ["uprobe", "uretprobe"].contains(name);
        assert!(
            newer || x86 == [None; 3],
            "{name} is unknown to libseccomp but neither new nor of another CPU"
        );
    }
}

#[test]
fn docker_default_profile_decides_as_libseccomp() {
    let mut rng = Rng::new(seed());
    let profile: Value = serde_json::from_str(super::docker::DOCKER_DEFAULT).unwrap();
    let start = Instant::now();
    let tally = compare("docker default", &profile, 100_000, &mut rng);
    println!(
        "docker default: {tally:?} of 100000 inputs ({:?})",
        start.elapsed()
    );
    // No libseccomp bug touches this profile: rt agrees with libseccomp's
    // whole program on every input.
    assert_eq!((tally.agreed, tally.rule_by_rule), (100_000, 0));
}

#[test]
fn podman_default_profile_decides_as_libseccomp() {
    let mut rng = Rng::new(seed());
    let profile: Value = serde_json::from_str(PODMAN_DEFAULT).unwrap();
    let start = Instant::now();
    let tally = compare("podman default", &profile, 100_000, &mut rng);
    println!(
        "podman default: {tally:?} of 100000 inputs ({:?})",
        start.elapsed()
    );
    // No libseccomp bug touches this profile: rt agrees with libseccomp's
    // whole program on every input.
    assert_eq!((tally.agreed, tally.rule_by_rule), (100_000, 0));
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

fn generated_profile(rng: &mut Rng) -> Value {
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

#[test]
fn generated_profiles_decide_as_libseccomp() {
    let mut rng = Rng::new(seed());
    let start = Instant::now();
    // RT_SECCOMP_DIFF_PROFILES: more profiles for a longer run by hand.
    let profiles = std::env::var("RT_SECCOMP_DIFF_PROFILES")
        .map(|n| n.parse().expect("RT_SECCOMP_DIFF_PROFILES: a number"))
        .unwrap_or(250);
    let per_profile = 500;
    let mut total = Tally::default();
    for i in 0..profiles {
        let profile = generated_profile(&mut rng);
        let t = compare(
            &format!("generated profile {i}"),
            &profile,
            per_profile,
            &mut rng,
        );
        total.agreed += t.agreed;
        total.rule_by_rule += t.rule_by_rule;
        total.skipped += t.skipped;
    }
    println!(
        "generated: {profiles} profiles, {} inputs: {total:?} ({:?})",
        profiles * per_profile,
        start.elapsed()
    );
    let inputs = total.agreed;
    assert!(
        inputs >= profiles * per_profile * 9 / 10,
        "only {inputs} inputs compared"
    );
}
