//! runc's side around libseccomp's program: the -ENOSYS stub runc puts in
//! front of it, the recognisers for libseccomp's code generation bugs, and
//! the rule-by-rule answer where libseccomp's tree lost a rule.

use std::collections::HashMap;

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction as Act, LinuxSeccompOperator as Op,
};

use super::super::interp::{self, SeccompData};
use super::super::{I386, X32_BIT, X86_64};
use super::helper::{ENOSYS_RET, libseccomp_program, runc_action};
use crate::seccomp::syscalls::{self, Abi, Syscall};

/// runc's -ENOSYS stub (patchbpf, runc 1.1): for each listed ABI, numbers
/// above the highest one any rule names get ENOSYS before libseccomp's
/// program runs; none when the default action lets syscalls run or when
/// that highest number is 0. With deviation 4.
#[derive(Debug, Default)]
pub(super) struct Stub {
    x86_64: Option<u32>,
    x32: Option<u32>,
    i386: Option<u32>,
}

pub(super) fn runc_stub(cfg: &LinuxSeccomp) -> Stub {
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
pub(super) fn missing_number_load(program: &[libc::sock_filter]) -> Vec<u32> {
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
pub(super) fn ambiguous_jumps(program: &[libc::sock_filter]) -> Vec<bool> {
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
pub(super) fn runc_decision(
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

#[derive(Debug)]
pub(super) enum Verdict {
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
pub(super) fn rule_by_rule(
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
