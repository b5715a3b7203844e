//! uid_map / gid_map for a new user namespace, written by the parent
//! (the init cannot map itself to ids it does not hold).
//!
//! Root writes the maps directly. A user may write directly only a map of
//! its own id (and for gid_map only after "deny" in setgroups); any other
//! map is refused with EPERM, and then the setuid helpers newuidmap and
//! newgidmap (shadow's uidmap package) write it, checking the ranges
//! against /etc/subuid and /etc/subgid, as runc and crun do.

use crate::error::{Context, Error, Result};
use oci_spec::runtime::LinuxIdMapping;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_lines() {
        let m: Vec<LinuxIdMapping> =
            serde_json::from_str(r#"[{"containerID":0,"hostID":1000,"size":1},{"containerID":1,"hostID":100000,"size":65536}]"#).unwrap();
        assert_eq!(format_map(&m), "0 1000 1\n1 100000 65536\n");
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
