//! Resource usage of a container's cgroup in runc's `events --stats` JSON
//! shape (runc's types.Stats: field names, which fields are omitted when
//! zero, and v2 values mapped onto the v1 names the way runc maps them).

use super::{CgroupDir, Placement};
use serde::Serialize;
use std::collections::BTreeMap;

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Serialize, Default, Debug)]
pub struct Stats {
    pub cpu: Cpu,
    pub cpuset: CpuSet,
    pub memory: Memory,
    pub pids: Pids,
    /// Not collected yet: empty objects / null, as runc prints them when
    /// it has nothing.
    pub blkio: BTreeMap<String, ()>,
    pub hugetlb: BTreeMap<String, ()>,
    pub intel_rdt: BTreeMap<String, ()>,
    pub network_interfaces: Option<Vec<()>>,
}

#[derive(Serialize, Default, Debug)]
pub struct Cpu {
    pub usage: CpuUsage,
    pub throttling: Throttling,
}

/// Nanoseconds.
#[derive(Serialize, Default, Debug)]
pub struct CpuUsage {
    #[serde(skip_serializing_if = "is_zero")]
    pub total: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_kernel: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_user: Vec<u64>,
    pub kernel: u64,
    pub user: u64,
}

#[derive(Serialize, Default, Debug)]
pub struct Throttling {
    #[serde(skip_serializing_if = "is_zero")]
    pub periods: u64,
    #[serde(rename = "throttledPeriods", skip_serializing_if = "is_zero")]
    pub throttled_periods: u64,
    /// Nanoseconds.
    #[serde(rename = "throttledTime", skip_serializing_if = "is_zero")]
    pub throttled_time: u64,
}

/// The flags are v1 cpuset files (absent on cgroup2, as in runc).
#[derive(Serialize, Default, Debug)]
pub struct CpuSet {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cpus: Vec<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_exclusive: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mems: Vec<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_hardwall: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_exclusive: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_migrate: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_spread_page: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_spread_slab: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_pressure: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sched_load_balance: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sched_relax_domain_level: Option<i64>,
}

