//! uid_map / gid_map for a new user namespace, written by the parent
//! (the init cannot map itself to ids it does not hold); user namespaces
//! made only to carry a mapping (for idmapped mounts); and the checks a
//! list of mappings must pass.
//!
//! Root writes the maps directly. A user may write directly only a map of
//! its own id (and for gid_map only after "deny" in setgroups); any other
//! map is refused with EPERM, and then the setuid helpers newuidmap and
//! newgidmap (shadow's uidmap package) write it, checking the ranges
//! against /etc/subuid and /etc/subgid, as runc and crun do.

use crate::error::{Context, Error, Result};
use crate::sys;
use oci_spec::runtime::LinuxIdMapping;
use std::os::fd::OwnedFd;
use std::process::Command;

fn format_map(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// Which of the two maps.
#[derive(Clone, Copy)]
enum Kind {
    Uid,
    Gid,
}

impl Kind {
    fn file(self) -> &'static str {
        match self {
            Kind::Uid => "uid_map",
            Kind::Gid => "gid_map",
        }
    }
    fn tool(self) -> &'static str {
        match self {
            Kind::Uid => "newuidmap",
            Kind::Gid => "newgidmap",
        }
    }
}

/// Whether `gid` maps only the caller's own gid: the one gid map an
/// unprivileged process may write itself, once setgroups is denied.
fn only_own_gid(gid: &[LinuxIdMapping]) -> bool {
    let egid = nix::unistd::getegid().as_raw();
    matches!(gid, [m] if m.host_id() == egid && m.size() == 1)
}

pub fn write_maps(pid: i32, uid: &[LinuxIdMapping], gid: &[LinuxIdMapping]) -> Result<()> {
    let unprivileged = !crate::rootless::euid_is_root();
    if unprivileged && only_own_gid(gid) {
        // The kernel lets an unprivileged writer map its own gid only when
        // setgroups(2) can never drop a group in the namespace (a group
        // that forbids access would otherwise be shed).
        std::fs::write(format!("/proc/{pid}/setgroups"), "deny")
            .with_ctx(|| format!("write deny to /proc/{pid}/setgroups"))?;
    }
    // newuidmap and newgidmap (a few ms each: setuid execs) run at once.
    let uid_tool = write_map(pid, Kind::Uid, uid)?;
    let gid_tool = write_map(pid, Kind::Gid, gid);
    let uid_done = uid_tool.map_or(Ok(()), ToolRun::wait);
    let gid_done = gid_tool.and_then(|t| t.map_or(Ok(()), ToolRun::wait));
    uid_done.and(gid_done)
}

/// Writes the map directly, or starts the tool that will.
fn write_map(pid: i32, kind: Kind, maps: &[LinuxIdMapping]) -> Result<Option<ToolRun>> {
    if maps.is_empty() {
        return Ok(None);
    }
    let path = format!("/proc/{pid}/{}", kind.file());
    match std::fs::write(&path, format_map(maps)) {
        Ok(()) => Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => map_with_tool(pid, kind, maps).map(Some),
        Err(e) => Err(Error::from(e).context(format!("write {path}"))),
    }
}

/// A running newuidmap or newgidmap.
struct ToolRun {
    child: std::process::Child,
    pid: i32,
    kind: Kind,
}

fn tool_failed(pid: i32, kind: Kind, why: String) -> Error {
    Error::new(format!(
        "failed to use {} on {pid} (writing /proc/{pid}/{} directly is not permitted): {why}",
        kind.tool(),
        kind.file()
    ))
}

impl ToolRun {
    fn wait(self) -> Result<()> {
        let out = self
            .child
            .wait_with_output()
            .map_err(|e| tool_failed(self.pid, self.kind, e.to_string()))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            return Err(tool_failed(
                self.pid,
                self.kind,
                format!("{} ({})", stderr.trim(), out.status),
            ));
        }
        Ok(())
    }
}

/// Starts `newuidmap PID  ID HOST-ID COUNT ...` (newgidmap alike).
fn map_with_tool(pid: i32, kind: Kind, maps: &[LinuxIdMapping]) -> Result<ToolRun> {
    let mut cmd = Command::new(kind.tool());
    cmd.arg(pid.to_string())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    for m in maps {
        cmd.args([
            m.container_id().to_string(),
            m.host_id().to_string(),
            m.size().to_string(),
        ]);
    }
    let child = cmd.spawn().map_err(|e| {
        let why = if e.kind() == std::io::ErrorKind::NotFound {
            format!("{} not found in $PATH (install uidmap)", kind.tool())
        } else {
            e.to_string()
        };
        tool_failed(pid, kind, why)
    })?;
    Ok(ToolRun { child, pid, kind })
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

    #[test]
    fn own_gid_alone_is_self_writable() {
        let egid = nix::unistd::getegid().as_raw();
        let m = |json: String| serde_json::from_str::<Vec<LinuxIdMapping>>(&json).unwrap();
        assert!(only_own_gid(&m(format!(
            r#"[{{"containerID":0,"hostID":{egid},"size":1}}]"#
        ))));
        assert!(!only_own_gid(&m(format!(
            r#"[{{"containerID":0,"hostID":{egid},"size":2}}]"#
        ))));
        assert!(!only_own_gid(&m(format!(
            r#"[{{"containerID":0,"hostID":{egid},"size":1}},{{"containerID":1,"hostID":100000,"size":10}}]"#
        ))));
    }
}
