//! `rt run` with process.terminal and no --console-socket: rt itself takes
//! the pty master and copies between it and its own stdio, with the
//! caller's terminal in raw mode meanwhile (what runc does).

use crate::error::{Error, Result};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

pub struct Proxy {
    master: OwnedFd,
    saved: Option<libc::termios>,
}

impl Proxy {
    /// Receives the master from the init over our end of the socketpair.
    pub fn receive(sock: RawFd) -> Result<Proxy> {
        let master =
            crate::sys::recv_fd(sock).map_err(|e| Error::errno("receive pty master", e))?;
        let mut saved = None;
        // SAFETY: termios calls on fd 0 with structs we own.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            if libc::isatty(0) == 1 && libc::tcgetattr(0, &mut t) == 0 {
                saved = Some(t);
                let mut raw = t;
                libc::cfmakeraw(&mut raw);
                libc::tcsetattr(0, libc::TCSANOW, &raw);
                let mut ws: libc::winsize = std::mem::zeroed();
                if libc::ioctl(0, libc::TIOCGWINSZ, &mut ws) == 0 {
                    libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws);
                }
            }
        }
        Ok(Proxy { master, saved })
    }

    /// Copies until the container side of the pty is gone.
    pub fn copy(&self) {
        let m = self.master.as_raw_fd();
        let mut stdin_open = true;
        let mut buf = [0u8; 8192];
        loop {
            let mut fds = [
                libc::pollfd {
                    fd: m,
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: if stdin_open { 0 } else { -1 },
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            // SAFETY: two valid pollfds.
            if unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) } < 0 {
                if nix::Error::last() == nix::Error::EINTR {
                    continue;
                }
                return;
            }
            if fds[0].revents != 0 {
                // SAFETY: reading into our buffer.
                let n = unsafe { libc::read(m, buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
                if n <= 0 {
                    return; // EIO: every slave fd closed, the container is done
                }
                let _ = crate::sys::write_all(1, &buf[..n as usize]);
            }
            if stdin_open && fds[1].revents != 0 {
                // SAFETY: reading into our buffer.
                let n = unsafe { libc::read(0, buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
                if n <= 0 {
                    stdin_open = false;
                    // Pass EOF on as ^D, as a terminal would.
                    let _ = crate::sys::write_all(m, &[4]);
                } else {
                    let _ = crate::sys::write_all(m, &buf[..n as usize]);
                }
            }
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(t) = self.saved {
            // SAFETY: restoring the terminal settings we saved.
            unsafe { libc::tcsetattr(0, libc::TCSANOW, &t) };
        }
    }
}
