//! `linux.resources` as systemd unit properties (systemd.resource-control(5)).
//!
//! systemd owns the unit's cgroup settings: whatever it is not told, it may
//! reset on its next reload. So each limit rt writes to the cgroup files is
//! also handed to systemd as the matching property, the way runc does it;
//! the files are still written afterwards for what systemd cannot express.

use super::manager::property;
use super::wire::Value;
use crate::error::{Error, Result};
use oci_spec::runtime::LinuxResources;

/// The kernel's default CFS period (µs), for a quota given without one.
const DEFAULT_CPU_PERIOD: u64 = 100_000;
/// Highest CPU or memory node number accepted in a cpuset list.
const MAX_CPU: usize = 8191;

/// Converts the resources into properties. `v2`: the host is pure cgroup
/// v2 (names like MemoryMax, CPUWeight) rather than v1 (MemoryLimit,
/// CPUShares). `version` gives systemd's version when a property depends
/// on it (asked lazily: it costs a round trip).
pub fn resource_properties(
    r: &LinuxResources,
    v2: bool,
    version: &mut dyn FnMut() -> u32,
) -> Result<Vec<Value>> {
    let mut props = Vec::new();
    if let Some(m) = r.memory() {
        if let Some(limit) = m.limit().filter(|l| *l != 0) {
            let name = if v2 { "MemoryMax" } else { "MemoryLimit" };
            props.push(property(name, Value::U64(limit_value(limit))));
        }
        if v2 {
            if let Some(low) = m.reservation().filter(|l| *l != 0) {
                props.push(property("MemoryLow", Value::U64(limit_value(low))));
            }
            if let Some(swap) = swap_max(m.swap(), m.limit())? {
                props.push(property("MemorySwapMax", Value::U64(swap)));
            }
        }
    }
    if let Some(cpu) = r.cpu() {
        if let Some(shares) = cpu.shares().filter(|s| *s != 0) {
            if v2 {
                props.push(property("CPUWeight", Value::U64(shares_to_weight(shares))));
            } else {
                props.push(property("CPUShares", Value::U64(shares)));
            }
        }
        add_cpu_quota(
            &mut props,
            cpu.quota().unwrap_or(0),
            cpu.period().unwrap_or(0),
            version,
        );
        add_cpuset(
            &mut props,
            cpu.cpus().as_deref(),
            cpu.mems().as_deref(),
            version,
        )?;
    }
    if let Some(pids) = r.pids() {
        // 0 and -1 both mean "no limit" here, as in the cgroup file.
        let max = if pids.limit() > 0 {
            pids.limit() as u64
        } else {
            u64::MAX
        };
        props.push(property("TasksMax", Value::U64(max)));
    }
    if !v2 {
        if let Some(w) = r.block_io().as_ref().and_then(|b| b.weight()) {
            props.push(property("BlockIOWeight", Value::U64(u64::from(w))));
        }
    }
    if v2 {
        let mut unified: Vec<_> = r.unified().iter().flatten().collect();
        unified.sort(); // deterministic order for the same input
        for (k, v) in unified {
            add_unified(&mut props, k, v, version)?;
        }
    }
    Ok(props)
}

/// A memory limit as systemd takes it: -1 (no limit) is "infinity".
fn limit_value(v: i64) -> u64 {
    if v < 0 { u64::MAX } else { v as u64 }
}

/// MemorySwapMax is swap alone; the spec's `swap` is memory plus swap.
fn swap_max(swap: Option<i64>, limit: Option<i64>) -> Result<Option<u64>> {
    match (swap, limit) {
        (None | Some(0), Some(-1)) => Ok(Some(u64::MAX)),
        (None | Some(0), _) => Ok(None),
        (Some(-1), _) => Ok(Some(u64::MAX)),
        (Some(_), None | Some(0) | Some(-1)) => Err(Error::new(
            "linux.resources.memory.swap: a swap limit needs a memory limit",
        )),
        (Some(s), Some(l)) if s < l => Err(Error::new(format!(
            "linux.resources.memory.swap ({s}) must not be below memory.limit ({l})"
        ))),
        (Some(s), Some(l)) => Ok(Some((s - l) as u64)),
    }
}

/// runc's mapping of v1 cpu.shares (2..262144) onto cgroup2 cpu.weight
/// (1..10000); the same formula the cgroupfs driver uses for the file.
fn shares_to_weight(shares: u64) -> u64 {
    1 + ((shares.clamp(2, 262_144) - 2) * 9999) / 262_142
}

/// CPUQuotaPerSecUSec is "µs of CPU per second", which systemd keeps as a
/// whole percentage: round up to 10 ms so the kernel's quota is at least
/// what was asked for. The period property exists since systemd 242.
fn add_cpu_quota(
    props: &mut Vec<Value>,
    quota: i64,
    period: u64,
    version: &mut dyn FnMut() -> u32,
) {
    if period != 0 && version() >= 242 {
        props.push(property("CPUQuotaPeriodUSec", Value::U64(period)));
    }
    if quota == 0 && period == 0 {
        return;
    }
    let per_sec = if quota > 0 {
        let period = if period == 0 {
            DEFAULT_CPU_PERIOD
        } else {
            period
        };
        let us = (quota as u64).saturating_mul(1_000_000) / period;
        us.div_ceil(10_000) * 10_000
    } else {
        u64::MAX // no quota
    };
    props.push(property("CPUQuotaPerSecUSec", Value::U64(per_sec)));
}

