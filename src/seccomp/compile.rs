//! OCI `linux.seccomp` → classic BPF.
//!
//! Program shape:
//!
//! ```text
//!   A = arch;  x86_64 → X;  i386 → I (only if SCMP_ARCH_X86 listed);  else ret KILL
//! X: A = nr;  binary search over nr ranges (x86_64 numbers: bit 30 clear,
//!             x32 numbers: bit 30 set) → ret <action> | argument chain
//! I: A = nr;  binary search over i386 numbers → ret <action> | argument chain
//!    argument chains: rule after rule, each an AND of 64-bit comparisons
//!    (32-bit on i386 and x32), first matching rule returns its action, else default
//!    ret blocks, one per distinct return value
//! ```
//!
//! The binary search compares against range starts only (`jge`), so the
//! program is O(ranges) long and a syscall costs O(log ranges) jumps: Docker's
//! default profile (x86_64 + x32 + i386) compiles to a few hundred
//! instructions and any syscall is decided in ~10 instructions.

use std::collections::HashMap;

use libc::sock_filter;
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator,
};

use super::SeccompError;
use super::bpf::{self, Assembler, Cmp, Label};
use super::syscalls::{self, Abi, Syscall, X32_SYSCALL_BIT};

/// `AUDIT_ARCH_*` as the kernel reports it in `seccomp_data.arch`. x32 shares
/// AUDIT_ARCH_X86_64 and is told apart by the x32 bit in the syscall number.
pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
pub const AUDIT_ARCH_I386: u32 = 0x4000_0003;

/// What a syscall from an architecture the profile does not list gets:
/// libseccomp's default "bad arch" action, SCMP_ACT_KILL (kill the thread).
pub const RET_BAD_ARCH: u32 = libc::SECCOMP_RET_KILL_THREAD;
pub const RET_ENOSYS: u32 = libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;

const FIELD: &str = "linux.seccomp";

/// The output of [`compile`], before it is wrapped into `SeccompProgram`.
pub struct Compiled {
    pub filter: Vec<sock_filter>,
    pub flags: libc::c_ulong,
    pub notify: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Condition {
    index: u8,
    op: LinuxSeccompOperator,
    value: u64,
    value_two: u64,
}

impl Condition {
    /// A masked-equal whose mask is zero in every compared half holds for
    /// any argument (the datum is masked too). libseccomp leaves such a
    /// condition out, so a rule made only of them is unconditional there,
    /// and takes an unconditional rule's precedence; the same here.
    fn is_noop(&self, wide: bool) -> bool {
        let compared = if wide {
            self.value
        } else {
            self.value & 0xffff_ffff
        };
        self.op == LinuxSeccompOperator::ScmpCmpMaskedEq && compared == 0
    }
}

/// One rule as matched: all conditions must hold (AND).
struct Rule {
    action: u32,
    conditions: Vec<Condition>,
}

/// What the binary search hands a syscall number range to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Ret(u32),
    Chain(usize),
}

/// Rules for one syscall number that need argument checks, tried in order.
struct Chain {
    rules: Vec<usize>,
    /// Compare all 64 bits of arguments (false on i386, whose args are 32-bit).
    wide: bool,
}

