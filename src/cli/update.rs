//! `update`: new resource limits for a container, from a JSON
//! LinuxResources (`-r FILE` or `-r -`) or from runc's flags.

use super::args::UpdateArgs;
use crate::error::{Context, Error, Result};
use crate::state::ContainerDir;
use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxPids, LinuxResources};
use std::path::Path;

pub fn update(root: &Path, a: &UpdateArgs) -> Result<i32> {
    // As runc: with --resources every other flag is ignored.
    let mut r = match a.resources.as_deref() {
        Some(source) => from_json(source)?,
        None => from_flags(a)?,
    };
    refuse_intel_rdt(a)?;
    ignore_kernel_memory(&mut r);
    let (dir, mut st) = ContainerDir::open(root, &a.id)?;
    st.cgroup.update(&r)?;
    // The device rules in force may have grown (cgroup2 filter).
    dir.save(&st)?;
    Ok(0)
}

fn from_json(source: &str) -> Result<LinuxResources> {
    let text = match source {
        "-" => {
            let mut s = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut s).ctx("read stdin")?;
            s
        }
        f => std::fs::read(f).with_ctx(|| format!("read {f}"))?,
    };
    let de = &mut serde_json::Deserializer::from_slice(&text);
    serde_path_to_error::deserialize(de)
        .map_err(|e| Error::new(format!("resources: {}: {}", e.path(), e.inner())))
}

/// The flags as a LinuxResources: only what was given is set (runc fills
/// the rest with 0, which means "leave as is" here as there).
fn from_flags(a: &UpdateArgs) -> Result<LinuxResources> {
    let mut r = LinuxResources::default();
    let mut memory = LinuxMemory::default();
    memory.set_limit(bytes("memory", &a.memory)?);
    memory.set_reservation(bytes("memory-reservation", &a.memory_reservation)?);
    memory.set_swap(bytes("memory-swap", &a.memory_swap)?);
    memory.set_kernel(bytes("kernel-memory", &a.kernel_memory)?);
    memory.set_kernel_tcp(bytes("kernel-memory-tcp", &a.kernel_memory_tcp)?);
    if memory != LinuxMemory::default() {
        r.set_memory(Some(memory));
    }
    let mut cpu = LinuxCpu::default();
    cpu.set_period(unsigned("cpu-period", &a.cpu_period)?);
    cpu.set_quota(signed("cpu-quota", &a.cpu_quota)?);
    cpu.set_shares(unsigned("cpu-share", &a.cpu_share)?);
    cpu.set_realtime_period(unsigned("cpu-rt-period", &a.cpu_rt_period)?);
    cpu.set_realtime_runtime(signed("cpu-rt-runtime", &a.cpu_rt_runtime)?);
    cpu.set_cpus(a.cpuset_cpus.clone().filter(|s| !s.is_empty()));
    cpu.set_mems(a.cpuset_mems.clone().filter(|s| !s.is_empty()));
    if cpu != LinuxCpu::default() {
        r.set_cpu(Some(cpu));
    }
    if let Some(w) = a.blkio_weight.filter(|w| *w != 0) {
        let mut b = LinuxBlockIo::default();
        b.set_weight(Some(w));
        r.set_block_io(Some(b));
    }
    if let Some(limit) = a.pids_limit {
        let mut p = LinuxPids::default();
        p.set_limit(limit);
        r.set_pids(Some(p));
    }
    Ok(r)
}

fn unsigned(flag: &str, v: &Option<String>) -> Result<Option<u64>> {
    v.as_deref()
        .map(|s| {
            s.parse::<u64>().map_err(|_| {
                Error::new(format!(
                    "invalid value for --{flag}: {s:?} is not a whole number"
                ))
            })
        })
        .transpose()
}

fn signed(flag: &str, v: &Option<String>) -> Result<Option<i64>> {
    v.as_deref()
        .map(|s| {
            s.parse::<i64>().map_err(|_| {
                Error::new(format!(
                    "invalid value for --{flag}: {s:?} is not a whole number"
                ))
            })
        })
        .transpose()
}

fn bytes(flag: &str, v: &Option<String>) -> Result<Option<i64>> {
    v.as_deref()
        .map(|s| {
            if s == "-1" {
                return Ok(-1);
            }
            ram_in_bytes(s).ok_or_else(|| {
                Error::new(format!(
                    "invalid value for --{flag}: invalid size: {s:?} (bytes, or a number with k, m, g, t or p)"
                ))
            })
        })
        .transpose()
}

