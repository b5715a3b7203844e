//! Compiles device rules into a `BPF_PROG_TYPE_CGROUP_DEVICE` program.
//!
//! The kernel runs the program on every mknod and every open of a device
//! node by a process in the cgroup, with a context of three u32s:
//! `access_type` (access bits << 16 | kind), `major`, `minor`. It returns
//! 1 to allow, 0 to deny (EPERM).
//!
//! Semantics: for each requested access bit, the last rule that matches the
//! device and names that bit decides it; the request is allowed only if
//! every bit is allowed, and a bit no rule names is denied. So rules are
//! checked from the last one back, with r3 holding the bits still
//! undecided: an allow rule clears the bits it grants (all clear: allow),
//! a deny rule that names any undecided bit denies.

use super::insn::{Alu, Insn, Jmp, R0, R1, Reg};
use super::rules::{ACC_ALL, Rule};

const TYPE: Reg = Reg(2);
const ACCESS: Reg = Reg(3);
const MAJOR: Reg = Reg(4);
const MINOR: Reg = Reg(5);
/// Scratch; r1 (the context) is no longer needed after the prologue.
const SCRATCH: Reg = R1;

pub fn compile(rules: &[Rule]) -> Vec<Insn> {
    let mut prog = vec![
        Insn::load_u32(TYPE, R1, 0),
        Insn::alu32_imm(Alu::And, TYPE, 0xffff),
        Insn::load_u32(ACCESS, R1, 0),
        Insn::alu32_imm(Alu::Rsh, ACCESS, 16),
        Insn::load_u32(MAJOR, R1, 4),
        Insn::load_u32(MINOR, R1, 8),
    ];
    for rule in rules.iter().rev() {
        prog.extend(rule_block(rule));
        if rule.is_total() {
            // Nothing after this block is reachable, and the verifier
            // refuses unreachable instructions.
            return prog;
        }
    }
    prog.extend(verdict(false));
    prog
}

fn verdict(allow: bool) -> [Insn; 2] {
    [Insn::mov64_imm(R0, allow as i32), Insn::exit()]
}

/// The instructions of one rule. Every "no match" jump goes to the end of
/// the block, i.e. to the next (earlier) rule.
fn rule_block(rule: &Rule) -> Vec<Insn> {
    if rule.access == 0 {
        return Vec::new(); // names no access bit: decides nothing
    }
    // Conditions, with the jump offset still unknown (patched below).
    let mut block = Vec::new();
    if let Some(kind) = rule.kind {
        block.push(Insn::jmp_imm(Jmp::Ne, TYPE, kind as u32, 0));
    }
    if let Some(major) = rule.major {
        block.push(Insn::jmp_imm(Jmp::Ne, MAJOR, major, 0));
    }
    if let Some(minor) = rule.minor {
        block.push(Insn::jmp_imm(Jmp::Ne, MINOR, minor, 0));
    }
    match (rule.allow, rule.access == ACC_ALL) {
        (true, true) | (false, true) => {}
        (true, false) => {
            block.push(Insn::alu32_imm(Alu::And, ACCESS, !rule.access & ACC_ALL));
            block.push(Insn::jmp_imm(Jmp::Ne, ACCESS, 0, 0));
        }
        (false, false) => {
            block.push(Insn::alu32_reg(Alu::Mov, SCRATCH, ACCESS));
            block.push(Insn::alu32_imm(Alu::And, SCRATCH, rule.access));
            block.push(Insn::jmp_imm(Jmp::Eq, SCRATCH, 0, 0));
        }
    }
    block.extend(verdict(rule.allow));
    let end = block.len();
    for (i, insn) in block.iter_mut().enumerate() {
        if insn.code & 0x07 == 0x05 && insn.code != Insn::exit().code {
            // A block is a few instructions: the offset always fits.
            insn.off = (end - i - 1) as i16;
        }
    }
    block
}

#[cfg(test)]
mod tests {
    use super::super::rules::{ACC_MKNOD, ACC_READ, ACC_WRITE, Kind};
    use super::*;

