//! The typed channel between `rt create` and the container's init: a
//! SOCK_SEQPACKET socketpair, one message per datagram, so a message is
//! never split or merged and a protocol slip is a type error. A message is
//! one tag byte, and for `Error` its text (UTF-8) after it: both ends are
//! the same binary, and the init then runs no serializer at all (JSON
//! here was the only serde code the init touched, pages of its resident
//! set).

use crate::error::{Error, Result};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

#[derive(Debug, PartialEq)]
pub enum Msg {
    /// parent → init: id maps written and cgroup joined; go on. With
    /// CgroupEntry::SelfWhenReady: the cgroup directories exist, and the
    /// next datagram (`send_fds`) holds the files the init writes "0" to
    /// to move itself in (none: it opens them itself).
    Go,
    /// parent → init (CgroupEntry::SelfWhenReady): the cgroup limits and
    /// device rules are in force.
    LimitsSet,
    /// init → parent: mounts are done; run createRuntime/prestart hooks.
    CreateRuntimeHooks,
    /// parent → init: those hooks succeeded.
    HooksDone,
    /// init → parent: a filter with SCMP_ACT_NOTIFY rules is installed;
    /// its listener fd follows in the next datagram (`send_fd`).
    SeccompFd,
    /// parent → init: the seccomp agent has the listener fd.
    SeccompDone,
    /// init → parent: set up and waiting for `start`.
    Ready,
    /// init → parent: setup failed at this step.
    Error(String),
}

impl Msg {
    fn encode(&self) -> Vec<u8> {
        let (tag, text) = match self {
            Msg::Go => (b'G', None),
            Msg::LimitsSet => (b'L', None),
            Msg::CreateRuntimeHooks => (b'H', None),
            Msg::HooksDone => (b'h', None),
            Msg::SeccompFd => (b'S', None),
            Msg::SeccompDone => (b's', None),
            Msg::Ready => (b'R', None),
            Msg::Error(text) => (b'E', Some(text.as_bytes())),
        };
        let mut out = Vec::with_capacity(1 + text.map_or(0, <[u8]>::len));
        out.push(tag);
        out.extend_from_slice(text.unwrap_or_default());
        out
    }

    fn decode(data: &[u8]) -> Result<Msg> {
        let bad = |why: String| Error::new(format!("bad message on init channel: {why}"));
        let (&tag, rest) = data.split_first().ok_or_else(|| bad("empty".into()))?;
        let msg = match tag {
            b'G' => Msg::Go,
            b'L' => Msg::LimitsSet,
            b'H' => Msg::CreateRuntimeHooks,
            b'h' => Msg::HooksDone,
            b'S' => Msg::SeccompFd,
            b's' => Msg::SeccompDone,
            b'R' => Msg::Ready,
            b'E' => {
                let text = String::from_utf8(rest.to_vec())
                    .map_err(|e| bad(format!("error text: {e}")))?;
                return Ok(Msg::Error(text));
            }
            other => return Err(bad(format!("unknown tag {other:#04x}"))),
        };
        if !rest.is_empty() {
            return Err(bad(format!("{} bytes after {msg:?}", rest.len())));
        }
        Ok(msg)
    }
}

/// Error texts longer than this are shortened before sending: the whole
/// message is one datagram and must fit the socket's send buffer (about
/// 200 KiB by default).
const MAX_ERROR_TEXT: usize = 16 * 1024;

/// Keeps the head of an over-long error (where the step and cause are
/// named) and says plainly how much was cut.
fn shorten(text: &str) -> String {
    let mut end = MAX_ERROR_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}... [error message shortened: {} of {} bytes cut]",
        &text[..end],
        text.len() - end,
        text.len()
    )
}

pub struct Channel {
    fd: OwnedFd,
}

