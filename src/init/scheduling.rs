//! How the kernel runs the container process: personality (execution
//! domain), scheduler policy, I/O priority and CPU affinity (runtime-spec
//! 1.2's `linux.personality`, `process.scheduler`, `process.ioPriority`,
//! `process.execCPUAffinity`).

use crate::error::{Error, Result};
use oci_spec::runtime::{
    IOPriorityClass, LinuxIOPriority, LinuxPersonality, LinuxPersonalityDomain, LinuxSchedulerFlag,
    LinuxSchedulerPolicy, Process, Scheduler,
};

/// personality(2): the execution domain (`uname -m` says i686 under
/// LINUX32). Flags are not in the kernel's stable set; like runc, none are
/// applied.
pub fn set_personality(p: &LinuxPersonality) -> Result<()> {
    const PER_LINUX: libc::c_ulong = 0x0000;
    const PER_LINUX32: libc::c_ulong = 0x0008;
    let persona = match p.domain() {
        LinuxPersonalityDomain::PerLinux => PER_LINUX,
        LinuxPersonalityDomain::PerLinux32 => PER_LINUX32,
    };
    if p.flags().as_ref().is_some_and(|f| !f.is_empty()) {
        log::warn!("linux.personality.flags are not applied");
    }
    // SAFETY: personality takes an integer and changes only our own state.
    if unsafe { libc::personality(persona) } < 0 {
        return Err(Error::errno("personality", nix::Error::last()));
    }
    Ok(())
}

/// process.ioPriority, then process.scheduler.
pub fn apply(process: &Process) -> Result<()> {
    if let Some(io) = process.io_priority() {
        set_io_priority(io)?;
    }
    if let Some(s) = process.scheduler() {
        set_scheduler(s)?;
    }
    Ok(())
}

fn set_io_priority(io: &LinuxIOPriority) -> Result<()> {
    const IOPRIO_WHO_PROCESS: libc::c_long = 1;
    const IOPRIO_CLASS_SHIFT: i64 = 13;
    let class = match io.class() {
        IOPriorityClass::IoprioClassRt => 1,
        IOPriorityClass::IoprioClassBe => 2,
        IOPriorityClass::IoprioClassIdle => 3,
    };
    let value = (class << IOPRIO_CLASS_SHIFT) | io.priority();
    // SAFETY: ioprio_set takes integers only; who = 0 is ourselves.
    let rc = unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, value) };
    if rc < 0 {
        return Err(Error::errno(
            "process.ioPriority: ioprio_set",
            nix::Error::last(),
        ));
    }
    Ok(())
}

/// struct sched_attr (include/uapi/linux/sched/types.h), up to util_max.
#[repr(C)]
#[derive(Default)]
struct SchedAttr {
    size: u32,
    policy: u32,
    flags: u64,
    nice: i32,
    priority: u32,
    runtime: u64,
    deadline: u64,
    period: u64,
    util_min: u32,
    util_max: u32,
}

pub fn policy_number(p: LinuxSchedulerPolicy) -> u32 {
    match p {
        LinuxSchedulerPolicy::SchedOther => 0,
        LinuxSchedulerPolicy::SchedFifo => 1,
        LinuxSchedulerPolicy::SchedRr => 2,
        LinuxSchedulerPolicy::SchedBatch => 3,
        LinuxSchedulerPolicy::SchedIso => 4,
        LinuxSchedulerPolicy::SchedIdle => 5,
        LinuxSchedulerPolicy::SchedDeadline => 6,
    }
}

fn flag_bit(f: LinuxSchedulerFlag) -> u64 {
    match f {
        LinuxSchedulerFlag::SchedResetOnFork => 0x01,
        LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
        LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
        LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
        LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
        LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
        LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
    }
}

