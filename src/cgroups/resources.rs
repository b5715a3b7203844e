//! Writing `linux.resources` into the container's cgroup: memory, pids,
//! cpu, cpuset, devices (v1 files or the cgroup2 eBPF filter), cgroup2
//! `unified` here; blockIO, hugepageLimits and network in io_hugetlb_net.

use super::{CgroupDir, Placement};
use crate::error::{Context, Result};
use oci_spec::runtime::LinuxResources;

fn write(d: &CgroupDir, file: &str, value: impl ToString) -> Result<()> {
    let path = d.full().join(file);
    super::write_knob(&path, value.to_string()).with_ctx(|| format!("write {}", path.display()))
}

pub fn apply_resources(p: &mut Placement, r: &LinuxResources) -> Result<()> {
    super::rootless::check_denied(p, r)?;
    let r = &without_zero_knobs(r);
    super::io_hugetlb_net::warn_missing(p, r);
    let pure_v2 = p.dirs.len() == 1 && p.dirs[0].v2;
    for d in &p.dirs {
        if d.v2 {
            apply_v2(d, r, pure_v2)?;
        } else {
            apply_v1(d, r, p.rootless)?;
        }
    }
    apply_device_filter(p, r)
}

/// Without a v1 devices hierarchy the cgroup2 eBPF filter enforces the
/// device rules. Rules given now are appended to those already in force,
/// as writing them to a v1 devices.allow/deny would.
fn apply_device_filter(p: &mut Placement, r: &LinuxResources) -> Result<()> {
    let Some(new_rules) = r.devices() else {
        return Ok(());
    };
    if p.dirs.iter().any(|d| has(d, "devices")) {
        return Ok(());
    }
    let Some(dir) = p.unified() else {
        return Ok(());
    };
    let mut rules = p.device_rules.clone();
    rules.extend(new_rules.iter().cloned());
    if let Err(e) = super::devices::install(&dir, &rules) {
        if p.rootless {
            // Attaching the filter needs privilege a user does not have.
            log::debug!("rootless: device rules not enforced: {e}");
            return Ok(());
        }
        return Err(e);
    }
    p.device_rules = rules;
    Ok(())
}

/// `r` with the memory and cpu knobs that are 0 taken as unset, as runc
/// does: `docker update` sends 0 for every knob it leaves alone
/// (`"cpu":{"shares":0,"quota":0,"period":0}`), and writing those would
/// fail (cpu.cfs_period_us rejects 0) or remove the container's limits.
fn without_zero_knobs(r: &LinuxResources) -> LinuxResources {
    let mut r = r.clone();
    if let Some(m) = r.memory_mut() {
        let zero = |v: Option<i64>| v.filter(|&v| v != 0);
        m.set_limit(zero(m.limit()));
        m.set_reservation(zero(m.reservation()));
        m.set_swap(zero(m.swap()));
        m.set_kernel(zero(m.kernel()));
        m.set_kernel_tcp(zero(m.kernel_tcp()));
    }
    if let Some(c) = r.cpu_mut() {
        c.set_shares(c.shares().filter(|&v| v != 0));
        c.set_quota(c.quota().filter(|&v| v != 0));
        c.set_period(c.period().filter(|&v| v != 0));
        c.set_realtime_runtime(c.realtime_runtime().filter(|&v| v != 0));
        c.set_realtime_period(c.realtime_period().filter(|&v| v != 0));
    }
    if let Some(b) = r.block_io_mut() {
        // Docker sends weight 0 for "no weight" (runc skips it too); the
        // kernel refuses 0 (ERANGE).
        b.set_weight(b.weight().filter(|&v| v != 0));
        b.set_leaf_weight(b.leaf_weight().filter(|&v| v != 0));
    }
    // runc writes pids.max only for a non-zero limit (negative: "max").
    if r.pids().as_ref().is_some_and(|p| p.limit() == 0) {
        r.set_pids(None);
    }
    r
}

