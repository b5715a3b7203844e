//! Syscall name → number tables for the ABIs an x86_64 kernel runs:
//! x86_64 itself, i386 (compat, `int 0x80`) and x32.
//!
//! All tables are sorted by name and searched with a binary search, so
//! resolving Docker's ~350 names costs a few microseconds.

mod table;

use table::{NONE, TABLE};

/// The x32 ABI marks its syscall numbers with this bit (`__X32_SYSCALL_BIT`).
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// One syscall's number on each ABI (`NONE` where it does not exist).
struct Row {
    name: &'static str,
    x86_64: u32,
    i386: u32,
    x32: u32,
}

/// One of the syscall ABIs that can reach an x86_64 kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Abi {
    X86_64,
    I386,
    X32,
}

/// The table row of `name`: one binary search serves all three ABIs.
pub struct Syscall(&'static Row);

impl Syscall {
    pub fn lookup(name: &str) -> Option<Syscall> {
        TABLE
            .binary_search_by(|row| row.name.cmp(name))
            .ok()
            .map(|i| Syscall(&TABLE[i]))
    }

    /// The number the kernel reports in `seccomp_data.nr` for this ABI (x32
    /// numbers carry the x32 bit), or None if the ABI lacks this syscall.
    pub fn nr(&self, abi: Abi) -> Option<u32> {
        let nr = match abi {
            Abi::X86_64 => self.0.x86_64,
            Abi::I386 => self.0.i386,
            Abi::X32 => self.0.x32,
        };
        match (nr, abi) {
            (NONE, _) => None,
            (nr, Abi::X32) => Some(nr | X32_SYSCALL_BIT),
            (nr, _) => Some(nr),
        }
    }
}

impl Abi {
    /// Convenience for one-off lookups; the compiler uses [`Syscall`].
    #[cfg(test)]
    pub fn resolve(self, name: &str) -> Option<u32> {
        Syscall::lookup(name)?.nr(self)
    }
}

/// i386's multiplexers: socketcall(2) and ipc(2), whose first argument
/// says which socket or System V IPC call is meant.
pub const I386_SOCKETCALL: u32 = 102;
pub const I386_IPC: u32 = 117;

/// The calls socketcall(2) multiplexes, with their `call` number
/// (`SYS_SOCKET` … `SYS_SENDMMSG`, linux/net.h).
const SOCKETCALLS: &[(&str, u32)] = &[
    ("socket", 1),
    ("bind", 2),
    ("connect", 3),
    ("listen", 4),
    ("accept", 5),
    ("getsockname", 6),
    ("getpeername", 7),
    ("socketpair", 8),
    ("send", 9),
    ("recv", 10),
    ("sendto", 11),
    ("recvfrom", 12),
    ("shutdown", 13),
    ("setsockopt", 14),
    ("getsockopt", 15),
    ("sendmsg", 16),
    ("recvmsg", 17),
    ("accept4", 18),
    ("recvmmsg", 19),
    ("sendmmsg", 20),
];

/// The calls ipc(2) multiplexes, with their `call` number (`SEMOP` …
/// `SHMCTL`, linux/ipc.h).
const IPC_CALLS: &[(&str, u32)] = &[
    ("semop", 1),
    ("semget", 2),
    ("semctl", 3),
    ("semtimedop", 4),
    ("msgsnd", 11),
    ("msgrcv", 12),
    ("msgget", 13),
    ("msgctl", 14),
    ("shmat", 21),
    ("shmdt", 22),
    ("shmget", 23),
    ("shmctl", 24),
];

/// For a socket or System V IPC call: the i386 multiplexer that can also
/// reach it and the `call` number selecting it there, e.g. `socket` →
/// (socketcall, 1). 32-bit programs (and libcs older than Linux 4.3's
/// direct socket syscalls) use the multiplexer, so a rule on `socket` must
/// hold for `socketcall(SYS_SOCKET, …)` as well, as libseccomp does it.
pub fn i386_multiplexed(name: &str) -> Option<(u32, u32)> {
    let find = |table: &[(&str, u32)], nr: u32| {
        table
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(_, call)| (nr, call))
    };
    find(SOCKETCALLS, I386_SOCKETCALL).or_else(|| find(IPC_CALLS, I386_IPC))
}

