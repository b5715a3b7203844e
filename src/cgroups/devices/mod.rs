//! Device access control. On v1, the `devices` controller's files, written
//! as a difference from what the cgroup has (v1.rs). cgroup2 has no
//! devices controller files; instead an eBPF program of type
//! `BPF_PROG_TYPE_CGROUP_DEVICE` attached to the cgroup decides every mknod
//! and device open. Without one a container with CAP_MKNOD could create
//! and open any host device node, so rt installs one wherever no v1
//! devices hierarchy does the job.
//!
//! The emitter is our own: the program is a few straight-line compares,
//! which needs far less than an eBPF crate (assembler, ELF loader, maps).

mod bpf;
mod insn;
mod program;
mod rules;
mod v1;

pub use rules::from_spec;

/// Rules for a v1 `devices` hierarchy: the writes that bring a cgroup's
/// `devices.list` to what `spec_rules` make of it.
pub fn v1_writes(
    current_list: &str,
    spec_rules: &[LinuxDeviceCgroup],
) -> Result<Vec<(&'static str, String)>> {
    let rules = from_spec(spec_rules, "linux.resources.devices")?;
    let current = v1::List::parse(current_list);
    let mut target = current.clone();
    for r in &rules {
        target.apply(r);
    }
    Ok(current.transition(&target))
}

use crate::error::{Context, Error, Result};
use oci_spec::runtime::LinuxDeviceCgroup;
use std::path::Path;

/// Replaces the device filter of the cgroup `dir` with one compiled from
/// `spec_rules` (the effective list: spec rules, then rt's defaults).
///
/// The new program is attached before the old ones are detached, so the
/// cgroup is never without a filter; meanwhile both apply (all attached
/// programs must allow), which can only deny more.
pub fn install(dir: &Path, spec_rules: &[LinuxDeviceCgroup]) -> Result<()> {
    let rules = from_spec(spec_rules, "linux.resources.devices")?;
    let prog = program::compile(&rules);
    let prog_fd = bpf::load_device_program(&prog)
        .map_err(|e| Error::new(format!("load the cgroup device filter: {e}")))?;
    let cgroup = std::fs::File::open(dir).with_ctx(|| format!("open cgroup {}", dir.display()))?;
    let old = bpf::attached_device_programs(&cgroup)
        .map_err(|e| Error::errno(format!("list device filters of {}", dir.display()), e))?;
    bpf::attach(&cgroup, &prog_fd)
        .map_err(|e| Error::errno(format!("attach the device filter to {}", dir.display()), e))?;
    for id in old {
        bpf::detach_by_id(&cgroup, id).map_err(|e| {
            Error::errno(
                format!("detach old device filter {id} from {}", dir.display()),
                e,
            )
        })?;
    }
    Ok(())
}

/// Ids of the device programs attached to the cgroup `dir`.
#[cfg(test)]
fn attached(dir: &Path) -> Result<Vec<u32>> {
    let cgroup = std::fs::File::open(dir).with_ctx(|| format!("open cgroup {}", dir.display()))?;
    bpf::attached_device_programs(&cgroup)
        .map_err(|e| Error::errno(format!("list device filters of {}", dir.display()), e))
}

/// Loads and attaches real programs: needs root and a cgroup2 mount (on a
/// hybrid host the controller-less one will do: bpf attach is core
/// cgroup2). Works only in cgroups it creates and removes.
#[cfg(test)]
mod host_tests {
    use super::*;
    use oci_spec::runtime::LinuxDeviceType;
    use std::path::PathBuf;
    use std::process::Command;

    /// A cgroup2 directory of this test's own, removed on drop.
    struct TestCgroup(PathBuf);

    impl Drop for TestCgroup {
        fn drop(&mut self) {
            // The test's processes have exited; the kernel detaches the
            // programs when the cgroup goes.
            if let Err(e) = std::fs::remove_dir(&self.0) {
                eprintln!("remove {}: {e}", self.0.display());
            }
        }
    }

    struct TempDir(PathBuf);

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn cgroup2_mount() -> Option<PathBuf> {
        let layout = crate::cgroups::detect().ok()?;
        layout
            .hierarchies
            .into_iter()
            .find(|h| h.v2)
            .map(|h| h.mount)
    }

    fn rule(
        allow: bool,
        typ: Option<LinuxDeviceType>,
        mm: Option<(i64, i64)>,
        access: &str,
    ) -> LinuxDeviceCgroup {
        let mut r = LinuxDeviceCgroup::default();
        r.set_allow(allow);
        r.set_typ(typ);
        r.set_major(mm.map(|m| m.0));
        r.set_minor(mm.map(|m| m.1));
        r.set_access(Some(access.into()));
        r
    }

    fn mknod(path: &Path, major: u64, minor: u64) {
        nix::sys::stat::mknod(
            path,
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::from_bits_truncate(0o666),
            nix::sys::stat::makedev(major, minor),
        )
        .unwrap_or_else(|e| panic!("mknod {}: {e}", path.display()));
    }

    /// Reads one byte of `node` from a shell that first moves itself into
    /// the cgroup; returns (success, stderr).
    fn read_in(cg: &Path, node: &Path) -> (bool, String) {
        let out = Command::new("/bin/sh")
            .arg("-c")
            .arg("echo $$ > \"$1/cgroup.procs\" && exec head -c1 \"$2\"")
            .arg("sh")
            .arg(cg)
            .arg(node)
            .output()
            .expect("run sh");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    #[test]
    fn filter_denies_unlisted_devices_and_update_replaces_it() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let Some(mount) = cgroup2_mount() else {
            eprintln!("skipped: no cgroup2 mount");
            return;
        };
        let name = format!("rt-devfilter-test-{}", std::process::id());
        let cg = TestCgroup(mount.join(&name));
        std::fs::create_dir(&cg.0).expect("create test cgroup");
        let tmp = TempDir(std::env::temp_dir().join(&name));
        std::fs::create_dir(&tmp.0).unwrap();
        let (null, zero) = (tmp.0.join("null"), tmp.0.join("zero"));
        mknod(&null, 1, 3);
        mknod(&zero, 1, 5);

        use LinuxDeviceType::C;
        let mut rules = vec![
            rule(false, None, None, "rwm"),
            rule(true, Some(C), Some((1, 3)), "rw"),
        ];
        install(&cg.0, &rules).expect("install");
        assert_eq!(attached(&cg.0).unwrap().len(), 1);
        let (ok, err) = read_in(&cg.0, &null);
        assert!(ok, "1:3 is allowed: {err}");
        let (ok, err) = read_in(&cg.0, &zero);
        assert!(
            !ok && err.contains("Operation not permitted"),
            "1:5 is denied: {err}"
        );

        // An update's rules append; the old program goes.
        rules.push(rule(true, Some(C), Some((1, 5)), "r"));
        let before = attached(&cg.0).unwrap();
        install(&cg.0, &rules).expect("reinstall");
        let after = attached(&cg.0).unwrap();
        assert_eq!(after.len(), 1, "old program detached: {after:?}");
        assert_ne!(after, before);
        let (ok, err) = read_in(&cg.0, &zero);
        assert!(ok, "1:5 is allowed after the update: {err}");

        // Outside the cgroup nothing changed.
        let out = Command::new("head").arg("-c1").arg(&zero).output().unwrap();
        assert!(out.status.success());
    }
}
