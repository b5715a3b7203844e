//! A minimal classic-BPF interpreter for the instructions the compiler emits,
//! run on synthetic `seccomp_data` the way the kernel would.

use crate::seccomp::bpf::{
    OP_AND_K, OP_JA, OP_JEQ_K, OP_JGE_K, OP_JGT_K, OP_JSET_K, OP_LD_W_ABS, OP_RET_K,
};

#[derive(Clone, Copy, Debug)]
pub struct SeccompData {
    pub nr: u32,
    pub arch: u32,
    pub instruction_pointer: u64,
    pub args: [u64; 6],
}

impl SeccompData {
    pub fn new(arch: u32, nr: u32, args: [u64; 6]) -> Self {
        SeccompData {
            nr,
            arch,
            instruction_pointer: 0x7fff_0000_1234,
            args,
        }
    }

    /// The 32-bit word at `offset`, as laid out in memory on little-endian
    /// x86 (no allocation: the differential test runs millions of loads).
    fn word(&self, offset: u32) -> u32 {
        let half = |v: u64, high: bool| if high { (v >> 32) as u32 } else { v as u32 };
        match offset {
            0 => self.nr,
            4 => self.arch,
            8 | 12 => half(self.instruction_pointer, offset == 12),
            16..=63 => {
                let i = (offset as usize - 16) / 8;
                half(self.args[i], offset % 8 == 4)
            }
            _ => panic!("load at offset {offset} is outside seccomp_data"),
        }
    }
}

/// Run `prog` on `data` and return the seccomp return value. Panics on
/// anything the kernel verifier would reject, so a broken program fails tests.
pub fn run(prog: &[libc::sock_filter], data: &SeccompData) -> u32 {
    run_traced(prog, data, |_| {})
}

/// `run`, calling `visit` with the index of every instruction executed.
pub fn run_traced(
    prog: &[libc::sock_filter],
    data: &SeccompData,
    mut visit: impl FnMut(usize),
) -> u32 {
    let mut a: u32 = 0;
    let mut pc = 0usize;
    let mut steps = 0;
    loop {
        visit(pc);
        steps += 1;
        assert!(steps <= prog.len(), "more steps than instructions: a loop?");
        let insn = prog
            .get(pc)
            .unwrap_or_else(|| panic!("pc {pc} ran off the program"));
        let jump = |taken: bool| {
            pc + 1
                + if taken {
                    insn.jt as usize
                } else {
                    insn.jf as usize
                }
        };
        pc = match insn.code {
            OP_LD_W_ABS => {
                assert!(
                    insn.k.is_multiple_of(4) && insn.k < 64,
                    "bad load offset {}",
                    insn.k
                );
                a = data.word(insn.k);
                pc + 1
            }
            OP_AND_K => {
                a &= insn.k;
                pc + 1
            }
            OP_JA => pc + 1 + insn.k as usize,
            OP_JEQ_K => jump(a == insn.k),
            OP_JGT_K => jump(a > insn.k),
            OP_JGE_K => jump(a >= insn.k),
            OP_JSET_K => jump(a & insn.k != 0),
            OP_RET_K => return insn.k,
            code => panic!("unexpected opcode {code:#x} at {pc}"),
        };
    }
}