/// The v1 controllers `r` sets a limit in (device rules aside), as runc
/// names them in "cannot set X limit".
pub(super) fn asked_controllers(r: &LinuxResources) -> Vec<&'static str> {
    let r = without_zero_knobs(r);
    let mut out = Vec::new();
    let memory_asked = r.memory().as_ref().is_some_and(|m| {
        m.limit().is_some()
            || m.reservation().is_some()
            || m.swap().is_some()
            || m.kernel_tcp().is_some()
            || m.swappiness().is_some()
            || m.disable_oom_killer() == Some(true)
    });
    if memory_asked {
        out.push("memory");
    }
    if r.pids().is_some() {
        out.push("pids");
    }
    if let Some(c) = r.cpu() {
        if c.shares().is_some()
            || c.quota().is_some()
            || c.period().is_some()
            || c.realtime_runtime().is_some()
            || c.realtime_period().is_some()
        {
            out.push("cpu");
        }
        if c.cpus().is_some() || c.mems().is_some() {
            out.push("cpuset");
        }
    }
    out.extend(super::io_hugetlb_net::wanted(&r).iter().map(|w| w.v1));
    out
}

fn has(d: &CgroupDir, c: &str) -> bool {
    d.controllers.iter().any(|x| x == c)
}

fn apply_v1(d: &CgroupDir, r: &LinuxResources, rootless: bool) -> Result<()> {
    if let (true, Some(m)) = (has(d, "memory"), r.memory()) {
        // The kernel keeps limit <= memsw at every step: raising both (an
        // update) must write memsw first, lowering both the limit first.
        let swap_first = match (m.limit(), m.swap()) {
            (Some(_), Some(-1)) => true,
            (Some(_), Some(swap)) => {
                std::fs::read_to_string(d.full().join("memory.limit_in_bytes"))
                    .ok()
                    .and_then(|s| s.trim().parse::<i64>().ok())
                    .is_some_and(|current| current < swap)
            }
            _ => false,
        };
        if swap_first {
            write(d, "memory.memsw.limit_in_bytes", m.swap().unwrap_or(-1))?;
        }
        if let Some(limit) = m.limit() {
            write(d, "memory.limit_in_bytes", limit)?;
        }
        if let Some(res) = m.reservation() {
            write(d, "memory.soft_limit_in_bytes", res)?;
        }
        if let (Some(swap), false) = (m.swap(), swap_first) {
            write(d, "memory.memsw.limit_in_bytes", swap)?;
        }
        if let Some(tcp) = m.kernel_tcp() {
            write(d, "memory.kmem.tcp.limit_in_bytes", tcp)?;
        }
        if let Some(s) = m.swappiness() {
            write(d, "memory.swappiness", s)?;
        }
        if m.disable_oom_killer() == Some(true) {
            write(d, "memory.oom_control", 1)?;
        }
    }
    if let (true, Some(pids)) = (has(d, "pids"), r.pids()) {
        write(d, "pids.max", pids_max(pids.limit()))?;
    }
    if let (true, Some(cpu)) = (has(d, "cpu"), r.cpu()) {
        if let Some(s) = cpu.shares() {
            write(d, "cpu.shares", s)?;
        }
        if let Some(p) = cpu.period() {
            write(d, "cpu.cfs_period_us", p)?;
        }
        if let Some(q) = cpu.quota() {
            write(d, "cpu.cfs_quota_us", q)?;
        }
        // Real-time budget (CONFIG_RT_GROUP_SCHED): the period first, so a
        // runtime that fits only the new period is accepted.
        if let Some(p) = cpu.realtime_period() {
            write(d, "cpu.rt_period_us", p)?;
        }
        if let Some(rt) = cpu.realtime_runtime() {
            write(d, "cpu.rt_runtime_us", rt)?;
        }
    }
    if let (true, Some(cpu)) = (has(d, "cpuset"), r.cpu()) {
        if let Some(c) = cpu.cpus() {
            write(d, "cpuset.cpus", c)?;
        }
        if let Some(m) = cpu.mems() {
            write(d, "cpuset.mems", m)?;
        }
    }
    if let (true, Some(rules)) = (has(d, "devices"), r.devices()) {
        let written = write_v1_device_rules(d, rules);
        match written {
            // Writing device rules needs CAP_SYS_ADMIN, even in a cgroup
            // the user owns; runc ignores this failure when rootless.
            Err(e) if rootless => log::debug!("rootless: device rules not enforced: {e}"),
            other => other?,
        }
    }
    super::io_hugetlb_net::apply_v1(d, r, |f| d.full().join(f).exists(), |f, v| write(d, f, v))
}

