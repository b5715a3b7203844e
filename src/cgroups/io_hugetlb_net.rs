//! blockIO, hugepageLimits and network from `linux.resources`: on v1 the
//! blkio, hugetlb, net_cls and net_prio hierarchies, on cgroup2 io.* and
//! hugetlb.* (cgroup2 has no network controller).
//!
//! A limit whose controller this host lacks is skipped with a warning, not
//! refused. runc 1.1.5 refuses hugetlb/net_cls/net_prio limits here ("cannot
//! set hugetlb limit: container could not join or create cgroup"), but
//! kubelet sends a hugepage limit (often 0) for every page size the kernel
//! has, whether or not a hugetlb hierarchy exists, and refusing would make
//! every pod on such a host fail.

use super::{CgroupDir, Placement};
use crate::error::{Error, Result};
use oci_spec::runtime::{LinuxBlockIo, LinuxResources, LinuxThrottleDevice};

/// A requested limit and the controller it needs.
#[derive(Debug, PartialEq, Eq)]
pub struct Wanted {
    pub field: &'static str,
    /// v1 hierarchy name.
    pub v1: &'static str,
    /// cgroup2 controller, if cgroup2 has one.
    pub v2: Option<&'static str>,
}

/// The controllers `r` needs, each with the field that asks for it.
pub(super) fn wanted(r: &LinuxResources) -> Vec<Wanted> {
    let mut out = Vec::new();
    let mut want = |field, v1, v2| out.push(Wanted { field, v1, v2 });
    if r.block_io().as_ref().is_some_and(block_io_is_set) {
        want("blockIO", "blkio", Some("io"));
    }
    if r.hugepage_limits().as_ref().is_some_and(|h| !h.is_empty()) {
        want("hugepageLimits", "hugetlb", Some("hugetlb"));
    }
    if let Some(n) = r.network() {
        if n.class_id().is_some() {
            want("network.classID", "net_cls", None);
        }
        if n.priorities().as_ref().is_some_and(|p| !p.is_empty()) {
            want("network.priorities", "net_prio", None);
        }
    }
    out
}

fn block_io_is_set(b: &LinuxBlockIo) -> bool {
    let any = |v: &Option<Vec<LinuxThrottleDevice>>| v.as_ref().is_some_and(|v| !v.is_empty());
    b.weight().is_some()
        || b.leaf_weight().is_some()
        || b.weight_device().as_ref().is_some_and(|v| !v.is_empty())
        || any(b.throttle_read_bps_device())
        || any(b.throttle_write_bps_device())
        || any(b.throttle_read_iops_device())
        || any(b.throttle_write_iops_device())
}

/// The requested limits this host cannot apply. On v1 and hybrid hosts a
/// controller is there when some v1 hierarchy has it; on pure cgroup2 when
/// `v2_controllers` (the container cgroup's cgroup.controllers) lists it.
pub fn missing(p: &Placement, r: &LinuxResources, v2_controllers: &[String]) -> Vec<Wanted> {
    let pure_v2 = p.dirs.iter().all(|d| d.v2);
    wanted(r)
        .into_iter()
        .filter(|w| {
            if pure_v2 {
                !w.v2.is_some_and(|c| v2_controllers.iter().any(|x| x == c))
            } else {
                !p.dirs.iter().any(|d| !d.v2 && d.has(w.v1))
            }
        })
        .collect()
}

/// Logs one warning per limit that [`missing`] found.
pub fn warn_missing(p: &Placement, r: &LinuxResources) {
    let v2_controllers: Vec<String> = match p.dirs.as_slice() {
        [d] if d.v2 => std::fs::read_to_string(d.full().join("cgroup.controllers"))
            .unwrap_or_default()
            .split_whitespace()
            .map(String::from)
            .collect(),
        _ => Vec::new(),
    };
    for w in missing(p, r, &v2_controllers) {
        let which = if p.dirs.iter().all(|d| d.v2) {
            match w.v2 {
                Some(c) => format!("no cgroup2 {c} controller for this container"),
                None => format!("cgroup2 has no {} controller", w.v1),
            }
        } else {
            format!("this host has no cgroup v1 {} hierarchy", w.v1)
        };
        log::warn!("linux.resources.{}: {which}; not applied", w.field);
    }
}

