//! Runs one RUN command in a container through rt's library, in-process:
//! a bundle whose config.json starts from `rt spec`'s defaults, the
//! step's rootfs (the overlay's merged dir) as root.path, our pipes as the
//! container's stdio. `create` clones the container init as our child,
//! which is why the builder stays single-threaded.
//!
//! Network: the host's network namespace (no netns), unless the RUN says
//! `--network=none`. No terminal.

use crate::image::store::fsutil::{TempDir, unique_name};
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

pub struct RunSpec {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub network: crate::solver::netns::Network,
    /// The sandbox's namespace file (Network::Sandbox).
    pub netns: Option<PathBuf>,
    /// Extra OCI mount entries (RUN --mount), after the default ones.
    pub mounts: Vec<serde_json::Value>,
}

/// The RUN container's hostname.
pub const HOSTNAME: &str = "rt-build";

/// Docker's default capability set for containers (and build steps).
const CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Mount points of the default spec: the RUN container creates them in
/// the rootfs when missing, so the caller removes those from the layer.
pub fn mount_points() -> Vec<String> {
    let spec = rt::spec::default_spec_json(false);
    spec["mounts"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m["destination"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn config_json(rootfs: &Path, run: &RunSpec) -> serde_json::Value {
    let mut spec = rt::spec::default_spec_json(false);
    let caps: Vec<&str> = CAPS.to_vec();
    spec["process"] = serde_json::json!({
        "terminal": false,
        "user": {"uid": run.uid, "gid": run.gid, "additionalGids": run.additional_gids},
        "args": run.args,
        "env": run.env,
        "cwd": run.cwd,
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
        "noNewPrivileges": false
    });
    spec["root"] = serde_json::json!({"path": rootfs, "readonly": false});
    spec["hostname"] = serde_json::json!(HOSTNAME);
    crate::image::bundle::ensure_cgroup_namespace(&mut spec);
    if let Some(m) = spec["mounts"].as_array_mut() {
        m.extend(run.mounts.iter().cloned());
    }
    if let Some(ns) = spec["linux"]["namespaces"].as_array_mut() {
        use crate::solver::netns::Network;
        match (run.network, &run.netns) {
            (Network::Host, _) => ns.retain(|n| n["type"] != "network"),
            (Network::Sandbox, Some(path)) => {
                for n in ns.iter_mut().filter(|n| n["type"] == "network") {
                    n["path"] = serde_json::json!(path);
                }
            }
            // A namespace of its own with nothing but lo.
            (Network::None, _) | (Network::Sandbox, None) => {}
        }
    }
    spec
}

/// Runs the command; `output` gets its stdout+stderr as it comes.
/// Returns the exit code (128+n for a signal).
pub fn run(
    state_root: &Path,
    tmp: &Path,
    rootfs: &Path,
    spec: &RunSpec,
    output: &mut dyn FnMut(&[u8]),
) -> Result<i32, String> {
    let bundle = TempDir::new(tmp, "bundle")?;
    let config =
        serde_json::to_vec_pretty(&config_json(rootfs, spec)).map_err(|e| e.to_string())?;
    std::fs::write(bundle.path.join("config.json"), config)
        .map_err(|e| format!("bundle config.json: {e}"))?;
    std::fs::create_dir_all(state_root).map_err(|e| format!("{}: {e}", state_root.display()))?;

    let (read_end, write_end) = pipe()?;
    let devnull = std::fs::File::open("/dev/null").map_err(|e| e.to_string())?;
    let id = unique_name("rtb");
    let opts = rt::container::CreateOptions {
        root: state_root.to_path_buf(),
        id: id.clone(),
        bundle: bundle.path.clone(),
        stdio: Some([
            devnull.as_raw_fd(),
            write_end.as_raw_fd(),
            write_end.as_raw_fd(),
        ]),
        ..Default::default()
    };
    let loaded = rt::spec::load_bundle(&bundle.path)
        .map_err(|e| format!("the RUN container's config.json: {e}"))?;
    // As `rt run`: the process starts as soon as its container is ready.
    let st = rt::container::create_and_start(&opts, &loaded)
        .map_err(|e| format!("starting the RUN container: {e}"))?;
    // Only the container holds the write end now: EOF means it is done.
    drop(write_end);
    drop(devnull);
    let mut reader = std::fs::File::from(read_end);
    let mut buf = [0u8; 8192];
    loop {
        // Idle ticks (empty output) let the tty view move the clock.
        match readable_within(&reader, 100) {
            Ok(true) => {}
            Ok(false) => {
                output(&[]);
                continue;
            }
            Err(e) => {
                let _ = rt::container::delete(state_root, &id, true);
                return Err(e);
            }
        }
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => output(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let _ = rt::container::delete(state_root, &id, true);
                return Err(format!("reading RUN output: {e}"));
            }
        }
    }
    let code = rt::container::exec_wait_child(st.pid);
    rt::container::delete(state_root, &id, true)
        .map_err(|e| format!("deleting the RUN container: {e}"))?;
    Ok(code)
}

/// Force-deletes RUN containers left by builders that died (their ids are
/// `rtb-PID-N-TIME`): kills what still runs, removes state and cgroups.
pub fn reap_stale(state_root: &Path) {
    let Ok(rd) = std::fs::read_dir(state_root) else {
        return;
    };
    for e in rd.flatten() {
        let id = e.file_name().to_string_lossy().into_owned();
        let pid: Option<i32> = id.rsplit('-').nth(2).and_then(|p| p.parse().ok());
        let alive = pid.is_some_and(crate::image::store::fsutil::pid_alive);
        if id.starts_with("rtb-") && !alive {
            let _ = rt::container::delete(state_root, &id, true);
        }
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd), String> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two descriptors we then own.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    if rc != 0 {
        return Err(format!("pipe: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: both fds were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Waits up to `ms` for `f` to be readable (or at EOF).
fn readable_within(f: &std::fs::File, ms: i32) -> Result<bool, String> {
    let mut pfd = libc::pollfd {
        fd: f.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for one open descriptor.
    let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
    if rc < 0 {
        let e = std::io::Error::last_os_error();
        if e.kind() == std::io::ErrorKind::Interrupted {
            return Ok(false);
        }
        return Err(format!("waiting for RUN output: {e}"));
    }
    Ok(rc > 0)
}

/// Enters a private mount namespace so overlay mounts never reach the
/// host's and vanish if we die. Must run before any thread exists.
pub fn private_mount_namespace() -> Result<(), String> {
    // SAFETY: unshare and mount with constant arguments.
    unsafe {
        if libc::unshare(libc::CLONE_NEWNS) != 0 {
            return Err(format!(
                "unshare(CLONE_NEWNS): {}",
                std::io::Error::last_os_error()
            ));
        }
        let root = c"/";
        if libc::mount(
            std::ptr::null(),
            root.as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ) != 0
        {
            return Err(format!(
                "making / private: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}
