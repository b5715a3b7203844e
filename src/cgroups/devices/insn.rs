//! The handful of eBPF instructions a device filter needs, encoded as the
//! kernel's `struct bpf_insn` (8 bytes: opcode, dst/src registers, 16-bit
//! offset, 32-bit immediate; see the kernel's Documentation/bpf/instruction-set).
//!
//! Only 32-bit ALU operations, 32-bit context loads, forward conditional
//! jumps against an immediate, `mov r0, imm` and `exit` are needed, so that is
//! all this emitter offers.

/// A register; r0 is the return value, r1 the context pointer on entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reg(pub u8);

pub const R0: Reg = Reg(0);
pub const R1: Reg = Reg(1);

// Instruction classes.
const CLASS_LDX: u8 = 0x01;
const CLASS_JMP: u8 = 0x05;
const CLASS_ALU: u8 = 0x04; // 32-bit ALU
const CLASS_ALU64: u8 = 0x07;
// Load size and mode.
const SIZE_W: u8 = 0x00;
const MODE_MEM: u8 = 0x60;
// Source operand: immediate (K) or register (X).
const SRC_K: u8 = 0x00;
const SRC_X: u8 = 0x08;

/// The ALU operations the filter uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alu {
    And = 0x50,
    Rsh = 0x70,
    Mov = 0xb0,
}

/// Conditional jumps (comparing a register with an immediate).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Jmp {
    Eq = 0x10,
    Ne = 0x50,
}

const JMP_EXIT: u8 = 0x90;

/// One encoded instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    pub dst: u8,
    pub src: u8,
    pub off: i16,
    pub imm: i32,
}

impl Insn {
    /// `dst = *(u32 *)(src + off)`
    pub fn load_u32(dst: Reg, src: Reg, off: i16) -> Insn {
        Insn {
            code: CLASS_LDX | MODE_MEM | SIZE_W,
            dst: dst.0,
            src: src.0,
            off,
            imm: 0,
        }
    }

    /// `dst op= imm` on the low 32 bits (the upper half is zeroed).
    pub fn alu32_imm(op: Alu, dst: Reg, imm: u32) -> Insn {
        Insn {
            code: CLASS_ALU | SRC_K | op as u8,
            dst: dst.0,
            src: 0,
            off: 0,
            imm: imm as i32,
        }
    }

    /// `dst op= src` on the low 32 bits.
    pub fn alu32_reg(op: Alu, dst: Reg, src: Reg) -> Insn {
        Insn {
            code: CLASS_ALU | SRC_X | op as u8,
            dst: dst.0,
            src: src.0,
            off: 0,
            imm: 0,
        }
    }

    /// `dst = imm` on all 64 bits (what r0 needs before `exit`).
    pub fn mov64_imm(dst: Reg, imm: i32) -> Insn {
        Insn {
            code: CLASS_ALU64 | SRC_K | Alu::Mov as u8,
            dst: dst.0,
            src: 0,
            off: 0,
            imm,
        }
    }

    /// `if dst op imm goto pc + 1 + off`; the offset is patched later by
    /// the program builder when the target is known.
    pub fn jmp_imm(op: Jmp, dst: Reg, imm: u32, off: i16) -> Insn {
        Insn {
            code: CLASS_JMP | SRC_K | op as u8,
            dst: dst.0,
            src: 0,
            off,
            imm: imm as i32,
        }
    }

    pub fn exit() -> Insn {
        Insn {
            code: CLASS_JMP | JMP_EXIT,
            dst: 0,
            src: 0,
            off: 0,
            imm: 0,
        }
    }

    /// The kernel's wire format: `code, dst_reg:4 | src_reg:4 << 4, off, imm`
    /// (bitfields in little-endian order on the machines rt targets).
    pub fn encode(&self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[0] = self.code;
        b[1] = (self.dst & 0x0f) | (self.src << 4);
        b[2..4].copy_from_slice(&self.off.to_ne_bytes());
        b[4..8].copy_from_slice(&self.imm.to_ne_bytes());
        b
    }
}

/// Encodes a whole program for `BPF_PROG_LOAD`.
pub fn encode_all(prog: &[Insn]) -> Vec<u64> {
    prog.iter()
        .map(|i| u64::from_ne_bytes(i.encode()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Reference encodings from the kernel's filter.h macros, e.g.
    // BPF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_1, 4) is 61 12 04 00 00 00 00 00.
    #[test]
    fn encodings_match_the_kernel_macros() {
        assert_eq!(
            Insn::load_u32(Reg(2), R1, 4).encode(),
            [0x61, 0x12, 4, 0, 0, 0, 0, 0]
        );
        assert_eq!(
            Insn::alu32_imm(Alu::And, Reg(2), 0xffff).encode(),
            [0x54, 0x02, 0, 0, 0xff, 0xff, 0, 0]
        );
        assert_eq!(
            Insn::alu32_imm(Alu::Rsh, Reg(3), 16).encode(),
            [0x74, 0x03, 0, 0, 16, 0, 0, 0]
        );
        assert_eq!(
            Insn::alu32_reg(Alu::Mov, R1, Reg(3)).encode(),
            [0xbc, 0x31, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(
            Insn::mov64_imm(R0, 1).encode(),
            [0xb7, 0x00, 0, 0, 1, 0, 0, 0]
        );
        assert_eq!(
            Insn::jmp_imm(Jmp::Ne, Reg(4), 8, 3).encode(),
            [0x55, 0x04, 3, 0, 8, 0, 0, 0]
        );
        assert_eq!(
            Insn::jmp_imm(Jmp::Eq, Reg(3), 0, 1).encode(),
            [0x15, 0x03, 1, 0, 0, 0, 0, 0]
        );
        assert_eq!(Insn::exit().encode(), [0x95, 0, 0, 0, 0, 0, 0, 0]);
    }
}
