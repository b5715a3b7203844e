//! A small blocking D-Bus connection over a unix socket: SASL EXTERNAL
//! authentication, method calls, and waiting for signals. Enough for the
//! handful of calls the systemd cgroup driver makes; no introspection, no
//! unix fd passing, no server side.

use super::wire::{self, Call, Message, Value};
use crate::error::{Error, Result};
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Header flag: the caller does not want a reply.
const NO_REPLY_EXPECTED: u8 = 0x1;

/// A failed method call: either the peer answered with a D-Bus error
/// (`name` is set, e.g. "org.freedesktop.systemd1.NoSuchUnit") or talking
/// to it failed.
#[derive(Debug)]
pub struct CallError {
    pub name: Option<String>,
    pub error: Error,
}

impl CallError {
    pub fn is(&self, name: &str) -> bool {
        self.name.as_deref() == Some(name)
    }
}

impl From<Error> for CallError {
    fn from(error: Error) -> Self {
        CallError { name: None, error }
    }
}

impl From<CallError> for Error {
    fn from(e: CallError) -> Self {
        e.error
    }
}

pub struct Bus {
    sock: UnixStream,
    /// The socket we are connected to, for error messages.
    pub socket: PathBuf,
    serial: u32,
    /// Bytes read but not yet parsed into a message.
    inbox: Vec<u8>,
    /// Signals that arrived while we waited for a reply.
    signals: VecDeque<Message>,
    /// Authentication succeeded; "BEGIN" is still to be sent (it goes out
    /// with the first message, saving a write).
    pending_begin: bool,
}

impl Bus {
    /// Connects and authenticates. `message_bus`: the peer is a bus daemon
    /// (dbus-daemon, dbus-broker), which wants `Hello` first; systemd's
    /// private socket is a direct connection and does not.
    pub fn connect(socket: &Path, message_bus: bool) -> Result<Bus> {
        let sock = UnixStream::connect(socket)
            .map_err(|e| Error::from(e).context(format!("connect to {}", socket.display())))?;
        let mut bus = Bus {
            sock,
            socket: socket.to_path_buf(),
            serial: 0,
            inbox: Vec::new(),
            signals: VecDeque::new(),
            pending_begin: false,
        };
        bus.authenticate()?;
        if message_bus {
            // The reply (our unique name) is of no use to us; not waiting
            // for it saves a round trip. The daemon handles it first.
            bus.send(
                &Call {
                    destination: Some("org.freedesktop.DBus"),
                    path: "/org/freedesktop/DBus",
                    interface: "org.freedesktop.DBus",
                    member: "Hello",
                    args: &[],
                },
                false,
            )?;
        }
        Ok(bus)
    }