pub fn compile(cfg: &LinuxSeccomp) -> Result<Compiled, SeccompError> {
    let default = action_value(
        cfg.default_action(),
        cfg.default_errno_ret(),
        &format!("{FIELD}.defaultErrnoRet"),
    )?;
    if cfg.default_action() == LinuxSeccompAction::ScmpActNotify {
        return Err(SeccompError::config(
            format!("{FIELD}.defaultAction"),
            "SCMP_ACT_NOTIFY cannot be the default action",
        ));
    }

    let listed = listed_abis(cfg.architectures().as_deref().unwrap_or_default());
    // libseccomp always filters the native ABI, listed or not.
    let mut abis = listed.clone();
    if !abis.contains(&Abi::X86_64) {
        abis.push(Abi::X86_64);
    }

    let mut rules: Vec<Rule> = Vec::new();
    // (ABI, nr, rule index), in config order.
    let mut matches: Vec<(Abi, u32, usize)> = Vec::new();
    let mut max_nr: HashMap<Abi, u32> = HashMap::new();
    let mut notify = false;
    for (i, call) in cfg
        .syscalls()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let at = format!("{FIELD}.syscalls[{i}]");
        let action = action_value(call.action(), call.errno_ret(), &format!("{at}.errnoRet"))?;
        let is_notify = call.action() == LinuxSeccompAction::ScmpActNotify;
        notify |= is_notify;
        let conditions = conditions(call.args().as_deref().unwrap_or_default(), &at)?;

        // runc: conditions on distinct arguments are ANDed in one rule; when
        // an argument index repeats, each condition becomes its own rule
        // (so they are ORed). Same here, for drop-in behaviour.
        let first_rule = rules.len();
        if repeats_index(&conditions) {
            rules.extend(conditions.iter().map(|c| Rule {
                action,
                conditions: vec![*c],
            }));
        } else {
            rules.push(Rule { action, conditions });
        }
        let rule_range = first_rule..rules.len();

        for (j, name) in call.names().iter().enumerate() {
            let name_at = || format!("{at}.names[{j}]");
            if is_notify && name == "write" {
                return Err(SeccompError::config(
                    name_at(),
                    "SCMP_ACT_NOTIFY cannot be used for the write syscall \
                     (the runtime needs write to hand over the notify fd)",
                ));
            }
            let syscall = Syscall::lookup(name);
            let mut resolved = false;
            for &abi in &abis {
                if let Some(nr) = syscall.as_ref().and_then(|s| s.nr(abi)) {
                    resolved = true;
                    let max = max_nr.entry(abi).or_insert(nr);
                    *max = (*max).max(nr);
                    // libseccomp refuses rules whose action is the default
                    // one and runc skips them; they change nothing anyway
                    // once the other rules of the syscall are kept in order.
                    if action != default {
                        matches.extend(rule_range.clone().map(|r| (abi, nr, r)));
                    }
                }
                if abi == Abi::I386
                    && let Some((mux_nr, call)) = syscalls::i386_multiplexed(name)
                {
                    resolved = true;
                    let max = max_nr.entry(abi).or_insert(mux_nr);
                    *max = (*max).max(mux_nr);
                    if action != default {
                        for r in rule_range.clone() {
                            let muxed = multiplexed_rule(&rules[r], call);
                            rules.push(muxed);
                            matches.push((abi, mux_nr, rules.len() - 1));
                        }
                    }
                }
            }
            if !resolved && !syscalls::is_known_anywhere(name) {
                return Err(SeccompError::config(
                    name_at(),
                    format!("unknown syscall {name:?}"),
                ));
            }
            if !resolved {
                log::debug!("seccomp: syscall {name:?} does not exist on x86, rule skipped");
            }
        }
    }

    let flags = filter_flags(cfg.flags().as_deref().unwrap_or_default(), notify)?;

    // runc's -ENOSYS stub: for each *listed* ABI, syscalls numbered above the
    // highest one the profile names get ENOSYS instead of the default action,
    // so programs fall back from syscalls newer than the profile (clone3 →
    // clone). Skipped when the default action already lets syscalls run.
    let enosys_stub = !matches!(
        cfg.default_action(),
        LinuxSeccompAction::ScmpActAllow
            | LinuxSeccompAction::ScmpActLog
            | LinuxSeccompAction::ScmpActTrace
    );
    // As runc, no stub for an ABI whose highest named number is 0 (a
    // profile naming only x86_64's `read`).
    let enosys_above = |abi: Abi| -> Option<u32> {
        if enosys_stub && listed.contains(&abi) {
            max_nr.get(&abi).copied().filter(|&max| max != 0)
        } else {
            None
        }
    };

    let mut chains: Vec<Chain> = Vec::new();
    // x32 numbers all carry the x32 bit, so they sort after x86_64's. x32
    // arguments are compared as 32-bit values, as libseccomp does (its x32
    // is a 32-bit ABI).
    let mut x86_points = points(&matches, &rules, Abi::X86_64, true, &mut chains);
    x86_points.extend(points(&matches, &rules, Abi::X32, false, &mut chains));
    let x86_background = x86_background(
        default,
        enosys_above(Abi::X86_64),
        abis.contains(&Abi::X32).then(|| enosys_above(Abi::X32)),
    );
    let x86_ranges = ranges(&x86_background, &x86_points);

    let i386_ranges = abis.contains(&Abi::I386).then(|| {
        let pts = points(&matches, &rules, Abi::I386, false, &mut chains);
        let mut background = vec![(0, Target::Ret(default))];
        if let Some(max) = enosys_above(Abi::I386).filter(|&m| m < u32::MAX) {
            background.push((max + 1, Target::Ret(RET_ENOSYS)));
        }
        ranges(&background, &pts)
    });

    let filter = emit(
        &x86_ranges,
        i386_ranges.as_deref(),
        &chains,
        &rules,
        default,
    )
    .map_err(|e| SeccompError::Internal(e.0))?;
    if filter.len() > bpf::MAX_INSNS {
        return Err(SeccompError::config(
            FIELD,
            format!(
                "seccomp profile compiles to {} instructions; the kernel allows {}",
                filter.len(),
                bpf::MAX_INSNS
            ),
        ));
    }
    Ok(Compiled {
        filter,
        flags,
        notify,
    })
}