impl Channel {
    pub fn pair() -> Result<(Channel, Channel)> {
        let mut fds = [0; 2];
        // SAFETY: socketpair writes two fds into the array we pass.
        let rc = unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
                0,
                fds.as_mut_ptr(),
            )
        };
        if rc < 0 {
            return Err(Error::errno("socketpair", nix::Error::last()));
        }
        // SAFETY: both fds are fresh and owned by us from here on.
        let (a, b) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        Ok((Channel { fd: a }, Channel { fd: b }))
    }

    pub fn send(&self, msg: &Msg) -> Result<()> {
        let short;
        let msg = match msg {
            Msg::Error(text) if text.len() > MAX_ERROR_TEXT => {
                short = Msg::Error(shorten(text));
                &short
            }
            m => m,
        };
        crate::sys::write_all(self.fd.as_raw_fd(), &msg.encode())
            .map_err(|e| Error::errno("send to init channel", e))
    }

    /// Sends `fd` (SCM_RIGHTS) as a datagram of its own, after the message
    /// that announces it.
    pub fn send_fd(&self, fd: std::os::fd::BorrowedFd) -> Result<()> {
        crate::sys::send_fd(self.fd.as_raw_fd(), b"fd", fd.as_raw_fd())
            .map_err(|e| Error::errno("send fd on init channel", e))
    }

    /// Receives the fd `send_fd` sent (close-on-exec).
    pub fn recv_fd(&self) -> Result<OwnedFd> {
        crate::sys::recv_fd(self.fd.as_raw_fd())
            .map_err(|e| Error::errno("receive fd on init channel", e))
    }

    /// Sends `fds` (SCM_RIGHTS, at most sys::MAX_FDS_PER_DATAGRAM; maybe
    /// none) as a datagram of their own, after the message announcing them.
    pub fn send_fds(&self, fds: &[std::os::fd::BorrowedFd]) -> Result<()> {
        let raw: Vec<_> = fds.iter().map(|f| f.as_raw_fd()).collect();
        crate::sys::send_fds(self.fd.as_raw_fd(), b"fds", &raw)
            .map_err(|e| Error::errno("send fds on init channel", e))
    }

    /// Receives the fds `send_fds` sent (close-on-exec), in order.
    pub fn recv_fds(&self) -> Result<Vec<OwnedFd>> {
        crate::sys::recv_fds(self.fd.as_raw_fd())
            .map_err(|e| Error::errno("receive fds on init channel", e))
    }

    /// Receives one message; `None` when the other side closed the channel.
    /// The buffer is sized from the datagram itself: a fixed one cut
    /// messages longer than it and the tail was lost (a JSON parse error
    /// instead of the init's error).
    pub fn recv(&self) -> Result<Option<Msg>> {
        let mut reset = false;
        loop {
            // SAFETY: with MSG_PEEK|MSG_TRUNC and no buffer, recv writes
            // nothing and returns the full length of the next datagram.
            let len = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    std::ptr::null_mut(),
                    0,
                    libc::MSG_PEEK | libc::MSG_TRUNC,
                )
            };
            let mut buf = vec![0u8; len.max(1) as usize];
            let n = if len < 0 {
                len
            } else {
                // SAFETY: reading into a buffer we own, of the given length.
                unsafe {
                    libc::read(
                        self.fd.as_raw_fd(),
                        buf.as_mut_ptr() as *mut libc::c_void,
                        buf.len(),
                    )
                }
            };
            if n < 0 {
                let e = nix::Error::last();
                if e == nix::Error::EINTR {
                    continue;
                }
                // The other side closed while a message of ours lay unread
                // there (the init failed before it read Go). The reset is
                // reported once, before what it sent us: read on.
                if e == nix::Error::ECONNRESET && !reset {
                    reset = true;
                    continue;
                }
                if e == nix::Error::ECONNRESET {
                    return Ok(None);
                }
                return Err(Error::errno("read init channel", e));
            }
            if n == 0 {
                return Ok(None);
            }
            return Msg::decode(&buf[..n as usize]).map(Some);
        }
    }

    /// Waits for one specific message; anything else is a protocol error,
    /// and an `Error` from the other side is returned as ours.
    pub fn expect(&self, want: Msg) -> Result<()> {
        match self.recv()? {
            Some(m) if m == want => Ok(()),
            Some(Msg::Error(e)) => Err(Error::new(e)),
            Some(other) => Err(Error::new(format!(
                "init channel: expected {want:?}, got {other:?}"
            ))),
            None => Err(Error::new(format!(
                "init channel closed while waiting for {want:?}"
            ))),
        }
    }
}