/// Syscalls that exist only on architectures other than x86: a profile written
/// for several architectures (Docker's, for one) names them, and libseccomp
/// silently has no rule for them on x86_64. Any name in neither this list nor
/// the x86 tables is a typo and gets an error.
const OTHER_ARCH_ONLY: &[&str] = &[
    "arc_gettls",
    "arc_settls",
    "arc_usr_cmpxchg",
    "arm_fadvise64_64",
    "arm_sync_file_range",
    "atomic_barrier",
    "atomic_cmpxchg_32",
    "breakpoint",
    "cachectl",
    "cacheflush",
    "get_tls",
    "getdomainname",
    "getpagesize",
    "getxgid",
    "getxpid",
    "getxuid",
    "kern_features",
    "memory_ordering",
    "multiplexer",
    "or1k_atomic",
    "pciconfig_iobase",
    "pciconfig_read",
    "pciconfig_write",
    "perfctr",
    "recv",
    "riscv_flush_icache",
    "riscv_hwprobe",
    "rtas",
    "s390_guarded_storage",
    "s390_pci_mmio_read",
    "s390_pci_mmio_write",
    "s390_runtime_instr",
    "s390_sthyi",
    "send",
    "set_tls",
    "spu_create",
    "spu_run",
    "subpage_prot",
    "swapcontext",
    "switch_endian",
    "sync_file_range2",
    "sys_debug_setcontext",
    // mips o32's indirect syscall; podman's default profile names it.
    "syscall",
    "sysmips",
    // 2.6.22's name for timerfd_create, still in libseccomp's tables and
    // named by podman's default profile.
    "timerfd",
    "usr26",
    "usr32",
    "utrap_install",
];

/// Every name the x86 tables know, then the other-arch-only names (for
/// tests that compare the tables with libseccomp's).
#[cfg(test)]
pub fn all_names() -> impl Iterator<Item = &'static str> {
    TABLE
        .iter()
        .map(|row| row.name)
        .chain(OTHER_ARCH_ONLY.iter().copied())
}

/// Whether `name` is a real Linux syscall on some architecture.
pub fn is_known_anywhere(name: &str) -> bool {
    Syscall::lookup(name).is_some() || OTHER_ARCH_ONLY.binary_search(&name).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_sorted(what: &str, names: Vec<&str>) {
        for pair in names.windows(2) {
            assert!(pair[0] < pair[1], "{what} not sorted at {pair:?}");
        }
    }

    #[test]
    fn tables_are_sorted_for_binary_search() {
        assert_sorted("syscall table", TABLE.iter().map(|r| r.name).collect());
        assert_sorted("other arch", OTHER_ARCH_ONLY.to_vec());
    }

    #[test]
    fn every_row_exists_on_some_x86_abi() {
        for row in TABLE {
            assert!(
                [row.x86_64, row.i386, row.x32].iter().any(|&nr| nr != NONE),
                "{} has no number",
                row.name
            );
        }
    }

    #[test]
    fn numbers_match_the_kernel_abi() {
        assert_eq!(Abi::X86_64.resolve("read"), Some(0));
        assert_eq!(Abi::X86_64.resolve("getpid"), Some(39));
        assert_eq!(Abi::X86_64.resolve("mkdir"), Some(libc::SYS_mkdir as u32));
        assert_eq!(Abi::X86_64.resolve("clone3"), Some(435));
        assert_eq!(Abi::X86_64.resolve("io_pgetevents"), Some(333));
        assert_eq!(Abi::X86_64.resolve("chown32"), None);
        assert_eq!(Abi::I386.resolve("getpid"), Some(20));
        assert_eq!(Abi::I386.resolve("socketcall"), Some(102));
        assert_eq!(Abi::I386.resolve("chown32"), Some(212));
        assert_eq!(Abi::X32.resolve("read"), Some(X32_SYSCALL_BIT));
        assert_eq!(Abi::X32.resolve("ioctl"), Some(X32_SYSCALL_BIT | 514));
        assert_eq!(Abi::X32.resolve("getpid"), Some(X32_SYSCALL_BIT | 39));
    }

    #[test]
    fn other_arch_names_are_known_but_not_on_x86() {
        for name in OTHER_ARCH_ONLY {
            assert!(is_known_anywhere(name));
            for abi in [Abi::X86_64, Abi::I386, Abi::X32] {
                assert_eq!(abi.resolve(name), None, "{name} resolves on {abi:?}");
            }
        }
        assert!(!is_known_anywhere("foo"));
        assert!(!is_known_anywhere(""));
    }
}