/// What AUDIT_ARCH_X86_64 numbers without a rule get, as `(start, target)`
/// over the u32 range. Bit 30 (the x32 bit) alone says x32, so the range
/// is four quarters: x86_64, x32, x86_64, x32. `enosys_64` / `enosys_x32`
/// are the stub's highest numbers (above them: ENOSYS); `x32` is None when
/// x32 is not filtered, Some(stub) when it is.
///
/// * x86_64 numbers: the default, ENOSYS above the stub's number (runc's
///   stub compares unsigned, so all of the third quarter is above it).
/// * x32 numbers when x32 is filtered: likewise with the x32 stub.
/// * When x32 is not filtered, every number from the x32 bit up is killed
///   as a bad arch, as libseccomp does (the third quarter gets the stub's
///   ENOSYS first), except -1 (0xffffffff), which libseccomp lets through
///   to the default action (syscall(-1) fails with ENOSYS anyway).
fn x86_background(
    default: u32,
    enosys_64: Option<u32>,
    x32: Option<Option<u32>>,
) -> Vec<(u32, Target)> {
    const X86_64_HIGH: u32 = 0x8000_0000;
    const X32_HIGH: u32 = X86_64_HIGH | X32_SYSCALL_BIT;
    let ret = Target::Ret;
    let mut bg = vec![(0, ret(default))];
    if let Some(max) = enosys_64.filter(|&m| m + 1 < X32_SYSCALL_BIT) {
        bg.push((max + 1, ret(RET_ENOSYS)));
    }
    let above_stub = |stub: Option<u32>| ret(if stub.is_some() { RET_ENOSYS } else { default });
    match x32 {
        Some(enosys_x32) => {
            bg.push((X32_SYSCALL_BIT, ret(default)));
            if let Some(max) = enosys_x32.filter(|&m| m + 1 < X86_64_HIGH) {
                bg.push((max + 1, ret(RET_ENOSYS)));
            }
            bg.push((X86_64_HIGH, above_stub(enosys_64)));
            bg.push((X32_HIGH, above_stub(enosys_x32)));
        }
        None => {
            // libseccomp kills every number from the x32 bit up; runc's
            // stub answers the third quarter first.
            let bad = ret(RET_BAD_ARCH);
            bg.push((X32_SYSCALL_BIT, bad));
            bg.push((
                X86_64_HIGH,
                if enosys_64.is_some() {
                    ret(RET_ENOSYS)
                } else {
                    bad
                },
            ));
            bg.push((X32_HIGH, bad));
            bg.push((u32::MAX, ret(default)));
        }
    }
    bg
}

