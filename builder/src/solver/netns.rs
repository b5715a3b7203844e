//! RUN's network: its own network namespace with outbound access through
//! user-mode networking, so a Dockerfile cannot reach services that listen
//! on the host's loopback (BuildKit's default sandbox). `--network=host`
//! shares the host's namespace, `--network=none` gets an empty one.
//!
//! The namespace is made once per build and shared by its RUN steps, as
//! BuildKit pools its namespaces: a RUN step's processes are gone when it
//! ends, so nothing but the interface's configuration carries over, and a
//! second user-mode stack per step would cost its start-up each time.
//! slirp4netns (Debian's package) gives the namespace `tap0` (10.0.2.100,
//! gateway 10.0.2.2, DNS 10.0.2.3); `--disable-host-loopback` keeps the
//! gateway from forwarding to the host's 127.0.0.1. No host firewall,
//! bridge or route is touched.

use crate::image::store::fsutil::TempDir;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// How a RUN step is networked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    /// Own namespace + slirp4netns (the default).
    Sandbox,
    Host,
    None,
}

impl Network {
    pub fn from_flag(flag: Option<&str>) -> Result<Network, String> {
        match flag {
            None | Some("default") | Some("sandbox") => Ok(Network::Sandbox),
            Some("host") => Ok(Network::Host),
            Some("none") => Ok(Network::None),
            Some(other) => Err(format!(
                "RUN --network={other} is not supported (default, none or host)"
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Network::Sandbox => "sandbox",
            Network::Host => "host",
            Network::None => "none",
        }
    }
}

/// slirp4netns's DNS forwarder inside the namespace.
pub const SANDBOX_DNS: &str = "10.0.2.3";

/// How long slirp4netns may take to configure the namespace.
const READY_TIMEOUT_MS: i32 = 10_000;

/// A network namespace kept as a bind-mounted file, with slirp4netns
/// serving it. Dropping it stops slirp4netns and releases the namespace.
pub struct SandboxNet {
    path: PathBuf,
    slirp: Child,
    log: PathBuf,
    _dir: TempDir,
}

impl SandboxNet {
    pub fn start(tmp: &Path) -> Result<SandboxNet, String> {
        let dir = TempDir::new(tmp, "netns")?;
        let path = dir.path.join("net");
        File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        new_namespace_at(&path)?;
        // A file, not a pipe: nobody drains slirp4netns's log while the
        // build runs, and a full pipe would stall the network.
        let log = dir.path.join("slirp4netns.log");
        let mut net = match spawn_slirp(&path, &log) {
            Ok(slirp) => SandboxNet {
                path,
                slirp,
                log,
                _dir: dir,
            },
            Err(e) => {
                unmount(&path);
                return Err(e);
            }
        };
        net.wait_ready()?;
        Ok(net)
    }

    /// The namespace file, for the runtime spec's `network` entry.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let ready = self
            .slirp
            .stdout
            .take()
            .ok_or("slirp4netns: no ready pipe")?;
        let fd = ready.as_raw_fd();
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for a descriptor we own.
        let rc = unsafe { libc::poll(&mut pfd, 1, READY_TIMEOUT_MS) };
        let mut byte = [0u8; 1];
        let mut ready = ready;
        let got = rc > 0 && matches!(ready.read(&mut byte), Ok(1));
        if got {
            return Ok(());
        }
        let _ = self.slirp.kill();
        let _ = self.slirp.wait();
        let err = std::fs::read_to_string(&self.log).unwrap_or_default();
        let err = err.trim();
        Err(format!(
            "RUN network: slirp4netns did not come up{}{}",
            if err.is_empty() { "" } else { ": " },
            err.lines().last().unwrap_or("")
        ))
    }
}

impl Drop for SandboxNet {
    fn drop(&mut self) {
        // Not waited for: slirp4netns takes 30-50 ms to die (its tap
        // device goes with it), and nothing here needs it gone: a sandbox
        // ends with its build, and the builder's exit hands the child to
        // init, which reaps it.
        let _ = self.slirp.kill();
        let _ = self.slirp.try_wait();
        unmount(&self.path);
    }
}

fn unmount(path: &Path) {
    if let Ok(c) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) {
        // SAFETY: umount2 with a valid path; failure only leaves a mount in
        // our private mount namespace, which dies with the builder.
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    }
}

