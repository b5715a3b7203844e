//! Moving the running image onto the read-only clone of its binary, with
//! no execve.
//!
//! Executing rt again from the clone (the fallback in the parent module)
//! costs a whole second start: the exec, glibc's start-up, relocation,
//! argument parsing and page faults, about 1 ms here per create, run or
//! exec. The same end state can be reached in place:
//!
//! 1. every mapping of the binary is replaced by the same bytes from the
//!    clone: pages still equal to the file are mapped from the clone (same
//!    inode, so the same page-cache pages), pages this process has written
//!    (relocated RELRO data, .data) are copied into anonymous memory and
//!    moved over the old range in one mremap;
//! 2. PR_SET_MM_MAP with `exe_fd` points mm->exe_file (/proc/PID/exe) at
//!    the clone. It needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE, unlike
//!    PR_SET_MM_EXE_FILE (CAP_SYS_RESOURCE), and the kernel refuses it
//!    while any mapping still refers to the old file, so step 1 must be
//!    complete.
//!
//! Every step replaces memory with identical bytes atomically (one mmap or
//! mremap each), so a failure half-way leaves a working image and the
//! caller falls back to the exec. The process must be single-threaded: a
//! write by another thread between the copy and the move would be lost.

use crate::error::{Context, Error, Result};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, MetadataExt};

/// struct prctl_mm_map (include/uapi/linux/prctl.h).
#[repr(C)]
struct PrctlMmMap {
    start_code: u64,
    end_code: u64,
    start_data: u64,
    end_data: u64,
    start_brk: u64,
    brk: u64,
    start_stack: u64,
    arg_start: u64,
    arg_end: u64,
    env_start: u64,
    env_end: u64,
    auxv: u64,
    auxv_size: u32,
    exe_fd: u32,
}

/// One mapping of the binary, from /proc/self/maps.
#[derive(Debug, PartialEq, Eq)]
struct Mapping {
    start: usize,
    end: usize,
    prot: i32,
    offset: u64,
}

/// A run of pages of one mapping: `private` when the process wrote them
/// (their bytes exist nowhere but in this process).
#[derive(Debug, PartialEq, Eq)]
struct Run {
    first: usize,
    pages: usize,
    private: bool,
}

/// Re-seats the running image on `clone` (a read-only clone of the
/// binary, opened for reading) and makes it /proc/self/exe.
pub fn reseat_on(clone: &File) -> Result<()> {
    if !may_set_exe_file() {
        return Err(Error::new(
            "PR_SET_MM_MAP needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE",
        ));
    }
    let stat = crate::sys::read_virtual("/proc/self/stat").ctx("read /proc/self/stat")?;
    let fields = stat_fields(&stat).ok_or_else(|| Error::new("unparsable /proc/self/stat"))?;
    if field(&fields, 20) != Some(1) {
        return Err(Error::new(
            "rt is multi-threaded; its image cannot be moved",
        ));
    }
    let meta = clone.metadata().ctx("fstat the clone")?;
    let maps = crate::sys::read_virtual("/proc/self/maps").ctx("read /proc/self/maps")?;
    let mappings = mappings_of(&maps, meta.dev(), meta.ino());
    if mappings.is_empty() {
        return Err(Error::new("no mapping of the binary in /proc/self/maps"));
    }
    let page = page_size();
    let pagemap = File::open("/proc/self/pagemap").ctx("open /proc/self/pagemap")?;
    let _blocked = SignalsBlocked::new().ctx("block signals")?;
    for m in &mappings {
        if m.prot & libc::PROT_EXEC != 0 {
            // Code is never written: all of it is the file's.
            map_file(clone, m.start, m.end - m.start, m.prot, m.offset).ctx("map code")?;
            continue;
        }
        let mut entries = vec![0u8; (m.end - m.start) / page * 8];
        pagemap
            .read_exact_at(&mut entries, (m.start / page * 8) as u64)
            .ctx("read /proc/self/pagemap")?;
        for run in runs(&entries) {
            let addr = m.start + run.first * page;
            let len = run.pages * page;
            if run.private {
                move_copy(addr, len, m.prot).ctx("copy written pages")?;
            } else {
                let offset = m.offset + (addr - m.start) as u64;
                map_file(clone, addr, len, m.prot, offset).ctx("map data")?;
            }
        }
    }
    set_exe_file(&fields, clone).ctx("PR_SET_MM_MAP")
}

