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

    /// The 32-bit word at `offset`, as laid out in memory on little-endian x86.
    fn word(&self, offset: u32) -> u32 {
        let mut bytes = Vec::with_capacity(64);
        bytes.extend_from_slice(&self.nr.to_le_bytes());
        bytes.extend_from_slice(&self.arch.to_le_bytes());
        bytes.extend_from_slice(&self.instruction_pointer.to_le_bytes());
        for a in self.args {
            bytes.extend_from_slice(&a.to_le_bytes());
        }
        let o = offset as usize;
        u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap())
    }
}

/// Run `prog` on `data` and return the seccomp return value. Panics on
/// anything the kernel verifier would reject, so a broken program fails tests.
pub fn run(prog: &[libc::sock_filter], data: &SeccompData) -> u32 {
    let mut a: u32 = 0;
    let mut pc = 0usize;
    let mut steps = 0;
    loop {
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
