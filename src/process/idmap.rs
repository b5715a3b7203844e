//! uid_map / gid_map for a new user namespace, written by the parent
//! (the init cannot map itself to ids it does not hold); user namespaces
//! made only to carry a mapping (for idmapped mounts); and the checks a
//! list of mappings must pass.

use crate::error::{Context, Error, Result};
use crate::sys;
use oci_spec::runtime::LinuxIdMapping;
use std::os::fd::OwnedFd;

fn format_map(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

pub fn write_maps(pid: i32, uid: &[LinuxIdMapping], gid: &[LinuxIdMapping]) -> Result<()> {
    if !uid.is_empty() {
        std::fs::write(format!("/proc/{pid}/uid_map"), format_map(uid)).ctx("write uid_map")?;
    }
    if !gid.is_empty() {
        std::fs::write(format!("/proc/{pid}/gid_map"), format_map(gid)).ctx("write gid_map")?;
    }
    Ok(())
}

/// The most lines a uid_map or gid_map takes (Linux ≥ 4.15).
const MAX_LINES: usize = 340;

/// What the kernel would refuse with a bare EINVAL, named by `field`
/// (e.g. `mounts[2].uidMappings`): no mapping at all, an empty range, a
/// range past the 32-bit id space, ranges that overlap on either side.
pub fn check(field: &str, maps: &[LinuxIdMapping]) -> Result<()> {
    if maps.is_empty() {
        return Err(Error::new(format!(
            "{field}: must list at least one mapping"
        )));
    }
    if maps.len() > MAX_LINES {
        return Err(Error::new(format!(
            "{field}: {} mappings, the kernel takes at most {MAX_LINES}",
            maps.len()
        )));
    }
    let end = |start: u32, size: u32| start as u64 + size as u64;
    for (i, m) in maps.iter().enumerate() {
        if m.size() == 0 {
            return Err(Error::new(format!("{field}[{i}].size: must be positive")));
        }
        if end(m.container_id(), m.size()) > 1 << 32 || end(m.host_id(), m.size()) > 1 << 32 {
            return Err(Error::new(format!(
                "{field}[{i}]: the range goes past the largest id (4294967295)"
            )));
        }
        for (j, o) in maps[..i].iter().enumerate() {
            // [a, a + m.size) and [b, b + o.size) share an id.
            let overlap =
                |a: u32, b: u32| (a as u64) < end(b, o.size()) && (b as u64) < end(a, m.size());
            if overlap(m.container_id(), o.container_id()) {
                return Err(Error::new(format!(
                    "{field}[{i}]: its containerID range overlaps that of {field}[{j}]"
                )));
            }
            if overlap(m.host_id(), o.host_id()) {
                return Err(Error::new(format!(
                    "{field}[{i}]: its hostID range overlaps that of {field}[{j}]"
                )));
            }
        }
    }
    Ok(())
}

/// A user namespace with these mappings and nothing in it: an fd for
/// mount_setattr(MOUNT_ATTR_IDMAP). A child is cloned into a new user
/// namespace, mapped, its namespace opened, and the child killed.
pub fn userns_with_maps(uid: &[LinuxIdMapping], gid: &[LinuxIdMapping]) -> Result<OwnedFd> {
    let pid = sys::clone_process(libc::CLONE_NEWUSER as u64, None)
        .map_err(|e| Error::errno("clone a process into a user namespace for id mappings", e))?;
    if pid == 0 {
        // The child only exists to hold the namespace until it is opened.
        loop {
            // SAFETY: pause(2) only waits for a signal (SIGKILL ends us).
            unsafe { libc::pause() };
        }
    }
    let opened = write_maps(pid, uid, gid).and_then(|()| {
        std::fs::File::open(format!("/proc/{pid}/ns/user"))
            .map(OwnedFd::from)
            .ctx("open the id-mapping user namespace")
    });
    // SAFETY: killing and reaping the child we just cloned.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
    }
    opened
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maps(json: &str) -> Vec<LinuxIdMapping> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn map_lines() {
        let m = maps(
            r#"[{"containerID":0,"hostID":1000,"size":1},{"containerID":1,"hostID":100000,"size":65536}]"#,
        );
        assert_eq!(format_map(&m), "0 1000 1\n1 100000 65536\n");
        check("linux.uidMappings", &m).unwrap();
    }

    #[test]
    fn bad_mappings_are_named() {
        let err = |json: &str| {
            check("mounts[1].uidMappings", &maps(json))
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err("[]"),
            "mounts[1].uidMappings: must list at least one mapping"
        );
        assert_eq!(
            err(r#"[{"containerID":0,"hostID":1000,"size":0}]"#),
            "mounts[1].uidMappings[0].size: must be positive"
        );
        assert_eq!(
            err(
                r#"[{"containerID":0,"hostID":1000,"size":10},{"containerID":5,"hostID":5000,"size":1}]"#
            ),
            "mounts[1].uidMappings[1]: its containerID range overlaps that of mounts[1].uidMappings[0]"
        );
        assert_eq!(
            err(
                r#"[{"containerID":0,"hostID":1000,"size":10},{"containerID":10,"hostID":995,"size":6}]"#
            ),
            "mounts[1].uidMappings[1]: its hostID range overlaps that of mounts[1].uidMappings[0]"
        );
        assert!(
            err(r#"[{"containerID":4294967295,"hostID":0,"size":2}]"#)
                .contains("past the largest id")
        );
        // Adjacent ranges do not overlap.
        check(
            "x",
            &maps(r#"[{"containerID":0,"hostID":1000,"size":10},{"containerID":10,"hostID":1010,"size":6}]"#),
        )
        .unwrap();
    }
}