    /// Runs a program the way the kernel would for one device access,
    /// supporting exactly the instructions the emitter produces and
    /// rejecting anything the verifier would (backward jumps, jumps out of
    /// the program, reading the context through a clobbered r1, falling
    /// off the end, r0 unset at exit).
    fn run(prog: &[Insn], ctx: [u32; 3]) -> Result<u64, String> {
        let mut reg = [None::<u64>; 11];
        let mut r1_is_ctx = true;
        let mut pc = 0usize;
        loop {
            let i = *prog.get(pc).ok_or(format!("fell off the end at {pc}"))?;
            let (d, s) = (i.dst as usize, i.src as usize);
            let at = pc;
            let get =
                |reg: &[Option<u64>; 11], r: usize| reg[r].ok_or(format!("r{r} unset at {at}"));
            pc += 1;
            match i.code {
                0x61 => {
                    if s != 1 || !r1_is_ctx || i.off % 4 != 0 || i.off > 8 {
                        return Err(format!("bad context load at {}", pc - 1));
                    }
                    reg[d] = Some(ctx[i.off as usize / 4] as u64);
                }
                0x54 => reg[d] = Some((get(&reg, d)? as u32 & i.imm as u32) as u64),
                0x74 => reg[d] = Some(((get(&reg, d)? as u32) >> i.imm) as u64),
                0xbc => reg[d] = Some(get(&reg, s)? as u32 as u64),
                0xb7 => reg[d] = Some(i.imm as i64 as u64),
                0x15 | 0x55 => {
                    let eq = get(&reg, d)? == i.imm as u32 as u64;
                    if i.off < 0 {
                        return Err(format!("backward jump at {}", pc - 1));
                    }
                    if eq == (i.code == 0x15) {
                        pc += i.off as usize;
                    }
                    if pc >= prog.len() {
                        return Err(format!("jump out of the program to {pc}"));
                    }
                }
                0x95 => return get(&reg, 0),
                c => return Err(format!("unexpected opcode {c:#x} at {}", pc - 1)),
            }
            if d == 1 && i.code != 0x95 && i.code & 0x07 != 0x05 {
                r1_is_ctx = false;
            }
        }
    }

    /// The reference semantics, written directly: per access bit, the last
    /// matching rule naming the bit decides; undecided bits are denied.
    fn reference(rules: &[Rule], kind: Kind, major: u32, minor: u32, access: u32) -> bool {
        [ACC_MKNOD, ACC_READ, ACC_WRITE]
            .into_iter()
            .filter(|bit| access & bit != 0)
            .all(|bit| {
                rules
                    .iter()
                    .rev()
                    .find(|r| r.access & bit != 0 && r.matches_device(kind, major, minor))
                    .is_some_and(|r| r.allow)
            })
    }

    fn allowed(prog: &[Insn], kind: Kind, major: u32, minor: u32, access: u32) -> bool {
        let ctx = [(access << 16) | kind as u32, major, minor];
        match run(prog, ctx) {
            Ok(1) => true,
            Ok(0) => false,
            other => panic!("program returned {other:?} for {ctx:?}"),
        }
    }

    fn rule(
        allow: bool,
        kind: Option<Kind>,
        major: Option<u32>,
        minor: Option<u32>,
        access: u32,
    ) -> Rule {
        Rule {
            allow,
            kind,
            major,
            minor,
            access,
        }
    }