fn write_v1_device_rules(
    d: &CgroupDir,
    rules: &[oci_spec::runtime::LinuxDeviceCgroup],
) -> Result<()> {
    let list_file = d.full().join("devices.list");
    let current = crate::sys::read_virtual(&list_file)
        .with_ctx(|| format!("read {}", list_file.display()))?;
    // Rules go one write(2) each, in order, through one fd per file.
    let mut open: Vec<(&str, std::fs::File)> = Vec::new();
    for (file, line) in super::devices::v1_writes(&current, rules)? {
        let path = d.full().join(file);
        let i = match open.iter().position(|(f, _)| *f == file) {
            Some(i) => i,
            None => {
                let fd = super::open_knob(&path).with_ctx(|| format!("open {}", path.display()))?;
                open.push((file, fd));
                open.len() - 1
            }
        };
        std::io::Write::write_all(&mut open[i].1, line.as_bytes())
            .with_ctx(|| format!("write {}", path.display()))?;
    }
    Ok(())
}

fn apply_v2(d: &CgroupDir, r: &LinuxResources, pure_v2: bool) -> Result<()> {
    // On a hybrid host the cgroup2 tree has no controllers (v1 does the
    // work): skip knobs whose file is missing there. On pure v2 a missing
    // file means the controller is not enabled: say so rather than run
    // the container without the limit.
    let exists = |f: &str| {
        let present = d.full().join(f).exists();
        if !present && pure_v2 {
            log::warn!("cgroup {}: no {f}", d.full().display());
        }
        present
    };
    if pure_v2 {
        let want = [
            (
                "memory.max",
                r.memory().as_ref().and_then(|m| m.limit()).is_some(),
            ),
            ("pids.max", r.pids().is_some()),
            (
                "cpu.max",
                r.cpu()
                    .as_ref()
                    .is_some_and(|c| c.quota().is_some() || c.shares().is_some()),
            ),
        ];
        for (file, wanted) in want {
            if wanted && !d.full().join(file).exists() {
                let ctrl = file.split('.').next().unwrap_or(file);
                return Err(crate::Error::new(format!(
                    "linux.resources: the {ctrl} controller is not enabled for cgroup {}",
                    d.full().display()
                )));
            }
        }
    }
    if let Some(m) = r.memory() {
        if let (Some(limit), true) = (m.limit(), exists("memory.max")) {
            write(
                d,
                "memory.max",
                if limit < 0 {
                    "max".into()
                } else {
                    limit.to_string()
                },
            )?;
        }
        if let (Some(swap), Some(limit), true) = (m.swap(), m.limit(), exists("memory.swap.max")) {
            let v = if swap < 0 {
                "max".to_string()
            } else {
                (swap - limit).max(0).to_string()
            };
            write(d, "memory.swap.max", v)?;
        }
    }
    if let (Some(pids), true) = (r.pids(), exists("pids.max")) {
        write(d, "pids.max", pids_max(pids.limit()))?;
    }
    if let (Some(cpu), true) = (r.cpu(), exists("cpu.max")) {
        if let Some(shares) = cpu.shares() {
            // runc's conversion of v1 shares (2..262144) to v2 weight (1..10000).
            let w = 1 + ((shares.clamp(2, 262_144) - 2) * 9999) / 262_142;
            write(d, "cpu.weight", w)?;
        }
        if cpu.quota().is_some() || cpu.period().is_some() {
            // cpu.max holds both: the half not given stays as it is (as
            // with v1's two files; runc's update keeps it too).
            let current = std::fs::read_to_string(d.full().join("cpu.max")).unwrap_or_default();
            let mut current = current.split_whitespace();
            let (old_quota, old_period) = (current.next(), current.next());
            let q = match cpu.quota() {
                Some(q) if q > 0 => q.to_string(),
                Some(_) => "max".into(),
                None => old_quota.unwrap_or("max").to_string(),
            };
            let period = match cpu.period() {
                Some(p) => p.to_string(),
                None => old_period.unwrap_or("100000").to_string(),
            };
            write(d, "cpu.max", format!("{q} {period}"))?;
        }
    }
    if pure_v2 {
        let available = std::fs::read_to_string(d.full().join("cgroup.controllers"))
            .unwrap_or_default()
            .split_whitespace()
            .map(String::from)
            .collect::<Vec<_>>();
        super::io_hugetlb_net::apply_v2(
            r,
            &available,
            |f| d.full().join(f).exists(),
            |f, v| write(d, f, v),
        )?;
    }
    let unified: Vec<_> = r.unified().iter().flatten().collect();
    if !unified.is_empty() {
        // A knob is written only for a controller this cgroup has: on a
        // hybrid host the cgroup2 mount holds none, and on pure v2 the
        // parent must have delegated it (runc: "cannot use unified on
        // cgroup v1" / EOPNOTSUPP at write time).
        let controllers =
            std::fs::read_to_string(d.full().join("cgroup.controllers")).unwrap_or_default();
        for (k, v) in unified {
            crate::spec::validate_unified_key(k)?;
            let controller = k.split('.').next().unwrap_or_default();
            let enabled =
                controller == "cgroup" || controllers.split_whitespace().any(|c| c == controller);
            if !enabled {
                return Err(crate::Error::new(format!(
                    "linux.resources.unified[{k:?}]: the {controller} controller is not \
                     enabled for this cgroup{}",
                    if pure_v2 {
                        ""
                    } else {
                        " (its hierarchy is cgroup v1 on this host)"
                    }
                )));
            }
            write(d, k, v)?;
        }
    }
    Ok(())
}