/// Checks a hugepage size before it becomes part of a file name.
fn page_size(size: &str) -> Result<&str> {
    if size.is_empty() || !size.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(Error::new(format!(
            "hugepageLimits: invalid pageSize {size:?}"
        )));
    }
    Ok(size)
}

fn throttles(
    b: &LinuxBlockIo,
) -> [(
    &'static str,
    &'static str,
    &Option<Vec<LinuxThrottleDevice>>,
); 4] {
    [
        (
            "blkio.throttle.read_bps_device",
            "rbps",
            b.throttle_read_bps_device(),
        ),
        (
            "blkio.throttle.write_bps_device",
            "wbps",
            b.throttle_write_bps_device(),
        ),
        (
            "blkio.throttle.read_iops_device",
            "riops",
            b.throttle_read_iops_device(),
        ),
        (
            "blkio.throttle.write_iops_device",
            "wiops",
            b.throttle_write_iops_device(),
        ),
    ]
}

/// Writes the blkio, hugetlb, net_cls and net_prio knobs of the v1 dir `d`.
/// `exists` says whether a file of `d` exists (the weight files depend on
/// the kernel's I/O schedulers).
pub fn apply_v1(
    d: &CgroupDir,
    r: &LinuxResources,
    exists: impl Fn(&str) -> bool,
    write: impl Fn(&str, String) -> Result<()>,
) -> Result<()> {
    if let (true, Some(b)) = (d.has("blkio"), r.block_io()) {
        // Kernels without CFQ only have the BFQ weight file, and without
        // BFQ neither.
        let weight_file = ["blkio.bfq.weight", "blkio.weight"]
            .into_iter()
            .find(|f| exists(f));
        let wants_weight = b.weight().is_some() || b.weight_device().is_some();
        match weight_file {
            Some(file) => {
                if let Some(w) = b.weight() {
                    write(file, w.to_string())?;
                }
                for dev in b.weight_device().iter().flatten() {
                    if let Some(w) = dev.weight() {
                        write(
                            &format!("{file}_device"),
                            format!("{}:{} {w}", dev.major(), dev.minor()),
                        )?;
                    }
                }
            }
            None if wants_weight => {
                log::warn!(
                    "linux.resources.blockIO: no blkio weight file on this kernel; weights not applied"
                )
            }
            None => {}
        }
        if exists("blkio.leaf_weight") {
            if let Some(w) = b.leaf_weight() {
                write("blkio.leaf_weight", w.to_string())?;
            }
            for dev in b.weight_device().iter().flatten() {
                if let Some(w) = dev.leaf_weight() {
                    write(
                        "blkio.leaf_weight_device",
                        format!("{}:{} {w}", dev.major(), dev.minor()),
                    )?;
                }
            }
        }
        for (file, _, devs) in throttles(b) {
            for dev in devs.iter().flatten() {
                write(
                    file,
                    format!("{}:{} {}", dev.major(), dev.minor(), dev.rate()),
                )?;
            }
        }
    }
    if d.has("hugetlb") {
        for h in r.hugepage_limits().iter().flatten() {
            let size = page_size(h.page_size())?;
            write(
                &format!("hugetlb.{size}.limit_in_bytes"),
                h.limit().to_string(),
            )?;
        }
    }
    if let Some(n) = r.network() {
        if let (true, Some(id)) = (d.has("net_cls"), n.class_id()) {
            write("net_cls.classid", id.to_string())?;
        }
        if d.has("net_prio") {
            for p in n.priorities().iter().flatten() {
                write(
                    "net_prio.ifpriomap",
                    format!("{} {}", p.name(), p.priority()),
                )?;
            }
        }
    }
    Ok(())
}

/// runc's mapping of a v1 blkio weight (10..1000) onto io.weight (1..10000).
fn io_weight(blkio: u16) -> u64 {
    1 + (u64::from(blkio.clamp(10, 1000)) - 10) * 9999 / 990
}