fn may_set_exe_file() -> bool {
    use caps::{CapSet, Capability};
    [
        Capability::CAP_SYS_ADMIN,
        Capability::CAP_CHECKPOINT_RESTORE,
    ]
    .into_iter()
    .any(|c| caps::has_cap(None, CapSet::Effective, c).unwrap_or(false))
}

/// The fields of /proc/self/stat after the command name, as numbers
/// (fields that are not, such as the state letter, are 0).
fn stat_fields(stat: &str) -> Option<Vec<u64>> {
    let rest = &stat[stat.rfind(')')? + 1..];
    Some(
        rest.split_whitespace()
            .map(|f| f.parse().unwrap_or(0))
            .collect(),
    )
}

/// Field `n` of /proc/self/stat, numbered as in proc(5) (1 is the pid).
fn field(fields: &[u64], n: usize) -> Option<u64> {
    fields.get(n.checked_sub(3)?).copied()
}

/// The mappings of the file (`dev`, `ino`) in a /proc/PID/maps text.
fn mappings_of(maps: &str, dev: u64, ino: u64) -> Vec<Mapping> {
    let want_dev = format!("{:02x}:{:02x}", libc::major(dev), libc::minor(dev));
    let want_ino = ino.to_string();
    maps.lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            let (range, perms, offset, dev, ino) =
                (f.next()?, f.next()?, f.next()?, f.next()?, f.next()?);
            if dev != want_dev || ino != want_ino {
                return None;
            }
            let (start, end) = range.split_once('-')?;
            let perms = perms.as_bytes();
            let prot = [
                (b'r', libc::PROT_READ),
                (b'w', libc::PROT_WRITE),
                (b'x', libc::PROT_EXEC),
            ]
            .iter()
            .zip(perms)
            .filter(|((want, _), got)| want == *got)
            .fold(0, |p, ((_, bit), _)| p | bit);
            Some(Mapping {
                start: usize::from_str_radix(start, 16).ok()?,
                end: usize::from_str_radix(end, 16).ok()?,
                prot,
                offset: u64::from_str_radix(offset, 16).ok()?,
            })
        })
        .collect()
}

/// Splits pagemap entries (8 bytes per page) into runs of pages the
/// process wrote (present anonymous pages, or swapped out) and pages whose
/// bytes are still the file's (file pages, or never touched).
fn runs(entries: &[u8]) -> Vec<Run> {
    const PRESENT: u64 = 1 << 63;
    const SWAPPED: u64 = 1 << 62;
    const FILE_PAGE: u64 = 1 << 61;
    let mut out: Vec<Run> = Vec::new();
    for (i, e) in entries.chunks_exact(8).enumerate() {
        let e = u64::from_ne_bytes(e.try_into().expect("chunks of 8"));
        let private = e & SWAPPED != 0 || (e & PRESENT != 0 && e & FILE_PAGE == 0);
        match out.last_mut() {
            Some(run) if run.private == private => run.pages += 1,
            _ => out.push(Run {
                first: i,
                pages: 1,
                private,
            }),
        }
    }
    out
}

fn page_size() -> usize {
    nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .map_or(4096, |p| p as usize)
}

/// Maps `len` bytes of `file` at `offset` over [addr, addr+len).
fn map_file(file: &File, addr: usize, len: usize, prot: i32, offset: u64) -> nix::Result<()> {
    // SAFETY: the range is a mapping of this same binary (same inode) at
    // the same offset, and every page mapped here still holds the file's
    // bytes (code, or data pages the process never wrote), so the memory
    // reads the same before and after the call; the kernel swaps the
    // mapping atomically for this single thread.
    let got = unsafe {
        libc::mmap(
            addr as *mut libc::c_void,
            len,
            prot,
            libc::MAP_PRIVATE | libc::MAP_FIXED,
            file.as_raw_fd(),
            offset as libc::off_t,
        )
    };
    if got == libc::MAP_FAILED {
        return Err(nix::Error::last());
    }
    Ok(())
}