/// AllowedCPUs / AllowedMemoryNodes (systemd 244 and later).
fn add_cpuset(
    props: &mut Vec<Value>,
    cpus: Option<&str>,
    mems: Option<&str>,
    version: &mut dyn FnMut() -> u32,
) -> Result<()> {
    let cpus = cpus.filter(|c| !c.trim().is_empty());
    let mems = mems.filter(|m| !m.trim().is_empty());
    if (cpus.is_none() && mems.is_none()) || version() < 244 {
        return Ok(());
    }
    if let Some(c) = cpus {
        let bits = list_to_bitmask(c).map_err(|e| e.context("linux.resources.cpu.cpus"))?;
        props.push(property("AllowedCPUs", bytes(bits)));
    }
    if let Some(m) = mems {
        let bits = list_to_bitmask(m).map_err(|e| e.context("linux.resources.cpu.mems"))?;
        props.push(property("AllowedMemoryNodes", bytes(bits)));
    }
    Ok(())
}

fn bytes(b: Vec<u8>) -> Value {
    Value::Array {
        elem: "y".into(),
        items: b.into_iter().map(Value::Byte).collect(),
    }
}

/// "0-2,7" → a little-endian bitmap (byte 0 bit 0 is CPU 0), the layout
/// systemd expects for its `ay` CPU sets.
pub fn list_to_bitmask(list: &str) -> Result<Vec<u8>> {
    let mut bits = Vec::new();
    let bad = || Error::new(format!("invalid CPU/node list {list:?}"));
    for part in list.trim().split(',') {
        let part = part.trim();
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (part, part),
        };
        let lo: usize = lo.parse().map_err(|_| bad())?;
        let hi: usize = hi.parse().map_err(|_| bad())?;
        if lo > hi || hi > MAX_CPU {
            return Err(bad());
        }
        for n in lo..=hi {
            if bits.len() <= n / 8 {
                bits.resize(n / 8 + 1, 0);
            }
            bits[n / 8] |= 1 << (n % 8);
        }
    }
    Ok(bits)
}