/// Makes a new network namespace with `lo` up and binds it onto `path`,
/// leaving this thread in the namespace it was in.
fn new_namespace_at(path: &Path) -> Result<(), String> {
    let here = File::open("/proc/thread-self/ns/net")
        .map_err(|e| format!("RUN network: /proc/thread-self/ns/net: {e}"))?;
    // SAFETY: unshare with a constant flag; it only affects this thread.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        return Err(format!(
            "RUN network: unshare(CLONE_NEWNET): {}",
            std::io::Error::last_os_error()
        ));
    }
    let made = loopback_up().and_then(|()| bind_current_namespace(path));
    // SAFETY: setns to the namespace fd we opened above.
    if unsafe { libc::setns(here.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        // Staying in the new namespace would cut every later step off
        // (registry pulls, ADD URLs): nothing sensible can go on.
        let e = std::io::Error::last_os_error();
        eprintln!("rt-build: cannot return to the host network namespace: {e}");
        std::process::exit(1);
    }
    made
}

fn bind_current_namespace(path: &Path) -> Result<(), String> {
    let target = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| format!("{}: NUL in path", path.display()))?;
    let source = c"/proc/thread-self/ns/net";
    // SAFETY: a bind mount between two valid paths.
    let rc = unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            std::ptr::null(),
            libc::MS_BIND,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(format!(
            "RUN network: binding the namespace onto {}: {}",
            path.display(),
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// Brings `lo` up in the current network namespace (a new one has it
/// down, and programs expect 127.0.0.1 to work).
fn loopback_up() -> Result<(), String> {
    // SAFETY: socket with constant arguments; the fd is owned below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(format!(
            "RUN network: socket: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: fd was just created and is owned by nobody else.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: ifreq is plain data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *d = *s as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS fills ifr_ifru.ifru_flags of a valid ifreq.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) } != 0 {
        return Err(format!(
            "RUN network: lo flags: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: the union member SIOCGIFFLAGS just set.
    unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    // SAFETY: SIOCSIFFLAGS reads the flags of a valid ifreq.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) } != 0 {
        return Err(format!(
            "RUN network: lo up: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// slirp4netns on the namespace file; it reports readiness by writing one
/// byte to its `--ready-fd`, here its stdout pipe.
fn spawn_slirp(path: &Path, log: &Path) -> Result<Child, String> {
    use std::os::unix::process::CommandExt;
    let log = File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let mut cmd = Command::new("slirp4netns");
    // SAFETY: prctl is async-signal-safe and touches only the child. A
    // builder killed outright (SIGKILL of a parallel stage's child) runs no
    // Drop: the kernel then stops its slirp4netns instead of orphaning it.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.args([
        "--configure",
        "--mtu=65520",
        "--disable-host-loopback",
        "--ready-fd=1",
        "--netns-type=path",
    ])
    .arg(path)
    .arg("tap0")
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(log)
    .spawn()
    .map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            "RUN network: slirp4netns is not installed (Debian: apt-get install \
                 slirp4netns); use RUN --network=host or --network=none"
                .to_string()
        } else {
            format!("RUN network: starting slirp4netns: {e}")
        }
    })
}

/// /etc/resolv.conf for a RUN step: the host's, except that in the
/// sandbox nameservers on the host's loopback (unreachable from there)
/// are replaced by slirp4netns's forwarder.
pub fn resolv_conf(net: Network, host: &str) -> String {
    let mut out = String::new();
    let mut servers = 0;
    for line in host.lines() {
        let mut words = line.split_whitespace();
        if words.next() == Some("nameserver") {
            let addr = words.next().unwrap_or("");
            let loopback = addr.starts_with("127.") || addr == "::1";
            if net == Network::Sandbox && loopback {
                continue;
            }
            servers += 1;
        }
        out.push_str(line);
        out.push('\n');
    }
    if net == Network::Sandbox && servers == 0 {
        out.push_str(&format!("nameserver {SANDBOX_DNS}\n"));
    }
    out
}

/// /etc/hosts for a RUN step.
pub fn hosts(hostname: &str) -> String {
    format!("127.0.0.1\tlocalhost {hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags() {
        assert_eq!(Network::from_flag(None), Ok(Network::Sandbox));
        assert_eq!(Network::from_flag(Some("default")), Ok(Network::Sandbox));
        assert_eq!(Network::from_flag(Some("host")), Ok(Network::Host));
        assert_eq!(Network::from_flag(Some("none")), Ok(Network::None));
        assert!(
            Network::from_flag(Some("bridge"))
                .unwrap_err()
                .contains("--network=bridge")
        );
    }

    #[test]
    fn resolv_conf_replaces_loopback_servers_in_the_sandbox() {
        let host = "search example.org\nnameserver 127.0.0.53\noptions edns0\n";
        let s = resolv_conf(Network::Sandbox, host);
        assert_eq!(
            s,
            "search example.org\noptions edns0\nnameserver 10.0.2.3\n"
        );
        // The host's own namespace reaches its loopback resolver.
        assert_eq!(resolv_conf(Network::Host, host), host);
        let routed = "nameserver 192.0.2.1\nnameserver ::1\n";
        assert_eq!(
            resolv_conf(Network::Sandbox, routed),
            "nameserver 192.0.2.1\n"
        );
    }
}