/// The device rules the container's cgroup gets: the spec's own (or, if it
/// has none, deny everything: access to a device is never the default, as
/// in runc), then what every container needs (runc's default allow list).
///
/// `linux.devices` only says which nodes to make; whether they can be
/// opened is `linux.resources.devices`'s call, as in runc (a listed
/// /dev/kmsg without an allow rule gives EPERM). Like runc, a listed node
/// at the path of a default device (/dev/null, …) replaces that default,
/// rule included.
pub fn with_default_device_rules(
    r: &LinuxResources,
    devices: &[oci_spec::runtime::LinuxDevice],
) -> LinuxResources {
    use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};
    let rule = |typ: LinuxDeviceType, major: Option<i64>, minor: Option<i64>, access: &str| {
        let mut d = LinuxDeviceCgroup::default();
        d.set_allow(true);
        d.set_typ(Some(typ));
        d.set_major(major);
        d.set_minor(minor);
        d.set_access(Some(access.to_string()));
        d
    };
    let mut rules = r.devices().clone().unwrap_or_default();
    if rules.is_empty() {
        let mut deny_all = LinuxDeviceCgroup::default();
        deny_all.set_allow(false);
        deny_all.set_access(Some("rwm".into()));
        rules.push(deny_all);
    }
    use LinuxDeviceType::{B, C};
    // (path of the default node, if any; rule).
    let defaults = [
        (None, rule(C, None, None, "m")),
        (None, rule(B, None, None, "m")),
        (Some("/dev/null"), rule(C, Some(1), Some(3), "rwm")),
        (Some("/dev/zero"), rule(C, Some(1), Some(5), "rwm")),
        (Some("/dev/full"), rule(C, Some(1), Some(7), "rwm")),
        (Some("/dev/random"), rule(C, Some(1), Some(8), "rwm")),
        (Some("/dev/urandom"), rule(C, Some(1), Some(9), "rwm")),
        (Some("/dev/tty"), rule(C, Some(5), Some(0), "rwm")),
        (None, rule(C, Some(5), Some(1), "rwm")),
        (None, rule(C, Some(5), Some(2), "rwm")),
        (None, rule(C, Some(136), None, "rwm")),
        (None, rule(C, Some(10), Some(200), "rwm")),
    ];
    let listed = |path: &str| devices.iter().any(|d| d.path().as_os_str() == path);
    rules.extend(
        defaults
            .into_iter()
            .filter(|(path, _)| !path.is_some_and(listed))
            .map(|(_, rule)| rule),
    );
    let mut out = r.clone();
    out.set_devices(Some(rules));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType};

    fn device(typ: LinuxDeviceType, major: i64, minor: i64) -> LinuxDevice {
        let mut d = LinuxDevice::default();
        d.set_path(format!("/dev/x{major}-{minor}").into());
        d.set_typ(typ);
        d.set_major(major);
        d.set_minor(minor);
        d
    }

    fn deny_all() -> LinuxResources {
        let mut deny = LinuxDeviceCgroup::default();
        deny.set_allow(false);
        deny.set_access(Some("rwm".into()));
        let mut r = LinuxResources::default();
        r.set_devices(Some(vec![deny]));
        r
    }

    fn allows(rules: &[LinuxDeviceCgroup], typ: LinuxDeviceType, major: i64, minor: i64) -> bool {
        rules.iter().any(|r| {
            r.allow()
                && r.typ() == Some(typ)
                && r.major() == Some(major)
                && r.minor() == Some(minor)
        })
    }

    /// Listing a node makes it, nothing more: no allow rule comes with it
    /// (runc gives EPERM on a listed /dev/kmsg without one).
    #[test]
    fn listed_devices_get_no_allow_rule() {
        let devices = [
            device(LinuxDeviceType::C, 1, 11),
            device(LinuxDeviceType::B, 8, 666),
            device(LinuxDeviceType::U, 4, 77),
            device(LinuxDeviceType::P, 8, 667),
        ];
        let out = with_default_device_rules(&deny_all(), &devices);
        let rules = out.devices().clone().unwrap();
        assert!(!rules[0].allow(), "the spec's deny-all comes first");
        for (typ, major, minor) in [
            (LinuxDeviceType::C, 1, 11),
            (LinuxDeviceType::B, 8, 666),
            (LinuxDeviceType::C, 4, 77),
            (LinuxDeviceType::U, 4, 77),
        ] {
            assert!(
                !allows(&rules, typ, major, minor),
                "{typ:?} {major}:{minor}"
            );
        }
        assert!(
            allows(&rules, LinuxDeviceType::C, 1, 3),
            "/dev/null stays allowed"
        );
        assert!(
            rules
                .iter()
                .any(|r| r.allow() && r.major() == Some(136) && r.minor().is_none()),
            "the ptys stay allowed"
        );
    }

    /// As in runc, a listed node at a default device's path replaces that
    /// default, allow rule included; the spec's rules decide for it.
    #[test]
    fn a_listed_default_path_drops_the_default_rule() {
        let mut null = device(LinuxDeviceType::C, 1, 3);
        null.set_path("/dev/null".into());
        let rules = with_default_device_rules(&deny_all(), &[null])
            .devices()
            .clone()
            .unwrap();
        assert!(!allows(&rules, LinuxDeviceType::C, 1, 3), "{rules:?}");
        assert!(
            allows(&rules, LinuxDeviceType::C, 1, 5),
            "/dev/zero's rule stays"
        );
    }
}

/// pids.max has the same format on v1 and v2: a count, or "max" for none
/// (the spec's 0 or -1).
fn pids_max(limit: i64) -> String {
    if limit > 0 {
        limit.to_string()
    } else {
        "max".into()
    }
}