/// The `unified` keys systemd has properties for; the rest only go to the
/// cgroup files.
fn add_unified(
    props: &mut Vec<Value>,
    key: &str,
    value: &str,
    version: &mut dyn FnMut() -> u32,
) -> Result<()> {
    let v = value.trim();
    let bad = || {
        Error::new(format!(
            "linux.resources.unified: invalid value {value:?} for {key:?}"
        ))
    };
    let max_or_number = || -> Result<u64> {
        if v == "max" {
            Ok(u64::MAX)
        } else {
            v.parse().map_err(|_| bad())
        }
    };
    match key {
        "cpu.max" => {
            let mut f = v.split_whitespace();
            let quota = match f.next() {
                Some("max") => 0,
                Some(q) => q.parse().map_err(|_| bad())?,
                None => return Err(bad()),
            };
            let period = match f.next() {
                Some(p) => p.parse().map_err(|_| bad())?,
                None => DEFAULT_CPU_PERIOD,
            };
            if f.next().is_some() {
                return Err(bad());
            }
            add_cpu_quota(props, quota, period, version);
        }
        "cpu.weight" => props.push(property(
            "CPUWeight",
            Value::U64(v.parse().map_err(|_| bad())?),
        )),
        "cpuset.cpus" => add_cpuset(props, Some(v), None, version)?,
        "cpuset.mems" => add_cpuset(props, None, Some(v), version)?,
        "memory.high" => props.push(property("MemoryHigh", Value::U64(max_or_number()?))),
        "memory.low" => props.push(property("MemoryLow", Value::U64(max_or_number()?))),
        "memory.min" => props.push(property("MemoryMin", Value::U64(max_or_number()?))),
        "memory.max" => props.push(property("MemoryMax", Value::U64(max_or_number()?))),
        "memory.swap.max" => props.push(property("MemorySwapMax", Value::U64(max_or_number()?))),
        "pids.max" => props.push(property("TasksMax", Value::U64(max_or_number()?))),
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resources(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    /// (name, value) pairs of the generated properties.
    fn pairs(props: &[Value]) -> Vec<(String, Value)> {
        props
            .iter()
            .map(|p| match p {
                Value::Struct(f) => match (&f[0], &f[1]) {
                    (Value::Str(n), Value::Variant(v)) => (n.clone(), (**v).clone()),
                    _ => panic!("not (sv): {p:?}"),
                },
                _ => panic!("not a struct: {p:?}"),
            })
            .collect()
    }

    fn get(props: &[Value], name: &str) -> Option<Value> {
        pairs(props)
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    #[test]
    fn v2_memory_cpu_pids() {
        let r = resources(
            r#"{"memory": {"limit": 33554432, "swap": 67108864, "reservation": 1048576},
                "cpu": {"shares": 1024, "quota": 50000, "period": 100000},
                "pids": {"limit": 20}}"#,
        );
        let p = resource_properties(&r, true, &mut || 252).unwrap();
        assert_eq!(get(&p, "MemoryMax"), Some(Value::U64(33554432)));
        assert_eq!(get(&p, "MemoryLow"), Some(Value::U64(1048576)));
        assert_eq!(get(&p, "MemorySwapMax"), Some(Value::U64(33554432)));
        assert_eq!(get(&p, "CPUWeight"), Some(Value::U64(39)));
        assert_eq!(get(&p, "CPUQuotaPerSecUSec"), Some(Value::U64(500_000)));
        assert_eq!(get(&p, "CPUQuotaPeriodUSec"), Some(Value::U64(100_000)));
        assert_eq!(get(&p, "TasksMax"), Some(Value::U64(20)));
        assert_eq!(get(&p, "MemoryLimit"), None);
    }

    #[test]
    fn v1_names_and_unlimited_values() {
        let r = resources(
            r#"{"memory": {"limit": -1}, "cpu": {"shares": 512}, "pids": {"limit": -1}}"#,
        );
        let p = resource_properties(&r, false, &mut || 252).unwrap();
        assert_eq!(get(&p, "MemoryLimit"), Some(Value::U64(u64::MAX)));
        assert_eq!(get(&p, "CPUShares"), Some(Value::U64(512)));
        assert_eq!(get(&p, "TasksMax"), Some(Value::U64(u64::MAX)));
        assert_eq!(get(&p, "MemoryMax"), None);
    }

    #[test]
    fn cpu_quota_rounds_up_to_whole_percent() {
        let r = resources(r#"{"cpu": {"quota": 12345, "period": 100000}}"#);
        let p = resource_properties(&r, true, &mut || 252).unwrap();
        // 123450 µs/s → 130000 (13 %).
        assert_eq!(get(&p, "CPUQuotaPerSecUSec"), Some(Value::U64(130_000)));
        // Old systemd: no period property, and no version asked without one.
        let r = resources(r#"{"cpu": {"quota": 20000}}"#);
        let p = resource_properties(&r, true, &mut || panic!("version not needed")).unwrap();
        assert_eq!(get(&p, "CPUQuotaPerSecUSec"), Some(Value::U64(200_000)));
        let r = resources(r#"{"cpu": {"quota": -1, "period": 50000}}"#);
        let p = resource_properties(&r, true, &mut || 240).unwrap();
        assert_eq!(get(&p, "CPUQuotaPerSecUSec"), Some(Value::U64(u64::MAX)));
        assert_eq!(get(&p, "CPUQuotaPeriodUSec"), None);
    }

    #[test]
    fn cpusets_become_little_endian_bitmaps() {
        assert_eq!(list_to_bitmask("0").unwrap(), [1]);
        assert_eq!(list_to_bitmask("0-2,9").unwrap(), [0b111, 0b10]);
        assert!(list_to_bitmask("3-1").is_err());
        assert!(list_to_bitmask("x").is_err());
        assert!(list_to_bitmask("0-99999999").is_err());
        let r = resources(r#"{"cpu": {"cpus": "1", "mems": "0"}}"#);
        let p = resource_properties(&r, true, &mut || 252).unwrap();
        assert_eq!(
            get(&p, "AllowedCPUs"),
            Some(Value::Array {
                elem: "y".into(),
                items: vec![Value::Byte(2)]
            })
        );
        assert!(get(&p, "AllowedMemoryNodes").is_some());
        assert!(
            resource_properties(&r, true, &mut || 243)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn unified_keys_map_to_properties() {
        let r = resources(
            r#"{"unified": {"memory.high": "max", "pids.max": "7", "cpu.max": "max 20000",
                            "io.weight": "100"}}"#,
        );
        let p = resource_properties(&r, true, &mut || 252).unwrap();
        assert_eq!(get(&p, "MemoryHigh"), Some(Value::U64(u64::MAX)));
        assert_eq!(get(&p, "TasksMax"), Some(Value::U64(7)));
        assert_eq!(get(&p, "CPUQuotaPerSecUSec"), Some(Value::U64(u64::MAX)));
        assert_eq!(get(&p, "CPUQuotaPeriodUSec"), Some(Value::U64(20000)));
        assert_eq!(p.len(), 4, "io.weight has no property here: {p:?}");
        let bad = resources(r#"{"unified": {"memory.max": "lots"}}"#);
        let err = resource_properties(&bad, true, &mut || 252).unwrap_err();
        assert!(err.message().contains("memory.max"), "{err}");
    }

    #[test]
    fn swap_without_memory_limit_is_refused() {
        let r = resources(r#"{"memory": {"swap": 1000}}"#);
        assert!(resource_properties(&r, true, &mut || 252).is_err());
        let r = resources(r#"{"memory": {"limit": 2000, "swap": 1000}}"#);
        assert!(resource_properties(&r, true, &mut || 252).is_err());
    }
}