/// Map the `architectures` list onto the x86 ABIs. Architectures of other
/// CPUs are accepted (runc accepts any arch libseccomp knows) but ignored: an
/// x86_64 kernel never reports their AUDIT_ARCH value, so a section for them
/// could never run, and their syscalls fall to the bad-arch KILL regardless.
fn listed_abis(arches: &[Arch]) -> Vec<Abi> {
    let mut abis = Vec::new();
    for arch in arches {
        let abi = match arch {
            Arch::ScmpArchNative | Arch::ScmpArchX86_64 => Abi::X86_64,
            Arch::ScmpArchX86 => Abi::I386,
            Arch::ScmpArchX32 => Abi::X32,
            other => {
                log::debug!("seccomp: architecture {other} cannot run on x86_64, ignored");
                continue;
            }
        };
        if !abis.contains(&abi) {
            abis.push(abi);
        }
    }
    abis
}

/// Errno values libseccomp accepts for SCMP_ACT_ERRNO: below MAX_ERRNO
/// (4095), so runc refuses the rest, and so do we.
const ERRNO_LIMIT: u32 = 4095;

/// The SECCOMP_RET_* value of an action. `errno` (errnoRet) only applies to
/// ERRNO and TRACE; both default to EPERM like runc.
pub(super) fn action_value(
    action: LinuxSeccompAction,
    errno: Option<u32>,
    errno_field: &str,
) -> Result<u32, SeccompError> {
    let data = |errno: Option<u32>| -> Result<u32, SeccompError> {
        let limit = if action == LinuxSeccompAction::ScmpActErrno {
            ERRNO_LIMIT - 1
        } else {
            libc::SECCOMP_RET_DATA
        };
        match errno {
            None => Ok(libc::EPERM as u32),
            Some(e) if e <= limit => Ok(e),
            Some(e) if action == LinuxSeccompAction::ScmpActErrno => Err(SeccompError::config(
                errno_field,
                format!("{e} is not an errno SCMP_ACT_ERRNO can return (0..={limit})"),
            )),
            Some(e) => Err(SeccompError::config(
                errno_field,
                format!("{e} does not fit the 16-bit seccomp return data"),
            )),
        }
    };
    Ok(match action {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            libc::SECCOMP_RET_KILL_THREAD
        }
        LinuxSeccompAction::ScmpActKillProcess => libc::SECCOMP_RET_KILL_PROCESS,
        LinuxSeccompAction::ScmpActTrap => libc::SECCOMP_RET_TRAP,
        LinuxSeccompAction::ScmpActErrno => libc::SECCOMP_RET_ERRNO | data(errno)?,
        LinuxSeccompAction::ScmpActTrace => libc::SECCOMP_RET_TRACE | data(errno)?,
        LinuxSeccompAction::ScmpActNotify => libc::SECCOMP_RET_USER_NOTIF,
        LinuxSeccompAction::ScmpActLog => libc::SECCOMP_RET_LOG,
        LinuxSeccompAction::ScmpActAllow => libc::SECCOMP_RET_ALLOW,
    })
}

fn conditions(
    args: &[oci_spec::runtime::LinuxSeccompArg],
    at: &str,
) -> Result<Vec<Condition>, SeccompError> {
    args.iter()
        .enumerate()
        .map(|(k, arg)| {
            let index = u8::try_from(arg.index())
                .ok()
                .filter(|&i| i <= 5)
                .ok_or_else(|| {
                    SeccompError::config(
                        format!("{at}.args[{k}].index"),
                        format!("{} is not a syscall argument index (0..=5)", arg.index()),
                    )
                })?;
            let value_two = arg.value_two().unwrap_or(0);
            Ok(Condition {
                index,
                op: arg.op(),
                value: arg.value(),
                // libseccomp compares the masked argument with the masked
                // datum: bits of valueTwo outside the mask do not count.
                value_two: if arg.op() == LinuxSeccompOperator::ScmpCmpMaskedEq {
                    value_two & arg.value()
                } else {
                    value_two
                },
            })
        })
        .collect()
}

