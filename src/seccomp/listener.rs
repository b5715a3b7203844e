//! Handing a SCMP_ACT_NOTIFY listener fd to the seccomp agent at
//! `linux.seccomp.listenerPath`, with runc's protocol: one message on a
//! fresh connection to that unix socket, whose payload is the JSON of the
//! runtime spec's `ContainerProcessState` and whose SCM_RIGHTS carries the
//! fd, named `seccompFd` in the payload's `fds`.

use crate::error::{Error, Result};
use crate::state::OciState;
use oci_spec::runtime::LinuxSeccomp;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

/// The name the runtime spec gives the listener fd in `fds`.
pub const SECCOMP_FD_NAME: &str = "seccompFd";

/// runtime-spec `ContainerProcessState` (specs-go/state.go): field names
/// and order as runc sends them.
#[derive(serde::Serialize)]
pub struct ContainerProcessState<'a> {
    #[serde(rename = "ociVersion")]
    pub oci_version: &'a str,
    pub fds: [&'static str; 1],
    /// The process the filter belongs to (the init, or an exec'd process).
    pub pid: i32,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub metadata: &'a str,
    pub state: &'a OciState,
}

/// Connects to the agent and sends it `fd` with `payload`. Errors say what
/// failed and where, in runc's words.
pub fn send_to_agent(
    listener_path: &Path,
    payload: &ContainerProcessState,
    fd: BorrowedFd,
) -> Result<()> {
    let json = serde_json::to_vec(payload)
        .map_err(|e| Error::new(format!("encode seccomp agent payload: {e}")))?;
    // std's UnixStream is opened close-on-exec.
    let conn = UnixStream::connect(listener_path).map_err(|e| {
        Error::new(format!(
            "failed to connect with seccomp agent specified in the seccomp profile \
             (linux.seccomp.listenerPath {}): {e}",
            listener_path.display()
        ))
    })?;
    crate::sys::send_fd(conn.as_raw_fd(), &json, fd.as_raw_fd()).map_err(|e| {
        Error::errno(
            format!("cannot send seccomp fd to {}", listener_path.display()),
            e,
        )
    })
}

/// Sends the notify listener fd of the process `pid` to the agent at
/// `seccomp.listenerPath`, with `listenerMetadata` (validation made sure
/// the path is set).
pub fn hand_over(
    seccomp: Option<&LinuxSeccomp>,
    pid: i32,
    state: &OciState,
    fd: &OwnedFd,
) -> Result<()> {
    let path = seccomp
        .and_then(|s| s.listener_path().clone())
        .filter(|p| !p.as_os_str().is_empty())
        .ok_or_else(|| Error::new("linux.seccomp.listenerPath: listenerPath is not set"))?;
    let metadata = seccomp
        .and_then(|s| s.listener_metadata().clone())
        .unwrap_or_default();
    log::debug!(
        "seccomp: sending notify fd of pid {pid} to agent at {}",
        path.display()
    );
    let payload = ContainerProcessState {
        oci_version: crate::state::OCI_VERSION,
        fds: [SECCOMP_FD_NAME],
        pid,
        metadata: &metadata,
        state,
    };
    send_to_agent(&path, &payload, fd.as_fd())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> OciState {
        OciState {
            oci_version: "1.2.0".into(),
            id: "c1".into(),
            pid: 42,
            status: "creating".into(),
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: "2026-01-01T00:00:00.000000000Z".into(),
            annotations: Default::default(),
            owner: "".into(),
        }
    }

    #[test]
    fn agent_gets_the_fd_and_runcs_payload() {
        let dir = std::env::temp_dir().join(format!("rt-listener-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("agent.sock");
        let _ = std::fs::remove_file(&path);
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let st = state();
        let payload = ContainerProcessState {
            oci_version: "1.2.0",
            fds: [SECCOMP_FD_NAME],
            pid: 42,
            metadata: "meta",
            state: &st,
        };
        // Any fd will do: a pipe end, recognisable by its inode.
        let (r, _w) = nix::unistd::pipe().unwrap();
        send_to_agent(&path, &payload, r.as_fd()).unwrap();
        let (conn, _) = listener.accept().unwrap();
        use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
        let mut buf = [0u8; 4096];
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let msg = recvmsg::<()>(
            conn.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::empty(),
        )
        .unwrap();
        let fds: Vec<_> = msg
            .cmsgs()
            .unwrap()
            .filter_map(|c| match c {
                ControlMessageOwned::ScmRights(f) => Some(f),
                _ => None,
            })
            .flatten()
            .collect();
        let len = msg.bytes;
        assert_eq!(fds.len(), 1);
        let got = std::fs::metadata(format!("/proc/self/fd/{}", fds[0])).unwrap();
        let sent = std::fs::metadata(format!("/proc/self/fd/{}", r.as_raw_fd())).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!(got.ino(), sent.ino());
        let v: serde_json::Value = serde_json::from_slice(&buf[..len]).unwrap();
        assert_eq!(v["fds"], serde_json::json!(["seccompFd"]));
        assert_eq!(v["pid"], 42);
        assert_eq!(v["metadata"], "meta");
        assert_eq!(v["state"]["id"], "c1");
        assert_eq!(v["state"]["status"], "creating");
        // SAFETY: closing the fd the kernel installed for this test.
        unsafe { libc::close(fds[0]) };
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unreachable_agent_is_an_error_naming_the_path() {
        let st = state();
        let payload = ContainerProcessState {
            oci_version: "1.2.0",
            fds: [SECCOMP_FD_NAME],
            pid: 1,
            metadata: "",
            state: &st,
        };
        let (r, _w) = nix::unistd::pipe().unwrap();
        let e = send_to_agent(Path::new("/nonexistent/agent.sock"), &payload, r.as_fd())
            .unwrap_err()
            .to_string();
        assert!(e.contains("failed to connect with seccomp agent"), "{e}");
        assert!(e.contains("/nonexistent/agent.sock"), "{e}");
    }
}