fn set_scheduler(s: &Scheduler) -> Result<()> {
    let attr = SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        policy: policy_number(*s.policy()),
        flags: s
            .flags()
            .iter()
            .flatten()
            .map(|f| flag_bit(*f))
            .fold(0, |a, b| a | b),
        nice: s.nice().unwrap_or(0),
        priority: s.priority().unwrap_or(0).max(0) as u32,
        runtime: s.runtime().unwrap_or(0),
        deadline: s.deadline().unwrap_or(0),
        period: s.period().unwrap_or(0),
        ..Default::default()
    };
    // SAFETY: sched_setattr reads `attr`, whose size is in its first field;
    // pid 0 is ourselves.
    let rc = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) };
    if rc < 0 {
        return Err(Error::errno(
            format!("process.scheduler: sched_setattr {:?}", s.policy()),
            nix::Error::last(),
        ));
    }
    Ok(())
}

/// A CPU set as the kernel's affinity calls take it (1024 CPUs, the size
/// of glibc's cpu_set_t).
#[derive(Debug, PartialEq)]
pub struct CpuMask([u64; 16]);

impl CpuMask {
    const CPUS: usize = 16 * 64;

    fn set(&mut self, cpu: usize) {
        self.0[cpu / 64] |= 1 << (cpu % 64);
    }

    pub fn cpus(&self) -> Vec<usize> {
        (0..Self::CPUS)
            .filter(|c| self.0[c / 64] & (1 << (c % 64)) != 0)
            .collect()
    }
}

/// Parses a CPU list ("0-3,7").
pub fn parse_cpu_list(field: &str, list: &str) -> Result<CpuMask> {
    let bad = |why: &str| Error::new(format!("{field}: {list:?}: {why}"));
    let mut mask = CpuMask([0; 16]);
    for part in list.split(',').map(str::trim) {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a, b),
            None => (part, part),
        };
        let lo: usize = lo.parse().map_err(|_| bad("not a CPU list like 0-3,7"))?;
        let hi: usize = hi.parse().map_err(|_| bad("not a CPU list like 0-3,7"))?;
        if lo > hi || hi >= CpuMask::CPUS {
            return Err(bad("bad CPU range"));
        }
        for cpu in lo..=hi {
            mask.set(cpu);
        }
    }
    Ok(mask)
}

/// execCPUAffinity.initial (before the move into the container's cgroup)
/// or .final (after it); `field` names the field for errors.
pub fn set_affinity(field: &str, list: &str) -> Result<()> {
    let mask = parse_cpu_list(field, list)?;
    // SAFETY: sched_setaffinity reads exactly the 128 bytes of the mask we
    // pass with its size.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_sched_setaffinity,
            0,
            std::mem::size_of::<CpuMask>(),
            mask.0.as_ptr(),
        )
    };
    if rc < 0 {
        return Err(Error::errno(
            format!("{field}: sched_setaffinity {list}"),
            nix::Error::last(),
        ));
    }
    Ok(())
}

/// The two execCPUAffinity steps around the cgroup move, if asked for.
pub fn affinity_initial(process: Option<&Process>) -> Result<()> {
    match process
        .and_then(|p| p.exec_cpu_affinity().as_ref())
        .and_then(|a| a.initial().as_deref())
    {
        Some(list) if !list.is_empty() => set_affinity("process.execCPUAffinity.initial", list),
        _ => Ok(()),
    }
}

pub fn affinity_final(process: Option<&Process>) -> Result<()> {
    match process
        .and_then(|p| p.exec_cpu_affinity().as_ref())
        .and_then(|a| a.cpu_affinity_final().as_deref())
    {
        Some(list) if !list.is_empty() => set_affinity("process.execCPUAffinity.final", list),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_parse_like_the_kernel_writes_them() {
        assert_eq!(
            parse_cpu_list("f", "0-3,7").unwrap().cpus(),
            [0, 1, 2, 3, 7]
        );
        assert_eq!(parse_cpu_list("f", "5").unwrap().cpus(), [5]);
        assert_eq!(parse_cpu_list("f", "1, 3").unwrap().cpus(), [1, 3]);
    }

    #[test]
    fn bad_cpu_lists_name_the_field() {
        for bad in ["", "a", "3-1", "1-", "0,,1", "99999"] {
            let e = parse_cpu_list("process.execCPUAffinity.final", bad).unwrap_err();
            assert!(
                e.to_string().starts_with("process.execCPUAffinity.final: "),
                "{bad}: {e}"
            );
        }
    }
}