fn repeats_index(conditions: &[Condition]) -> bool {
    let mut seen = [false; 6];
    conditions
        .iter()
        .any(|c| std::mem::replace(&mut seen[c.index as usize], true))
}

/// The rule an i386 multiplexer gets for a rule on a call it carries, as
/// libseccomp makes it: the first argument must select the call (it
/// replaces any condition on argument 0), the other conditions stay.
fn multiplexed_rule(rule: &Rule, call: u32) -> Rule {
    let select = Condition {
        index: 0,
        op: LinuxSeccompOperator::ScmpCmpEq,
        value: u64::from(call),
        value_two: 0,
    };
    Rule {
        action: rule.action,
        conditions: std::iter::once(select)
            .chain(rule.conditions.iter().filter(|c| c.index != 0).copied())
            .collect(),
    }
}

fn filter_flags(
    flags: &[LinuxSeccompFilterFlag],
    notify: bool,
) -> Result<libc::c_ulong, SeccompError> {
    let mut bits: libc::c_ulong = 0;
    for (i, flag) in flags.iter().enumerate() {
        bits |= match flag {
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => libc::SECCOMP_FILTER_FLAG_TSYNC,
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => libc::SECCOMP_FILTER_FLAG_LOG,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => {
                libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW
            }
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => {
                if !notify {
                    return Err(SeccompError::config(
                        format!("{FIELD}.flags[{i}]"),
                        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs an SCMP_ACT_NOTIFY rule",
                    ));
                }
                libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
            }
        };
    }
    if notify {
        bits |= libc::SECCOMP_FILTER_FLAG_NEW_LISTENER;
        // With TSYNC the kernel reports a thread it could not sync by
        // returning its tid, which would be mistaken for the listener fd;
        // TSYNC_ESRCH makes it fail with ESRCH instead.
        if bits & libc::SECCOMP_FILTER_FLAG_TSYNC != 0 {
            bits |= libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
        }
    }
    Ok(bits)
}

/// The decision for each syscall number of `abis` that has rules, sorted by
/// number. Per number, libseccomp semantics: an unconditional rule decides
/// outright; otherwise conditional rules are tried in config order (ORed)
/// and the default action applies when none matches.
fn points(
    matches: &[(Abi, u32, usize)],
    rules: &[Rule],
    abi: Abi,
    wide: bool,
    chains: &mut Vec<Chain>,
) -> Vec<(u32, Target)> {
    let mut by_nr: Vec<(u32, usize)> = matches
        .iter()
        .filter(|(a, _, _)| *a == abi)
        .map(|&(_, nr, rule)| (nr, rule))
        .collect();
    // Rule indexes grow in config order, so sorting the pairs keeps config
    // order within one number.
    by_nr.sort_unstable();
    let mut out = Vec::new();
    for group in by_nr.chunk_by(|a, b| a.0 == b.0) {
        let nr = group[0].0;
        let mut ids: Vec<usize> = group.iter().map(|&(_, r)| r).collect();
        ids.dedup();
        let unconditional = |r: usize| rules[r].conditions.iter().all(|c| c.is_noop(wide));
        let target = match ids.iter().find(|&&r| unconditional(r)) {
            Some(&r) => Target::Ret(rules[r].action),
            None => {
                chains.push(Chain { rules: ids, wide });
                Target::Chain(chains.len() - 1)
            }
        };
        out.push((nr, target));
    }
    out
}