/// Replaces [addr, addr+len) by an anonymous copy of its bytes.
fn move_copy(addr: usize, len: usize, prot: i32) -> nix::Result<()> {
    // SAFETY: a fresh private anonymous mapping the kernel places where it
    // is free; nothing else refers to it.
    let tmp = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
            -1,
            0,
        )
    };
    if tmp == libc::MAP_FAILED {
        return Err(nix::Error::last());
    }
    let local = libc::iovec {
        iov_base: tmp,
        iov_len: len,
    };
    let remote = libc::iovec {
        iov_base: addr as *mut libc::c_void,
        iov_len: len,
    };
    let fill_and_move = || -> nix::Result<()> {
        // SAFETY: the kernel copies our own readable range into the
        // temporary mapping, both `len` bytes long; no Rust reference
        // covers either.
        let copied = unsafe { libc::process_vm_readv(libc::getpid(), &local, 1, &remote, 1, 0) };
        if copied < 0 {
            return Err(nix::Error::last());
        }
        if copied != len as isize {
            return Err(nix::Error::EFAULT);
        }
        // SAFETY: changes the protection of the temporary mapping only.
        if unsafe { libc::mprotect(tmp, len, prot) } != 0 {
            return Err(nix::Error::last());
        }
        // SAFETY: moves the temporary mapping, ours alone, over the old
        // range in one step. Signals are blocked and no other thread
        // exists, so nothing wrote the old range since the copy, and it
        // reads the same bytes afterwards.
        let moved = unsafe {
            libc::mremap(
                tmp,
                len,
                len,
                libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED,
                addr as *mut libc::c_void,
            )
        };
        if moved == libc::MAP_FAILED {
            return Err(nix::Error::last());
        }
        Ok(())
    };
    let result = fill_and_move();
    if result.is_err() {
        // SAFETY: unmaps only the temporary mapping made above, which did
        // not move.
        unsafe { libc::munmap(tmp, len) };
    }
    result
}

/// PR_SET_MM_MAP with the current layout (unchanged) and `exe` as the
/// new exe_file.
fn set_exe_file(fields: &[u64], exe: &File) -> Result<()> {
    let f =
        |n| field(fields, n).ok_or_else(|| Error::new(format!("/proc/self/stat has no field {n}")));
    // SAFETY: brk(0) only reports the current program break.
    let brk = unsafe { libc::syscall(libc::SYS_brk, 0) } as u64;
    let map = PrctlMmMap {
        start_code: f(26)?,
        end_code: f(27)?,
        start_stack: f(28)?,
        start_data: f(45)?,
        end_data: f(46)?,
        start_brk: f(47)?,
        brk,
        arg_start: f(48)?,
        arg_end: f(49)?,
        env_start: f(50)?,
        env_end: f(51)?,
        auxv: 0,
        auxv_size: 0,
        exe_fd: exe.as_raw_fd() as u32,
    };
    // SAFETY: the kernel reads `map` (its size is passed) and validates
    // every address in it; the values are the ones it reported for this
    // process, so only exe_file changes.
    let rc = unsafe {
        libc::prctl(
            libc::PR_SET_MM,
            libc::PR_SET_MM_MAP,
            &map as *const PrctlMmMap,
            std::mem::size_of::<PrctlMmMap>(),
            0,
        )
    };
    if rc != 0 {
        return Err(Error::errno("set exe_file", nix::Error::last()));
    }
    Ok(())
}

/// All signals blocked while the image moves, restored on drop: a handler
/// writing a global between a copy and its move would be lost.
struct SignalsBlocked(nix::sys::signal::SigSet);

impl SignalsBlocked {
    fn new() -> nix::Result<Self> {
        use nix::sys::signal::{SigSet, SigmaskHow};
        let mut old = SigSet::empty();
        nix::sys::signal::sigprocmask(
            SigmaskHow::SIG_SETMASK,
            Some(&SigSet::all()),
            Some(&mut old),
        )?;
        Ok(Self(old))
    }
}