/// The cgroup2 equivalents: io.max throttles, weights through BFQ's
/// io.bfq.weight when the kernel has it (same scale as v1) or io.weight,
/// and hugetlb.<size>.max. `available` is the container cgroup's
/// cgroup.controllers.
pub fn apply_v2(
    r: &LinuxResources,
    available: &[String],
    exists: impl Fn(&str) -> bool,
    write: impl Fn(&str, String) -> Result<()>,
) -> Result<()> {
    let has = |c: &str| available.iter().any(|x| x == c);
    if let (true, Some(b)) = (has("io"), r.block_io()) {
        let bfq = exists("io.bfq.weight");
        let wants_weight = b.weight().is_some() || b.weight_device().is_some();
        if wants_weight && !bfq && !exists("io.weight") {
            // io.weight needs the io cost model or BFQ in the kernel.
            log::warn!(
                "linux.resources.blockIO: no io.weight or io.bfq.weight on this kernel; weights not applied"
            );
        } else if let Some(w) = b.weight() {
            if bfq {
                write("io.bfq.weight", w.to_string())?;
            } else {
                write("io.weight", io_weight(w).to_string())?;
            }
        }
        for dev in b.weight_device().iter().flatten() {
            if let (Some(w), true) = (dev.weight(), bfq || exists("io.weight")) {
                let (file, w) = if bfq {
                    ("io.bfq.weight", u64::from(w))
                } else {
                    ("io.weight", io_weight(w))
                };
                write(file, format!("{}:{} {w}", dev.major(), dev.minor()))?;
            }
        }
        if b.leaf_weight().is_some() {
            log::warn!(
                "linux.resources.blockIO.leafWeight: cgroup2 has no leaf weight; not applied"
            );
        }
        for (_, key, devs) in throttles(b) {
            for dev in devs.iter().flatten() {
                write(
                    "io.max",
                    format!("{}:{} {key}={}", dev.major(), dev.minor(), dev.rate()),
                )?;
            }
        }
    }
    if has("hugetlb") {
        for h in r.hugepage_limits().iter().flatten() {
            let size = page_size(h.page_size())?;
            write(&format!("hugetlb.{size}.max"), h.limit().to_string())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    fn dir(controllers: &[&str], v2: bool) -> CgroupDir {
        CgroupDir {
            mount: "/nonexistent".into(),
            path: "/c".into(),
            controllers: controllers.iter().map(|c| c.to_string()).collect(),
            v2,
        }
    }

    fn placement(dirs: Vec<CgroupDir>) -> Placement {
        Placement {
            dirs,
            ..Placement::default()
        }
    }

    fn resources(json: serde_json::Value) -> LinuxResources {
        serde_json::from_value(json).unwrap()
    }

    fn fields(m: Vec<Wanted>) -> Vec<&'static str> {
        m.into_iter().map(|w| w.field).collect()
    }

    #[test]
    fn missing_controllers_per_layout() {
        let r = resources(serde_json::json!({
            "network": {"classID": 7},
            "hugepageLimits": [{"pageSize": "2MB", "limit": 0}],
            "blockIO": {"weight": 100}
        }));
        let hybrid = placement(vec![
            dir(&["memory"], false),
            dir(&["blkio"], false),
            dir(&[], true),
        ]);
        assert_eq!(
            fields(missing(&hybrid, &r, &[])),
            ["hugepageLimits", "network.classID"]
        );
        let all_v1 = placement(vec![
            dir(&["blkio"], false),
            dir(&["hugetlb"], false),
            dir(&["net_cls", "net_prio"], false),
        ]);
        assert!(missing(&all_v1, &r, &[]).is_empty());
        // Pure v2: what cgroup.controllers lists; network never.
        let v2 = placement(vec![dir(&[], true)]);
        let io_only = ["cpu".to_string(), "io".to_string()];
        assert_eq!(
            fields(missing(&v2, &r, &io_only)),
            ["hugepageLimits", "network.classID"]
        );
        let both = ["io".to_string(), "hugetlb".to_string()];
        assert_eq!(fields(missing(&v2, &r, &both)), ["network.classID"]);
        // Nothing asked, nothing missing.
        assert!(missing(&hybrid, &resources(serde_json::json!({})), &[]).is_empty());
    }

    fn recorded(f: impl FnOnce(&dyn Fn(&str, String) -> Result<()>) -> Result<()>) -> Vec<String> {
        let seen = RefCell::new(Vec::new());
        f(&|file, v| {
            seen.borrow_mut().push(format!("{file}={v}"));
            Ok(())
        })
        .unwrap();
        seen.into_inner()
    }

    fn everything() -> LinuxResources {
        resources(serde_json::json!({
            "blockIO": {
                "weight": 500,
                "leafWeight": 300,
                "weightDevice": [{"major": 8, "minor": 0, "weight": 600, "leafWeight": 200}],
                "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
                "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 300}]
            },
            "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}],
            "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 5}]}
        }))
    }

    #[test]
    fn v1_knobs_are_written_in_kernel_syntax() {
        let d = dir(&["blkio", "hugetlb", "net_cls", "net_prio"], false);
        let cfq = |f: &str| f == "blkio.weight" || f == "blkio.leaf_weight";
        let seen = recorded(|w| apply_v1(&d, &everything(), cfq, w));
        assert_eq!(
            seen,
            [
                "blkio.weight=500",
                "blkio.weight_device=8:0 600",
                "blkio.leaf_weight=300",
                "blkio.leaf_weight_device=8:0 200",
                "blkio.throttle.read_bps_device=8:0 1048576",
                "blkio.throttle.write_iops_device=8:16 300",
                "hugetlb.2MB.limit_in_bytes=4194304",
                "net_cls.classid=1048577",
                "net_prio.ifpriomap=eth0 5",
            ]
        );
        // Without CFQ: BFQ's weight file; without either, throttles only.
        let bfq = |f: &str| f == "blkio.bfq.weight";
        let seen = recorded(|w| apply_v1(&dir(&["blkio"], false), &everything(), bfq, w));
        assert_eq!(
            seen[..2],
            ["blkio.bfq.weight=500", "blkio.bfq.weight_device=8:0 600"]
        );
        let seen = recorded(|w| apply_v1(&dir(&["blkio"], false), &everything(), |_| false, w));
        assert_eq!(
            seen,
            [
                "blkio.throttle.read_bps_device=8:0 1048576",
                "blkio.throttle.write_iops_device=8:16 300"
            ]
        );
    }

    #[test]
    fn v2_knobs_are_written_in_kernel_syntax() {
        let avail = ["io".to_string(), "hugetlb".to_string()];
        let seen = recorded(|w| apply_v2(&everything(), &avail, |f| f == "io.weight", w));
        assert_eq!(
            seen,
            [
                // 1 + (500 - 10) * 9999 / 990 and 1 + (600 - 10) * 9999 / 990
                "io.weight=4950",
                "io.weight=8:0 5960",
                "io.max=8:0 rbps=1048576",
                "io.max=8:16 wiops=300",
                "hugetlb.2MB.max=4194304",
            ]
        );
        let seen = recorded(|w| apply_v2(&everything(), &avail, |f| f == "io.bfq.weight", w));
        assert_eq!(seen[..2], ["io.bfq.weight=500", "io.bfq.weight=8:0 600"]);
        // No weight file (no io cost model, no BFQ): throttles only.
        let seen = recorded(|w| apply_v2(&everything(), &avail, |_| false, w));
        assert_eq!(seen[0], "io.max=8:0 rbps=1048576");
        // Controllers not available: nothing written.
        assert!(recorded(|w| apply_v2(&everything(), &[], |_| true, w)).is_empty());
    }

    #[test]
    fn io_weight_scale_ends() {
        assert_eq!(io_weight(10), 1);
        assert_eq!(io_weight(1000), 10000);
    }

    #[test]
    fn bad_page_size_is_refused() {
        let r =
            resources(serde_json::json!({"hugepageLimits": [{"pageSize": "../x", "limit": 1}]}));
        let err = apply_v1(&dir(&["hugetlb"], false), &r, |_| true, |_, _| Ok(()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("pageSize"), "{err}");
        let avail = ["hugetlb".to_string()];
        assert!(apply_v2(&r, &avail, |_| true, |_, _| Ok(())).is_err());
    }
}