    /// Every (kind, major, minor, access) in a small domain that covers the
    /// numbers the rules use and some they do not.
    fn check_against_reference(rules: &[Rule]) {
        let prog = compile(rules);
        for kind in [Kind::Block, Kind::Char] {
            for major in [0, 1, 5, 8, 136] {
                for minor in [0, 1, 3, 5, 9] {
                    for access in 1..=ACC_ALL {
                        assert_eq!(
                            allowed(&prog, kind, major, minor, access),
                            reference(rules, kind, major, minor, access),
                            "{kind:?} {major}:{minor} access {access:03b} under {rules:#?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn empty_rule_list_denies_everything() {
        let prog = compile(&[]);
        assert_eq!(prog.len(), 8, "prologue and a deny verdict");
        assert!(!allowed(&prog, Kind::Char, 1, 3, ACC_READ));
    }

    #[test]
    fn runc_style_list_allows_only_the_listed_devices() {
        // runc's spec: deny everything, then the default allow list.
        let rules = [
            rule(false, None, None, None, ACC_ALL),
            rule(true, Some(Kind::Char), None, None, ACC_MKNOD),
            rule(true, Some(Kind::Block), None, None, ACC_MKNOD),
            rule(true, Some(Kind::Char), Some(1), Some(3), ACC_ALL),
            rule(true, Some(Kind::Char), Some(136), None, ACC_ALL),
        ];
        let prog = compile(&rules);
        assert!(allowed(&prog, Kind::Char, 1, 3, ACC_READ | ACC_WRITE));
        assert!(allowed(&prog, Kind::Char, 136, 7, ACC_READ));
        assert!(allowed(&prog, Kind::Block, 8, 0, ACC_MKNOD));
        assert!(!allowed(&prog, Kind::Block, 8, 0, ACC_READ), "sda readable");
        assert!(
            !allowed(&prog, Kind::Char, 1, 1, ACC_READ),
            "/dev/mem readable"
        );
        assert!(!allowed(&prog, Kind::Block, 8, 0, ACC_MKNOD | ACC_READ));
        // The deny-all rule is total: it ends the program with no default
        // verdict after it (the verifier refuses dead code).
        assert_eq!(prog[prog.len() - 2], Insn::mov64_imm(R0, 0));
        assert_eq!(prog.iter().filter(|i| **i == Insn::exit()).count(), 5);
        check_against_reference(&rules);
    }

    #[test]
    fn rules_before_a_total_rule_are_not_emitted() {
        let allow_all = rule(true, None, None, None, ACC_ALL);
        let deny_sda = rule(false, Some(Kind::Block), Some(8), Some(0), ACC_ALL);
        let prog = compile(&[deny_sda, allow_all]);
        assert_eq!(prog.len(), 6 + 2);
        assert!(allowed(&prog, Kind::Block, 8, 0, ACC_READ));
        let prog = compile(&[allow_all, deny_sda]);
        assert!(!allowed(&prog, Kind::Block, 8, 0, ACC_READ));
        assert!(allowed(&prog, Kind::Block, 8, 1, ACC_READ));
    }

    #[test]
    fn partial_access_is_decided_per_bit() {
        // Allowed rw, then w taken away: r still works, w and rw do not.
        let rules = [
            rule(
                true,
                Some(Kind::Char),
                Some(1),
                Some(3),
                ACC_READ | ACC_WRITE,
            ),
            rule(false, Some(Kind::Char), Some(1), None, ACC_WRITE),
        ];
        let prog = compile(&rules);
        assert!(allowed(&prog, Kind::Char, 1, 3, ACC_READ));
        assert!(!allowed(&prog, Kind::Char, 1, 3, ACC_WRITE));
        assert!(!allowed(&prog, Kind::Char, 1, 3, ACC_READ | ACC_WRITE));
        // Two allow rules that together grant rw.
        let rules = [
            rule(true, Some(Kind::Char), Some(1), None, ACC_READ),
            rule(true, None, None, Some(3), ACC_WRITE),
        ];
        let prog = compile(&rules);
        assert!(allowed(&prog, Kind::Char, 1, 3, ACC_READ | ACC_WRITE));
        assert!(!allowed(&prog, Kind::Char, 1, 5, ACC_READ | ACC_WRITE));
        check_against_reference(&rules);
    }

    #[test]
    fn rules_without_access_decide_nothing() {
        let rules = [rule(true, Some(Kind::Char), None, None, 0)];
        assert_eq!(compile(&rules), compile(&[]));
    }

    /// Many generated rule lists (a fixed-seed generator, so failures
    /// reproduce) against the reference matcher.
    #[test]
    fn generated_rule_lists_match_the_reference() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for _ in 0..300 {
            let len = next(7) as usize;
            let rules: Vec<Rule> = (0..len)
                .map(|_| {
                    if next(8) == 0 {
                        return rule(next(2) == 0, None, None, None, ACC_ALL);
                    }
                    let kind = [None, Some(Kind::Block), Some(Kind::Char)][next(3) as usize];
                    let major = [None, Some(1), Some(8)][next(3) as usize];
                    let minor = [None, Some(3), Some(0)][next(3) as usize];
                    rule(next(2) == 0, kind, major, minor, 1 + next(7) as u32)
                })
                .collect();
            check_against_reference(&rules);
        }
    }
}