impl Drop for SignalsBlocked {
    fn drop(&mut self) {
        use nix::sys::signal::SigmaskHow;
        let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&self.0), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAPS: &str = "\
555555554000-555555650000 r--p 00000000 fe:00 1234                       /usr/bin/rt
555555650000-5555558de000 r-xp 000fb000 fe:00 1234                       /usr/bin/rt
5555558de000-555555910000 r--p 00388000 fe:00 1234                       /usr/bin/rt
555555910000-555555913000 rw-p 003b9000 fe:00 1234                       /usr/bin/rt
555555913000-555555919000 rw-p 00000000 00:00 0 
55555591a000-55555593b000 rw-p 00000000 00:00 0                          [heap]
7ffff7ff9000-7ffff7ffd000 r--p 00000000 fe:00 99                         /usr/lib/other
7ffff7ffd000-7ffff7fff000 r-xp 00000000 fe:01 1234                       /mnt/same-ino-other-dev
";

    #[test]
    fn only_mappings_of_the_binary_are_picked_with_their_protection() {
        let got = mappings_of(MAPS, libc::makedev(0xfe, 0), 1234);
        assert_eq!(
            got,
            vec![
                Mapping {
                    start: 0x555555554000,
                    end: 0x555555650000,
                    prot: libc::PROT_READ,
                    offset: 0
                },
                Mapping {
                    start: 0x555555650000,
                    end: 0x5555558de000,
                    prot: libc::PROT_READ | libc::PROT_EXEC,
                    offset: 0xfb000
                },
                Mapping {
                    start: 0x5555558de000,
                    end: 0x555555910000,
                    prot: libc::PROT_READ,
                    offset: 0x388000
                },
                Mapping {
                    start: 0x555555910000,
                    end: 0x555555913000,
                    prot: libc::PROT_READ | libc::PROT_WRITE,
                    offset: 0x3b9000
                },
            ]
        );
        assert!(mappings_of(MAPS, libc::makedev(0xfe, 0), 4321).is_empty());
    }

    #[test]
    fn written_and_swapped_pages_are_private_file_and_untouched_pages_are_not() {
        let present_file = (1u64 << 63) | (1 << 61);
        let present_anon = 1u64 << 63;
        let swapped = 1u64 << 62;
        let untouched = 0u64;
        let entries: Vec<u8> = [
            untouched,
            present_file,
            present_anon,
            present_anon,
            swapped,
            present_file,
        ]
        .iter()
        .flat_map(|e| e.to_ne_bytes())
        .collect();
        assert_eq!(
            runs(&entries),
            vec![
                Run {
                    first: 0,
                    pages: 2,
                    private: false
                },
                Run {
                    first: 2,
                    pages: 3,
                    private: true
                },
                Run {
                    first: 5,
                    pages: 1,
                    private: false
                },
            ]
        );
    }

    #[test]
    fn stat_fields_are_numbered_as_in_proc_5_even_with_spaces_in_the_name() {
        let stat = "4242 (rt (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 \
                    77 1000 200 18446744073709551615 93824992231424 93824994747024 \
                    140737488346112 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 93824994800000 \
                    93824994810000 93824994820000 140737488347000 140737488347100 \
                    140737488347100 140737488351000 0";
        let f = stat_fields(stat).unwrap();
        assert_eq!(field(&f, 3), Some(0), "the state letter is not a number");
        assert_eq!(field(&f, 4), Some(1));
        assert_eq!(field(&f, 20), Some(1), "num_threads");
        assert_eq!(field(&f, 26), Some(93824992231424), "startcode");
        assert_eq!(field(&f, 28), Some(140737488346112), "startstack");
        assert_eq!(field(&f, 45), Some(93824994800000), "start_data");
        assert_eq!(field(&f, 51), Some(140737488351000), "env_end");
        assert_eq!(field(&f, 2), None);
    }

    #[test]
    fn a_multi_threaded_process_is_refused_before_anything_moves() {
        // The test harness runs this on a thread of its own; keep one more
        // alive to be sure there are two.
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let other = std::thread::spawn(move || rx.recv().ok());
        let clone = File::open("/proc/self/exe").unwrap();
        let err = reseat_on(&clone).unwrap_err().to_string();
        tx.send(()).unwrap();
        other.join().unwrap();
        assert!(
            err.contains("multi-threaded") || err.contains("CAP_"),
            "{err}"
        );
    }
}