/// Cover the whole u32 number space with ranges `(start, target)`, sorted and
/// with neighbours merged: `background` gives the target of numbers without
/// rules, `points` (sorted) the numbers with rules.
fn ranges(background: &[(u32, Target)], points: &[(u32, Target)]) -> Vec<(u32, Target)> {
    let background_at = |nr: u32| -> Target {
        background
            .iter()
            .rev()
            .find(|(start, _)| *start <= nr)
            .map(|(_, t)| *t)
            .unwrap_or(background[0].1)
    };
    // (start, is_point, target); a point wins over a background start.
    let mut starts: Vec<(u32, bool, Target)> =
        background.iter().map(|&(s, t)| (s, false, t)).collect();
    for &(nr, target) in points {
        starts.push((nr, true, target));
        if let Some(next) = nr.checked_add(1) {
            starts.push((next, false, background_at(next)));
        }
    }
    // Equal (start, is_point) keys carry equal targets, so unstable is fine.
    starts.sort_unstable_by_key(|&(start, is_point, _)| (start, !is_point));
    starts.dedup_by_key(|&mut (start, _, _)| start);
    let mut out: Vec<(u32, Target)> = Vec::with_capacity(starts.len());
    for (start, _, target) in starts {
        if out.last().map(|(_, t)| *t) != Some(target) {
            out.push((start, target));
        }
    }
    out
}

fn emit(
    x86: &[(u32, Target)],
    i386: Option<&[(u32, Target)]>,
    chains: &[Chain],
    rules: &[Rule],
    default: u32,
) -> Result<Vec<sock_filter>, bpf::AssembleError> {
    let mut asm = Assembler::default();
    let mut rets: Vec<(u32, Label)> = Vec::new();
    let mut ret_label = |asm: &mut Assembler, value: u32| -> Label {
        if let Some(&(_, l)) = rets.iter().find(|(v, _)| *v == value) {
            return l;
        }
        let l = asm.new_label();
        rets.push((value, l));
        l
    };
    let chain_labels: Vec<Label> = chains.iter().map(|_| asm.new_label()).collect();
    let bad_arch = ret_label(&mut asm, RET_BAD_ARCH);
    let x86_entry = asm.new_label();
    let i386_entry = asm.new_label();

    asm.load(bpf::OFF_ARCH);
    match i386 {
        Some(_) => {
            let not_x86_64 = asm.new_label();
            asm.jump(Cmp::Eq, AUDIT_ARCH_X86_64, x86_entry, not_x86_64);
            asm.mark(not_x86_64);
            asm.jump(Cmp::Eq, AUDIT_ARCH_I386, i386_entry, bad_arch);
        }
        None => asm.jump(Cmp::Eq, AUDIT_ARCH_X86_64, x86_entry, bad_arch),
    }

    let mut target_label = |asm: &mut Assembler, t: Target| match t {
        Target::Ret(v) => ret_label(asm, v),
        Target::Chain(c) => chain_labels[c],
    };
    asm.mark(x86_entry);
    asm.load(bpf::OFF_NR);
    emit_search(&mut asm, x86, &mut target_label);
    if let Some(i386) = i386 {
        asm.mark(i386_entry);
        asm.load(bpf::OFF_NR);
        emit_search(&mut asm, i386, &mut target_label);
    }

    let default_label = target_label(&mut asm, Target::Ret(default));
    for (chain, &label) in chains.iter().zip(&chain_labels) {
        asm.mark(label);
        for (k, &r) in chain.rules.iter().enumerate() {
            let rule = &rules[r];
            let next = if k + 1 == chain.rules.len() {
                default_label
            } else {
                asm.new_label()
            };
            for cond in rule.conditions.iter().filter(|c| !c.is_noop(chain.wide)) {
                emit_condition(&mut asm, cond, chain.wide, next);
            }
            asm.ret(rule.action);
            if next != default_label {
                asm.mark(next);
            }
        }
    }
    for (value, label) in rets {
        asm.mark(label);
        asm.ret(value);
    }
    asm.finish()
}