/// A size as runc (docker/go-units RAMInBytes) reads it: a decimal number,
/// an optional space, an optional k/m/g/t/p (powers of 1024), an optional
/// `i` and an optional `b`, case-insensitive: "1024", "64m", "1.5GiB".
fn ram_in_bytes(s: &str) -> Option<i64> {
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(end);
    if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
        return None;
    }
    let value: f64 = number.parse().ok()?;
    let mut unit = unit.strip_prefix(' ').unwrap_or(unit).chars().peekable();
    let mut multiplier = 1f64;
    if let Some(&c) = unit.peek()
        && let Some(power) = "kmgtp".find(c.to_ascii_lowercase())
    {
        multiplier = 1024f64.powi(power as i32 + 1);
        unit.next();
        if unit.peek().is_some_and(|c| c.eq_ignore_ascii_case(&'i')) {
            unit.next();
        }
    }
    if unit.peek().is_some_and(|c| c.eq_ignore_ascii_case(&'b')) {
        unit.next();
    }
    if unit.next().is_some() {
        return None;
    }
    let bytes = value * multiplier;
    (bytes < i64::MAX as f64).then_some(bytes as i64)
}

/// rt has no Intel RDT support: say so rather than drop the schema. On a
/// host without resctrl's CAT/MBA the words are runc's.
fn refuse_intel_rdt(a: &UpdateArgs) -> Result<()> {
    let checks = [
        (
            &a.l3_cache_schema,
            "L3",
            "Intel RDT/CAT: l3 cache schema is not enabled",
        ),
        (
            &a.mem_bw_schema,
            "MB",
            "Intel RDT/MBA: memory bandwidth schema is not enabled",
        ),
    ];
    for (given, info, not_enabled) in checks {
        if given.as_deref().is_none_or(str::is_empty) {
            continue;
        }
        if !Path::new("/sys/fs/resctrl/info").join(info).exists() {
            return Err(Error::new(not_enabled));
        }
        return Err(Error::new("Intel RDT schemas are not supported by rt"));
    }
    Ok(())
}

/// runc 1.1 ignores kernel memory limits in `update`, with this warning.
fn ignore_kernel_memory(r: &mut LinuxResources) {
    let Some(m) = r.memory_mut() else { return };
    let set = |v: Option<i64>| v.is_some_and(|v| v != 0);
    if set(m.kernel()) || set(m.kernel_tcp()) {
        log::warn!("Kernel memory settings are ignored and will be removed");
    }
    m.set_kernel(None);
    m.set_kernel_tcp(None);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_runc() {
        assert_eq!(ram_in_bytes("1024"), Some(1024));
        assert_eq!(ram_in_bytes("64m"), Some(64 << 20));
        assert_eq!(ram_in_bytes("64M"), Some(64 << 20));
        assert_eq!(ram_in_bytes("1g"), Some(1 << 30));
        assert_eq!(ram_in_bytes("1.5GiB"), Some(3 << 29));
        assert_eq!(ram_in_bytes("512 kb"), Some(512 << 10));
        assert_eq!(ram_in_bytes("2b"), Some(2));
        for bad in ["", "m", "12q", "1..2", "-5", "64mm", "1.", "0x10"] {
            assert_eq!(ram_in_bytes(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn flags_set_only_what_is_given() {
        let a = UpdateArgs {
            memory: Some("64m".into()),
            memory_swap: Some("-1".into()),
            cpu_quota: Some("50000".into()),
            cpu_rt_runtime: Some("1000".into()),
            cpuset_cpus: Some("0".into()),
            pids_limit: Some(-1),
            blkio_weight: Some(0),
            id: "x".into(),
            ..Default::default()
        };
        let r = from_flags(&a).unwrap();
        let m = r.memory().as_ref().unwrap();
        assert_eq!(
            (m.limit(), m.swap(), m.reservation()),
            (Some(64 << 20), Some(-1), None)
        );
        let c = r.cpu().as_ref().unwrap();
        assert_eq!(
            (c.quota(), c.period(), c.realtime_runtime()),
            (Some(50000), None, Some(1000))
        );
        assert_eq!(c.cpus().as_deref(), Some("0"));
        assert_eq!(r.pids().as_ref().unwrap().limit(), -1);
        assert!(r.block_io().is_none(), "weight 0 is no weight");
        let e = from_flags(&UpdateArgs {
            cpu_period: Some("-5".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.message().contains("--cpu-period"), "{e}");
    }
}