#[derive(Serialize, Default, Debug)]
pub struct MemoryEntry {
    pub limit: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

#[derive(Serialize, Default, Debug)]
pub struct Memory {
    #[serde(skip_serializing_if = "is_zero")]
    pub cache: u64,
    pub usage: MemoryEntry,
    pub swap: MemoryEntry,
    pub kernel: MemoryEntry,
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
}

#[derive(Serialize, Default, Debug)]
pub struct Pids {
    #[serde(skip_serializing_if = "is_zero")]
    pub current: u64,
    /// 0 when unlimited.
    #[serde(skip_serializing_if = "is_zero")]
    pub limit: u64,
}

fn read(d: &CgroupDir, file: &str) -> Option<String> {
    std::fs::read_to_string(d.full().join(file)).ok()
}

/// A single-number file; "max" (cgroup2's "no limit") as `max_value`.
fn number(d: &CgroupDir, file: &str, max_value: u64) -> Option<u64> {
    let text = read(d, file)?;
    let t = text.trim();
    if t == "max" {
        Some(max_value)
    } else {
        t.parse().ok()
    }
}

/// "key value" lines (memory.stat, cpu.stat, cpuacct.stat).
fn keyed(d: &CgroupDir, file: &str) -> BTreeMap<String, u64> {
    read(d, file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

/// "0-2,4" as [0, 1, 2, 4].
fn cpu_list(text: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        if let (Ok(a), Ok(b)) = (a.parse::<u32>(), b.parse::<u32>()) {
            out.extend(a..=b.min(a.saturating_add(4096)));
        }
    }
    out
}

/// Clock ticks per second of cpuacct.stat (USER_HZ).
fn user_hz() -> u64 {
    // SAFETY: sysconf has no memory effects.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 { hz as u64 } else { 100 }
}

pub fn collect(p: &Placement) -> Stats {
    let mut s = Stats::default();
    let pure_v2 = p.dirs.len() == 1 && p.dirs[0].v2;
    if pure_v2 {
        collect_v2(&p.dirs[0], &mut s);
    } else {
        for d in p.dirs.iter().filter(|d| !d.v2) {
            collect_v1(d, &mut s);
        }
    }
    s
}

fn collect_v1(d: &CgroupDir, s: &mut Stats) {
    if d.has("cpuacct") {
        let u = &mut s.cpu.usage;
        u.total = number(d, "cpuacct.usage", 0).unwrap_or(0);
        let per = |f| {
            read(d, f)
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|n| n.parse().ok())
                .collect::<Vec<u64>>()
        };
        u.percpu = per("cpuacct.usage_percpu");
        u.percpu_kernel = per("cpuacct.usage_percpu_sys");
        u.percpu_user = per("cpuacct.usage_percpu_user");
        let ticks = keyed(d, "cpuacct.stat");
        let ns = |k: &str| ticks.get(k).copied().unwrap_or(0) * 1_000_000_000 / user_hz();
        u.kernel = ns("system");
        u.user = ns("user");
    }
    if d.has("cpu") {
        let st = keyed(d, "cpu.stat");
        let t = &mut s.cpu.throttling;
        t.periods = st.get("nr_periods").copied().unwrap_or(0);
        t.throttled_periods = st.get("nr_throttled").copied().unwrap_or(0);
        t.throttled_time = st.get("throttled_time").copied().unwrap_or(0);
    }
    if d.has("cpuset") {
        let c = &mut s.cpuset;
        c.cpus = cpu_list(&read(d, "cpuset.cpus").unwrap_or_default());
        c.mems = cpu_list(&read(d, "cpuset.mems").unwrap_or_default());
        let flag = |f: &str| read(d, &format!("cpuset.{f}")).and_then(|t| t.trim().parse().ok());
        c.cpu_exclusive = flag("cpu_exclusive");
        c.mem_hardwall = flag("mem_hardwall");
        c.mem_exclusive = flag("mem_exclusive");
        c.memory_migrate = flag("memory_migrate");
        c.memory_spread_page = flag("memory_spread_page");
        c.memory_spread_slab = flag("memory_spread_slab");
        c.memory_pressure = flag("memory_pressure");
        c.sched_load_balance = flag("sched_load_balance");
        c.sched_relax_domain_level = flag("sched_relax_domain_level");
    }
    if d.has("memory") {
        let m = &mut s.memory;
        let entry = |prefix: &str| MemoryEntry {
            limit: number(d, &format!("{prefix}.limit_in_bytes"), 0).unwrap_or(0),
            usage: number(d, &format!("{prefix}.usage_in_bytes"), 0).unwrap_or(0),
            max: number(d, &format!("{prefix}.max_usage_in_bytes"), 0).unwrap_or(0),
            failcnt: number(d, &format!("{prefix}.failcnt"), 0).unwrap_or(0),
        };
        m.usage = entry("memory");
        m.swap = entry("memory.memsw");
        m.kernel = entry("memory.kmem");
        m.kernel_tcp = entry("memory.kmem.tcp");
        m.raw = keyed(d, "memory.stat");
        m.cache = m.raw.get("cache").copied().unwrap_or(0);
    }
    if d.has("pids") {
        collect_pids(d, s);
    }
}

fn collect_pids(d: &CgroupDir, s: &mut Stats) {
    s.pids.current = number(d, "pids.current", 0).unwrap_or(0);
    s.pids.limit = number(d, "pids.max", 0).unwrap_or(0);
}

fn collect_v2(d: &CgroupDir, s: &mut Stats) {
    // cpu.stat's usage lines are core cgroup2 (there without the cpu
    // controller); the throttling lines come with it.
    let st = keyed(d, "cpu.stat");
    let us = |k: &str| st.get(k).copied().unwrap_or(0) * 1000;
    s.cpu.usage.total = us("usage_usec");
    s.cpu.usage.user = us("user_usec");
    s.cpu.usage.kernel = us("system_usec");
    s.cpu.throttling.periods = st.get("nr_periods").copied().unwrap_or(0);
    s.cpu.throttling.throttled_periods = st.get("nr_throttled").copied().unwrap_or(0);
    s.cpu.throttling.throttled_time = us("throttled_usec");
    s.cpuset.cpus = cpu_list(&read(d, "cpuset.cpus.effective").unwrap_or_default());
    s.cpuset.mems = cpu_list(&read(d, "cpuset.mems.effective").unwrap_or_default());

    let m = &mut s.memory;
    m.raw = keyed(d, "memory.stat");
    m.cache = m.raw.get("file").copied().unwrap_or(0);
    m.usage = MemoryEntry {
        limit: number(d, "memory.max", u64::MAX).unwrap_or(0),
        usage: number(d, "memory.current", 0).unwrap_or(0),
        max: number(d, "memory.peak", 0).unwrap_or(0),
        failcnt: keyed(d, "memory.events").get("max").copied().unwrap_or(0),
    };
    // v1 reports swap as memory+swap; runc adds memory to cgroup2's
    // swap-only numbers so the two read the same.
    if let Some(swap) = number(d, "memory.swap.current", 0) {
        let limit = number(d, "memory.swap.max", u64::MAX).unwrap_or(0);
        m.swap = MemoryEntry {
            usage: swap + m.usage.usage,
            limit: if limit == u64::MAX || m.usage.limit == u64::MAX {
                u64::MAX
            } else {
                limit + m.usage.limit
            },
            ..MemoryEntry::default()
        };
    }
    collect_pids(d, s);
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake(std::path::PathBuf);

    impl Drop for Fake {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A directory of fake cgroup files standing in for one hierarchy.
    fn fake(label: &str, files: &[(&str, &str)]) -> Fake {
        let root = std::env::temp_dir().join(format!("rt-stats-{}-{label}", std::process::id()));
        let dir = root.join("c");
        std::fs::create_dir_all(&dir).unwrap();
        for (f, v) in files {
            std::fs::write(dir.join(f), v).unwrap();
        }
        Fake(root)
    }

    fn dir(f: &Fake, controllers: &[&str], v2: bool) -> CgroupDir {
        CgroupDir {
            mount: f.0.clone(),
            path: "/c".into(),
            controllers: controllers.iter().map(|c| c.to_string()).collect(),
            v2,
        }
    }

    #[test]
    fn v1_files_map_onto_runc_fields() {
        let cpu = fake(
            "v1cpu",
            &[
                ("cpuacct.usage", "9166739\n"),
                ("cpuacct.usage_percpu", "777401 8389338 \n"),
                (
                    "cpuacct.stat",
                    format!("user {}\nsystem 0\n", user_hz() * 2).leak(),
                ),
                (
                    "cpu.stat",
                    "nr_periods 4\nnr_throttled 1\nthrottled_time 5000\n",
                ),
            ],
        );
        let mem = fake(
            "v1mem",
            &[
                ("memory.limit_in_bytes", "33554432\n"),
                ("memory.usage_in_bytes", "2506752\n"),
                ("memory.max_usage_in_bytes", "2510848\n"),
                ("memory.failcnt", "3\n"),
                ("memory.stat", "cache 4096\nrss 1789952\n"),
                ("pids.current", "2\n"),
                ("pids.max", "max\n"),
            ],
        );
        let p = Placement {
            dirs: vec![
                dir(&cpu, &["cpu", "cpuacct"], false),
                dir(&mem, &["memory", "pids"], false),
            ],
            ..Placement::default()
        };
        let v = serde_json::to_value(collect(&p)).unwrap();
        assert_eq!(v["cpu"]["usage"]["total"], 9166739);
        assert_eq!(
            v["cpu"]["usage"]["percpu"],
            serde_json::json!([777401, 8389338])
        );
        assert_eq!(v["cpu"]["usage"]["user"], 2_000_000_000u64);
        assert_eq!(v["cpu"]["usage"]["kernel"], 0);
        assert_eq!(
            v["cpu"]["throttling"],
            serde_json::json!({"periods": 4, "throttledPeriods": 1, "throttledTime": 5000})
        );
        assert_eq!(
            v["memory"]["usage"],
            serde_json::json!({"limit": 33554432, "usage": 2506752, "max": 2510848, "failcnt": 3})
        );
        // Missing files: zero entries, printed as runc prints them.
        assert_eq!(
            v["memory"]["swap"],
            serde_json::json!({"limit": 0, "failcnt": 0})
        );
        assert_eq!(v["memory"]["cache"], 4096);
        assert_eq!(v["memory"]["raw"]["rss"], 1789952);
        assert_eq!(
            v["pids"],
            serde_json::json!({"current": 2}),
            "unlimited: no limit field"
        );
        assert_eq!(v["network_interfaces"], serde_json::Value::Null);
        assert_eq!(v["blkio"], serde_json::json!({}));
    }

    #[test]
    fn v2_files_map_onto_runc_fields() {
        let f = fake(
            "v2",
            &[
                (
                    "cpu.stat",
                    "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 2\nnr_throttled 0\nthrottled_usec 0\n",
                ),
                ("memory.max", "max\n"),
                ("memory.current", "8192\n"),
                ("memory.events", "low 0\nhigh 0\nmax 6\noom 1\noom_kill 1\n"),
                ("memory.stat", "anon 4096\nfile 4096\n"),
                ("memory.swap.current", "100\n"),
                ("memory.swap.max", "max\n"),
                ("pids.current", "3\n"),
                ("pids.max", "20\n"),
            ],
        );
        let p = Placement {
            dirs: vec![dir(&f, &[], true)],
            ..Placement::default()
        };
        let v = serde_json::to_value(collect(&p)).unwrap();
        assert_eq!(v["cpu"]["usage"]["total"], 1_500_000);
        assert_eq!(v["cpu"]["usage"]["user"], 1_000_000);
        assert_eq!(v["cpu"]["usage"]["kernel"], 500_000);
        assert_eq!(v["cpu"]["throttling"], serde_json::json!({"periods": 2}));
        assert_eq!(
            v["memory"]["usage"],
            serde_json::json!({"limit": u64::MAX, "usage": 8192, "failcnt": 6})
        );
        assert_eq!(v["memory"]["swap"]["usage"], 8192 + 100);
        assert_eq!(v["memory"]["swap"]["limit"], u64::MAX);
        assert_eq!(v["memory"]["cache"], 4096);
        assert_eq!(v["pids"], serde_json::json!({"current": 3, "limit": 20}));
    }

    #[test]
    fn cpu_lists_expand_ranges() {
        assert_eq!(cpu_list("0-2,4\n"), [0, 1, 2, 4]);
        assert_eq!(cpu_list(""), Vec::<u32>::new());
    }
}