/// Binary search over `ranges` with A = syscall number. Each inner node is
/// one `jge start`; leaves are jumps straight to the range's target.
fn emit_search(
    asm: &mut Assembler,
    ranges: &[(u32, Target)],
    target_label: &mut impl FnMut(&mut Assembler, Target) -> Label,
) {
    if ranges.len() == 1 {
        let l = target_label(asm, ranges[0].1);
        asm.goto(l);
        return;
    }
    let mid = ranges.len() / 2;
    let (low, high) = ranges.split_at(mid);
    let mut child = |asm: &mut Assembler, part: &[(u32, Target)]| {
        if part.len() == 1 {
            (target_label(asm, part[0].1), false)
        } else {
            (asm.new_label(), true)
        }
    };
    let (low_label, low_inner) = child(asm, low);
    let (high_label, high_inner) = child(asm, high);
    asm.jump(Cmp::Ge, high[0].0, high_label, low_label);
    if low_inner {
        asm.mark(low_label);
        emit_search(asm, low, target_label);
    }
    if high_inner {
        asm.mark(high_label);
        emit_search(asm, high, target_label);
    }
}

/// Fall through when `cond` holds, jump to `fail` otherwise. 64-bit values
/// are compared as (high word, low word) pairs: the high words decide unless
/// they are equal, then the low words do (all comparisons unsigned, as
/// libseccomp's).
fn emit_condition(asm: &mut Assembler, cond: &Condition, wide: bool, fail: Label) {
    use LinuxSeccompOperator as Op;
    let ok = asm.new_label();
    let (hi, lo) = ((cond.value >> 32) as u32, cond.value as u32);
    let load_hi = bpf::arg_offset(cond.index, true);
    let load_lo = bpf::arg_offset(cond.index, false);
    match cond.op {
        Op::ScmpCmpEq | Op::ScmpCmpNe => {
            let (on_eq, on_ne) = if cond.op == Op::ScmpCmpEq {
                (ok, fail)
            } else {
                (fail, ok)
            };
            if wide {
                let then = asm.new_label();
                asm.load(load_hi);
                asm.jump(Cmp::Eq, hi, then, on_ne);
                asm.mark(then);
            }
            asm.load(load_lo);
            asm.jump(Cmp::Eq, lo, on_eq, on_ne);
        }
        Op::ScmpCmpGt | Op::ScmpCmpGe | Op::ScmpCmpLt | Op::ScmpCmpLe => {
            // LT is !GE and LE is !GT: same code, swapped outcomes.
            let (low_cmp, on_true, on_false) = match cond.op {
                Op::ScmpCmpGt => (Cmp::Gt, ok, fail),
                Op::ScmpCmpGe => (Cmp::Ge, ok, fail),
                Op::ScmpCmpLt => (Cmp::Ge, fail, ok),
                _ => (Cmp::Gt, fail, ok),
            };
            if wide {
                let hi_not_greater = asm.new_label();
                let hi_equal = asm.new_label();
                asm.load(load_hi);
                asm.jump(Cmp::Gt, hi, on_true, hi_not_greater);
                asm.mark(hi_not_greater);
                asm.jump(Cmp::Eq, hi, hi_equal, on_false);
                asm.mark(hi_equal);
            }
            asm.load(load_lo);
            asm.jump(low_cmp, lo, on_true, on_false);
        }
        Op::ScmpCmpMaskedEq => {
            // (arg & value) == valueTwo, valueTwo already masked; a half
            // whose mask is zero always matches and is not checked.
            let want_hi = (cond.value_two >> 32) as u32;
            let want_lo = cond.value_two as u32;
            let halves = [(load_hi, hi, want_hi), (load_lo, lo, want_lo)];
            let checked: Vec<_> = halves
                .iter()
                .skip(if wide { 0 } else { 1 })
                .filter(|(_, mask, _)| *mask != 0)
                .collect();
            for (k, &&(load, mask, want)) in checked.iter().enumerate() {
                let then = if k + 1 == checked.len() {
                    ok
                } else {
                    asm.new_label()
                };
                asm.load(load);
                asm.and(mask);
                asm.jump(Cmp::Eq, want, then, fail);
                if then != ok {
                    asm.mark(then);
                }
            }
        }
    }
    asm.mark(ok);
}
