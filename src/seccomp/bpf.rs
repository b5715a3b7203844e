//! A tiny classic-BPF assembler for seccomp programs: forward labels, and
//! conditional jumps whose target is out of the 8-bit jt/jf reach get a
//! `ja` trampoline (32-bit offset) inserted automatically.
//!
//! We emit `libc::sock_filter` ourselves instead of using seccompiler's
//! `SeccompFilter`: seccompiler builds one single-arch filter with a linear
//! chain per rule, while an OCI profile needs x86_64 + x32 + i386 sections in
//! one program, runc's -ENOSYS handling for unknown syscalls, first-match rule
//! order and a notify listener fd (seccompiler's `apply_filter` cannot ask for
//! SECCOMP_FILTER_FLAG_NEW_LISTENER). Owning the codegen also lets us emit a
//! binary search over syscall numbers, which keeps Docker's profile short.

use libc::sock_filter;

// Opcode pieces from <linux/bpf_common.h>.
const BPF_LD: u16 = 0x00;
const BPF_ALU: u16 = 0x04;
const BPF_JMP: u16 = 0x05;
const BPF_RET: u16 = 0x06;
const BPF_W: u16 = 0x00;
const BPF_ABS: u16 = 0x20;
const BPF_K: u16 = 0x00;
const BPF_AND: u16 = 0x50;
const BPF_JA: u16 = 0x00;
const BPF_JEQ: u16 = 0x10;
const BPF_JGT: u16 = 0x20;
const BPF_JGE: u16 = 0x30;
const BPF_JSET: u16 = 0x40;

pub const OP_LD_W_ABS: u16 = BPF_LD | BPF_W | BPF_ABS;
pub const OP_AND_K: u16 = BPF_ALU | BPF_AND | BPF_K;
pub const OP_JA: u16 = BPF_JMP | BPF_JA;
pub const OP_JEQ_K: u16 = BPF_JMP | BPF_JEQ | BPF_K;
pub const OP_JGT_K: u16 = BPF_JMP | BPF_JGT | BPF_K;
pub const OP_JGE_K: u16 = BPF_JMP | BPF_JGE | BPF_K;
pub const OP_JSET_K: u16 = BPF_JMP | BPF_JSET | BPF_K;
pub const OP_RET_K: u16 = BPF_RET | BPF_K;

/// The kernel refuses longer programs (BPF_MAXINSNS).
pub const MAX_INSNS: usize = 4096;

/// Offsets into `struct seccomp_data` (little-endian x86).
pub const OFF_NR: u32 = 0;
pub const OFF_ARCH: u32 = 4;
const OFF_ARGS: u32 = 16;
const SECCOMP_DATA_LEN: u32 = 64;

/// Offset of the low (`hi == false`) or high 32-bit half of syscall argument `index`.
pub fn arg_offset(index: u8, hi: bool) -> u32 {
    OFF_ARGS + 8 * u32::from(index) + if hi { 4 } else { 0 }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Label(usize);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Gt,
    Ge,
}