impl AsRawFd for Channel {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.fd.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_longer_than_64k_arrive_whole_or_marked_shortened() {
        let (parent, init) = Channel::pair().unwrap();
        // Under the cap (control characters, which JSON used to escape
        // sixfold): arrives whole.
        let quoted = "\u{1}".repeat(MAX_ERROR_TEXT - 10);
        init.send(&Msg::Error(quoted.clone())).unwrap();
        assert_eq!(parent.recv().unwrap(), Some(Msg::Error(quoted)));
        // Far over it: the head arrives, with the marker.
        let huge = format!("exec /{}: no such file or directory", "a".repeat(200_000));
        init.send(&Msg::Error(huge.clone())).unwrap();
        match parent.recv().unwrap() {
            Some(Msg::Error(e)) => {
                assert!(e.starts_with("exec /aaaa"), "{}", &e[..40]);
                assert!(e.len() < huge.len());
                assert!(
                    e.ends_with(&format!(
                        "[error message shortened: {} of {} bytes cut]",
                        huge.len() - MAX_ERROR_TEXT,
                        huge.len()
                    )),
                    "{}",
                    &e[e.len() - 80..]
                );
            }
            other => panic!("{other:?}"),
        }
        // The channel is still in step.
        init.send(&Msg::Ready).unwrap();
        assert_eq!(parent.recv().unwrap(), Some(Msg::Ready));
    }

    #[test]
    fn every_message_round_trips_and_garbage_is_refused() {
        let all = [
            Msg::Go,
            Msg::LimitsSet,
            Msg::CreateRuntimeHooks,
            Msg::HooksDone,
            Msg::SeccompFd,
            Msg::SeccompDone,
            Msg::Ready,
            Msg::Error(String::new()),
            Msg::Error("mount /dev: \"quoted\"\n\u{7f} ünïcode".into()),
        ];
        for m in all {
            assert_eq!(Msg::decode(&m.encode()).unwrap(), m);
        }
        for garbage in [&b""[..], b"X", b"Gx", b"E\xff\xfe", b"{\"Go\"}"] {
            let e = Msg::decode(garbage).unwrap_err().to_string();
            assert!(
                e.contains("bad message on init channel"),
                "{garbage:?}: {e}"
            );
        }
    }

    #[test]
    fn an_fd_crosses_between_messages() {
        use std::os::fd::AsFd;
        use std::os::unix::fs::MetadataExt;
        let (parent, init) = Channel::pair().unwrap();
        let (r, _w) = nix::unistd::pipe().unwrap();
        init.send(&Msg::SeccompFd).unwrap();
        init.send_fd(r.as_fd()).unwrap();
        init.send(&Msg::Ready).unwrap();
        assert_eq!(parent.recv().unwrap(), Some(Msg::SeccompFd));
        let got = parent.recv_fd().unwrap();
        let ino = |fd: &OwnedFd| {
            std::fs::metadata(format!("/proc/self/fd/{}", fd.as_raw_fd()))
                .unwrap()
                .ino()
        };
        assert_eq!(ino(&got), ino(&r));
        assert_eq!(parent.recv().unwrap(), Some(Msg::Ready));
    }

    #[test]
    fn a_message_sent_before_the_other_side_went_away_is_still_read() {
        let (parent, init) = Channel::pair().unwrap();
        init.send(&Msg::Error("mount /dev: symlink".into()))
            .unwrap();
        // Unread by the init when it exits: the kernel resets the channel.
        parent.send(&Msg::Go).unwrap();
        drop(init);
        assert_eq!(
            parent.recv().unwrap(),
            Some(Msg::Error("mount /dev: symlink".into()))
        );
        assert_eq!(parent.recv().unwrap(), None);
    }
}