    /// SASL EXTERNAL: the server checks our uid (sent as the hex of its
    /// decimal text) against the socket's peer credentials.
    fn authenticate(&mut self) -> Result<()> {
        let uid = nix::unistd::geteuid().as_raw().to_string();
        let hex: String = uid.bytes().map(|b| format!("{b:02x}")).collect();
        let hello = format!("\0AUTH EXTERNAL {hex}\r\n");
        self.write_all(hello.as_bytes())?;
        let deadline = Instant::now() + Duration::from_secs(10);
        let line = loop {
            if let Some(end) = self.inbox.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.inbox[..end]).into_owned();
                self.inbox.drain(..end + 2);
                break line;
            }
            if self.inbox.len() > 4096 {
                return Err(self.fail("D-Bus authentication: reply line too long"));
            }
            self.fill(deadline)?;
        };
        if !line.starts_with("OK ") {
            return Err(self.fail(&format!(
                "D-Bus authentication as uid {uid} refused: {line:?}"
            )));
        }
        // BEGIN goes out together with the first message.
        self.pending_begin = true;
        Ok(())
    }

    fn fail(&self, what: &str) -> Error {
        Error::new(format!("{}: {what}", self.socket.display()))
    }

    fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        self.sock
            .write_all(bytes)
            .map_err(|e| Error::from(e).context(format!("write to {}", self.socket.display())))
    }

    /// Reads more bytes into the inbox, waiting until `deadline`.
    fn fill(&mut self, deadline: Instant) -> Result<()> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(self.fail("timed out waiting for systemd"));
        }
        self.sock
            .set_read_timeout(Some(left))
            .map_err(|e| Error::from(e).context("set D-Bus socket timeout"))?;
        let mut chunk = [0u8; 8192];
        match self.sock.read(&mut chunk) {
            Ok(0) => Err(self.fail("connection closed by the peer")),
            Ok(n) => {
                self.inbox.extend_from_slice(&chunk[..n]);
                Ok(())
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                Err(self.fail("timed out waiting for systemd"))
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Ok(()),
            Err(e) => Err(Error::from(e).context(format!("read from {}", self.socket.display()))),
        }
    }

    /// The next complete message from the peer.
    fn next_message(&mut self, deadline: Instant) -> Result<Message> {
        loop {
            if let Some(len) = wire::message_len(&self.inbox)? {
                if self.inbox.len() >= len {
                    let msg = wire::decode(&self.inbox[..len])?;
                    self.inbox.drain(..len);
                    return Ok(msg);
                }
            }
            self.fill(deadline)?;
        }
    }

    /// Sends a method call; returns its serial.
    pub fn send(&mut self, call: &Call, want_reply: bool) -> Result<u32> {
        self.serial += 1;
        let mut bytes = Vec::new();
        if std::mem::take(&mut self.pending_begin) {
            bytes.extend_from_slice(b"BEGIN\r\n");
        }
        let mut msg = call.encode(self.serial);
        if !want_reply {
            msg[2] |= NO_REPLY_EXPECTED;
        }
        bytes.extend_from_slice(&msg);
        self.write_all(&bytes)?;
        Ok(self.serial)
    }

    /// Calls a method and waits for its reply; signals arriving meanwhile
    /// are kept for [`Bus::wait_signal`].
    pub fn call(&mut self, call: &Call, timeout: Duration) -> Result<Vec<Value>, CallError> {
        let serial = self.send(call, true)?;
        let deadline = Instant::now() + timeout;
        loop {
            let msg = self.next_message(deadline)?;
            if msg.kind == wire::SIGNAL {
                self.signals.push_back(msg);
                continue;
            }
            if msg.reply_serial != Some(serial) {
                continue; // a reply to a call whose answer we did not wait for
            }
            return match msg.kind {
                wire::METHOD_RETURN => Ok(msg.body),
                wire::ERROR => {
                    let name = msg.error_name.unwrap_or_default();
                    let text = msg
                        .body
                        .first()
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string();
                    Err(CallError {
                        error: Error::new(format!(
                            "{}.{}: {name}: {text}",
                            call.interface, call.member
                        )),
                        name: Some(name),
                    })
                }
                other => Err(Error::new(format!("unexpected D-Bus message type {other}")).into()),
            };
        }
    }

    /// Waits for a signal that `wanted` accepts (earlier ones included).
    pub fn wait_signal(
        &mut self,
        timeout: Duration,
        mut wanted: impl FnMut(&Message) -> bool,
    ) -> Result<Message> {
        if let Some(i) = self.signals.iter().position(&mut wanted) {
            return Ok(self.signals.remove(i).expect("index from position"));
        }
        let deadline = Instant::now() + timeout;
        loop {
            let msg = self.next_message(deadline)?;
            if msg.kind == wire::SIGNAL && wanted(&msg) {
                return Ok(msg);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    /// A fake peer: checks the auth exchange and the first call, answers
    /// with a signal and then an error reply.
    #[test]
    fn authenticates_calls_and_reads_errors_and_signals() {
        let dir = std::env::temp_dir().join(format!("rt-bus-test-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("sock");
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        let peer = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            while !got.ends_with(b"\r\n") {
                let n = s.read(&mut buf).unwrap();
                got.extend_from_slice(&buf[..n]);
            }
            let uid = nix::unistd::geteuid().as_raw().to_string();
            let hex: String = uid.bytes().map(|b| format!("{b:02x}")).collect();
            assert_eq!(got, format!("\0AUTH EXTERNAL {hex}\r\n").as_bytes());
            s.write_all(b"OK 0123456789abcdef0123456789abcdef\r\n")
                .unwrap();
            // BEGIN and the call arrive in one write.
            got.clear();
            loop {
                let n = s.read(&mut buf).unwrap();
                got.extend_from_slice(&buf[..n]);
                if got.len() > 7 {
                    if let Some(len) = wire::message_len(&got[7..]).unwrap() {
                        if got.len() >= 7 + len {
                            break;
                        }
                    }
                }
            }
            assert!(got.starts_with(b"BEGIN\r\n"));
            let call = wire::decode(&got[7..]).unwrap();
            assert_eq!(call.member.as_deref(), Some("StopUnit"));
            assert_eq!(call.body, [Value::str("x.scope"), Value::str("replace")]);
            // A signal first, then the error reply.
            s.write_all(&fake_message(wire::SIGNAL, None, Some("JobRemoved"), None))
                .unwrap();
            s.write_all(&fake_message(
                wire::ERROR,
                Some(call.serial),
                None,
                Some("org.freedesktop.systemd1.NoSuchUnit"),
            ))
            .unwrap();
        });
        let mut bus = Bus::connect(&path, false).unwrap();
        let err = bus
            .call(
                &Call {
                    destination: Some("org.freedesktop.systemd1"),
                    path: "/org/freedesktop/systemd1",
                    interface: "org.freedesktop.systemd1.Manager",
                    member: "StopUnit",
                    args: &[Value::str("x.scope"), Value::str("replace")],
                },
                Duration::from_secs(5),
            )
            .unwrap_err();
        assert!(err.is("org.freedesktop.systemd1.NoSuchUnit"), "{err:?}");
        assert!(err.error.message().contains("not loaded"), "{err:?}");
        let sig = bus
            .wait_signal(Duration::from_secs(5), |m| {
                m.member.as_deref() == Some("JobRemoved")
            })
            .unwrap();
        assert_eq!(sig.body, [Value::str("not loaded")]);
        peer.join().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn missing_socket_names_it() {
        let err = Bus::connect(Path::new("/nonexistent/rt-test.sock"), false)
            .err()
            .unwrap();
        assert!(err.message().contains("/nonexistent/rt-test.sock"), "{err}");
    }

    /// Builds a little-endian message with a one-string body.
    fn fake_message(
        kind: u8,
        reply_serial: Option<u32>,
        member: Option<&str>,
        error_name: Option<&str>,
    ) -> Vec<u8> {
        let field = |code: u8, v: Value| Value::Struct(vec![Value::Byte(code), Value::variant(v)]);
        let mut fields = vec![field(8, Value::Sig("s".into()))];
        if let Some(r) = reply_serial {
            fields.push(field(5, Value::U32(r)));
        }
        if let Some(m) = member {
            fields.push(field(1, Value::Path("/org/freedesktop/systemd1".into())));
            fields.push(field(2, Value::str("org.freedesktop.systemd1.Manager")));
            fields.push(field(3, Value::str(m)));
        }
        if let Some(e) = error_name {
            fields.push(field(4, Value::str(e)));
        }
        let mut body = wire::Writer::default();
        body.value(&Value::str("not loaded"));
        let mut w = wire::Writer::default();
        w.buf.extend_from_slice(&[b'l', kind, 0, 1]);
        w.buf
            .extend_from_slice(&(body.buf.len() as u32).to_le_bytes());
        w.buf.extend_from_slice(&77u32.to_le_bytes());
        w.value(&Value::Array {
            elem: "(yv)".into(),
            items: fields,
        });
        while w.buf.len() % 8 != 0 {
            w.buf.push(0);
        }
        w.buf.extend_from_slice(&body.buf);
        w.buf
    }
}