impl Cmp {
    fn opcode(self) -> u16 {
        match self {
            Cmp::Eq => OP_JEQ_K,
            Cmp::Gt => OP_JGT_K,
            Cmp::Ge => OP_JGE_K,
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Insn {
    Load(u32),
    And(u32),
    Jump {
        cmp: Cmp,
        k: u32,
        jt: Label,
        jf: Label,
    },
    Goto(Label),
    Ret(u32),
    Mark(Label),
}

/// Program under construction. Jumps may only go forward (classic BPF has
/// no backward jumps), which `finish` checks.
#[derive(Default)]
pub struct Assembler {
    insns: Vec<Insn>,
    labels: usize,
}

#[derive(Debug)]
pub struct AssembleError(pub String);

impl Assembler {
    pub fn new_label(&mut self) -> Label {
        self.labels += 1;
        Label(self.labels - 1)
    }

    /// Place `label` at the next instruction.
    pub fn mark(&mut self, label: Label) {
        self.insns.push(Insn::Mark(label));
    }

    /// A = 32-bit word at `offset` of seccomp_data.
    pub fn load(&mut self, offset: u32) {
        self.insns.push(Insn::Load(offset));
    }

    pub fn and(&mut self, mask: u32) {
        self.insns.push(Insn::And(mask));
    }

    /// if (A <cmp> k) goto jt else goto jf.
    pub fn jump(&mut self, cmp: Cmp, k: u32, jt: Label, jf: Label) {
        self.insns.push(Insn::Jump { cmp, k, jt, jf });
    }

    pub fn goto(&mut self, target: Label) {
        self.insns.push(Insn::Goto(target));
    }

    pub fn ret(&mut self, value: u32) {
        self.insns.push(Insn::Ret(value));
    }

    /// Lay out the program and encode it.
    pub fn finish(self) -> Result<Vec<sock_filter>, AssembleError> {
        let n = self.insns.len();
        // Per conditional jump: does jt / jf need a `ja` trampoline?
        let mut far = vec![(false, false); n];
        let mut pos = vec![0usize; n];
        let mut label_pos = vec![usize::MAX; self.labels];
        loop {
            // Positions under the current trampoline decisions.
            let mut pc = 0;
            for (i, insn) in self.insns.iter().enumerate() {
                pos[i] = pc;
                pc += match insn {
                    Insn::Mark(l) => {
                        label_pos[l.0] = pc;
                        0
                    }
                    Insn::Jump { .. } => 1 + far[i].0 as usize + far[i].1 as usize,
                    _ => 1,
                };
            }
            let mut changed = false;
            for (i, insn) in self.insns.iter().enumerate() {
                if let Insn::Jump { jt, jf, .. } = insn {
                    // Offsets count from the instruction after the jump,
                    // trampolines included.
                    let from = pos[i] + 1;
                    let reach = |l: Label| label_pos[l.0].checked_sub(from);
                    let need_t = reach(*jt).is_none_or(|d| d > 255);
                    let need_f = reach(*jf).is_none_or(|d| d > 255);
                    if (need_t && !far[i].0) || (need_f && !far[i].1) {
                        far[i] = (far[i].0 || need_t, far[i].1 || need_f);
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }

        let target = |l: Label, from: usize| -> Result<u32, AssembleError> {
            let at = label_pos[l.0];
            if at == usize::MAX {
                return Err(AssembleError(format!("label {} never placed", l.0)));
            }
            at.checked_sub(from)
                .map(|d| d as u32)
                .ok_or_else(|| AssembleError(format!("backward jump to label {}", l.0)))
        };
        let mut out = Vec::with_capacity(n);
        for (i, insn) in self.insns.iter().enumerate() {
            match *insn {
                Insn::Mark(_) => {}
                Insn::Load(off) => out.push(stmt(OP_LD_W_ABS, off)),
                Insn::And(mask) => out.push(stmt(OP_AND_K, mask)),
                Insn::Ret(v) => out.push(stmt(OP_RET_K, v)),
                Insn::Goto(l) => out.push(stmt(OP_JA, target(l, pos[i] + 1)?)),
                Insn::Jump { cmp, k, jt, jf } => {
                    let (far_t, far_f) = far[i];
                    let after = pos[i] + 1 + far_t as usize + far_f as usize;
                    let jt_off = if far_t {
                        0
                    } else {
                        target(jt, after)? + far_t as u32 + far_f as u32
                    };
                    let jf_off = if far_f {
                        far_t as u32
                    } else {
                        target(jf, after)? + far_t as u32 + far_f as u32
                    };
                    let short = |off: u32| {
                        u8::try_from(off).map_err(|_| {
                            AssembleError(format!("jump offset {off} at insn {}", pos[i]))
                        })
                    };
                    out.push(jump(cmp.opcode(), k, short(jt_off)?, short(jf_off)?));
                    if far_t {
                        let from = pos[i] + 2;
                        out.push(stmt(OP_JA, target(jt, from)?));
                    }
                    if far_f {
                        let from = pos[i] + 2 + far_t as usize;
                        out.push(stmt(OP_JA, target(jf, from)?));
                    }
                }
            }
        }
        // The length limit is the caller's to report (it is the profile's
        // size, not a compiler bug).
        validate_structure(&out).map_err(AssembleError)?;
        Ok(out)
    }
}

fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// Check what the kernel's seccomp verifier checks, so a bad program is
/// caught here with a precise message: length, known opcodes, aligned loads
/// inside seccomp_data, every jump landing inside the program, and no path
/// running off the end.
#[cfg(test)]
pub fn validate(prog: &[sock_filter]) -> Result<(), String> {
    if prog.len() > MAX_INSNS {
        return Err(format!(
            "program length {} is not in 1..={MAX_INSNS}",
            prog.len()
        ));
    }
    validate_structure(prog)
}

/// `validate` without the length limit.
fn validate_structure(prog: &[sock_filter]) -> Result<(), String> {
    if prog.is_empty() {
        return Err("empty program".into());
    }
    let len = prog.len();
    for (pc, insn) in prog.iter().enumerate() {
        let in_range = |off: usize| pc + 1 + off < len;
        match insn.code {
            OP_LD_W_ABS => {
                if !insn.k.is_multiple_of(4) || insn.k >= SECCOMP_DATA_LEN {
                    return Err(format!("insn {pc}: load at bad offset {}", insn.k));
                }
            }
            OP_AND_K | OP_RET_K => {}
            OP_JA => {
                if !in_range(insn.k as usize) {
                    return Err(format!("insn {pc}: ja {} leaves the program", insn.k));
                }
            }
            OP_JEQ_K | OP_JGT_K | OP_JGE_K | OP_JSET_K => {
                if !in_range(insn.jt as usize) || !in_range(insn.jf as usize) {
                    return Err(format!(
                        "insn {pc}: jump {}/{} leaves the program",
                        insn.jt, insn.jf
                    ));
                }
            }
            code => return Err(format!("insn {pc}: opcode {code:#x} not allowed")),
        }
    }
    // Jumps were checked to stay inside, so only a last non-ret falls off.
    if prog[len - 1].code != OP_RET_K {
        return Err("program can run off its end".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn far_conditional_jumps_get_trampolines() {
        let mut asm = Assembler::default();
        let near = asm.new_label();
        let far = asm.new_label();
        asm.load(OFF_NR);
        asm.jump(Cmp::Eq, 7, far, near);
        asm.mark(near);
        for i in 0..300 {
            asm.ret(i);
        }
        asm.mark(far);
        asm.ret(0xdead);
        let prog = asm.finish().unwrap();
        validate(&prog).unwrap();
        // jt goes to the trampoline right after the jump, which reaches `far`.
        assert_eq!(prog[1].code, OP_JEQ_K);
        assert_eq!(prog[1].jt, 0);
        assert_eq!(prog[1].jf, 1);
        assert_eq!(prog[2].code, OP_JA);
        let far_pc = 3 + prog[2].k as usize;
        assert_eq!(prog[far_pc].k, 0xdead);
        assert_eq!(
            prog[3].k, 0,
            "jf reaches the first ret after the trampoline"
        );
    }

    #[test]
    fn validate_rejects_out_of_range_jumps_and_fallthrough() {
        let ok = [
            stmt(OP_LD_W_ABS, 0),
            jump(OP_JEQ_K, 1, 0, 1),
            stmt(OP_RET_K, 0),
            stmt(OP_RET_K, 1),
        ];
        validate(&ok).unwrap();
        let bad_jump = [jump(OP_JEQ_K, 1, 0, 2), stmt(OP_RET_K, 0)];
        assert!(validate(&bad_jump).is_err());
        let falls_off = [stmt(OP_LD_W_ABS, 0)];
        assert!(validate(&falls_off).is_err());
        let bad_load = [stmt(OP_LD_W_ABS, 64), stmt(OP_RET_K, 0)];
        assert!(validate(&bad_load).is_err());
        assert!(validate(&[]).is_err());
    }

    #[test]
    fn backward_or_unplaced_labels_are_errors() {
        let mut asm = Assembler::default();
        let back = asm.new_label();
        asm.mark(back);
        asm.load(OFF_NR);
        asm.goto(back);
        assert!(asm.finish().is_err());
        let mut asm = Assembler::default();
        let nowhere = asm.new_label();
        asm.goto(nowhere);
        asm.ret(0);
        assert!(asm.finish().is_err());
    }
}
