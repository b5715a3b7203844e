//! One function per subcommand: turn flags into library calls.

use super::args::*;
use crate::container::{self, CreateOptions, ExecOptions};
use crate::error::{Context, Error, Result};
use crate::state::{self, ContainerDir};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// runc passes stdio + $LISTEN_FDS + --preserve-fds to the container.
fn preserved(extra: u32) -> u32 {
    let listen = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(0);
    extra + listen
}

/// `rt run ./path/to/bundle`: an id containing '/' names the bundle, and
/// the id is derived from the directory name.
pub fn resolve_id_and_bundle(a: &CreateArgs) -> Result<(String, PathBuf)> {
    if a.id.contains('/') && a.bundle.is_none() {
        let dir = std::fs::canonicalize(&a.id)
            .map_err(|e| Error::from(e).context(format!("bundle {}", a.id)))?;
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let id: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "_+-.".contains(c) {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        return Ok((id, dir));
    }
    let bundle = match &a.bundle {
        Some(b) => b.clone(),
        None => std::env::current_dir()?,
    };
    Ok((a.id.clone(), bundle))
}

pub fn create_options(
    root: &Path,
    a: &CreateArgs,
    systemd_cgroup: bool,
    rootless: Option<bool>,
) -> Result<CreateOptions> {
    let (id, bundle) = resolve_id_and_bundle(a)?;
    Ok(CreateOptions {
        root: root.to_path_buf(),
        id,
        bundle,
        pid_file: a.pid_file.clone(),
        console_socket: a.console_socket.clone(),
        no_pivot: a.no_pivot,
        no_new_keyring: a.no_new_keyring,
        preserve_fds: preserved(a.preserve_fds),
        stdio: None,
        console_fd: None,
        systemd_cgroup,
        rootless,
    })
}

pub fn create(
    root: &Path,
    a: &CreateArgs,
    systemd_cgroup: bool,
    rootless: Option<bool>,
) -> Result<i32> {
    container::create(&create_options(root, a, systemd_cgroup, rootless)?)?;
    Ok(0)
}

pub fn start(root: &Path, a: &IdArg) -> Result<i32> {
    container::start(root, &a.id)?;
    Ok(0)
}

pub fn state(root: &Path, a: &IdArg) -> Result<i32> {
    let st = container::state(root, &a.id)?;
    println!(
        "{}",
        serde_json::to_string_pretty(&st).map_err(|e| Error::new(e.to_string()))?
    );
    Ok(0)
}

pub fn kill(root: &Path, a: &KillArgs) -> Result<i32> {
    let sig = container::parse_signal(a.signal.as_deref().unwrap_or("SIGTERM"))?;
    container::kill(root, &a.id, sig, a.all)?;
    Ok(0)
}

pub fn delete(root: &Path, a: &DeleteArgs) -> Result<i32> {
    container::delete(root, &a.id, a.force)?;
    Ok(0)
}

pub fn list(root: &Path, a: &ListArgs) -> Result<i32> {
    let mut rows = Vec::new();
    for id in state::list_ids(root)? {
        // Without waiting for locks: a container being created or deleted
        // meanwhile is shown as it is on disk, or not at all.
        if let Some((st, status)) = state::peek(root, &id) {
            rows.push(st.oci(status));
        }
    }
    if a.quiet {
        for r in &rows {
            println!("{}", r.id);
        }
    } else if a.format == "json" {
        println!(
            "{}",
            serde_json::to_string(&rows).map_err(|e| Error::new(e.to_string()))?
        );
    } else {
        let w = rows.iter().map(|r| r.id.len()).max().unwrap_or(2).max(2);
        println!(
            "{:<w$}   {:<8} {:<10} {:<40} {:<30} OWNER",
            "ID", "PID", "STATUS", "BUNDLE", "CREATED"
        );
        for r in &rows {
            println!(
                "{:<w$}   {:<8} {:<10} {:<40} {:<30} {}",
                r.id,
                r.pid,
                r.status,
                r.bundle.display(),
                r.created,
                r.owner
            );
        }
    }
    Ok(0)
}

pub fn spec(a: &SpecArgs) -> Result<i32> {
    let path = match &a.bundle {
        Some(dir) => dir.join("config.json"),
        None => PathBuf::from("config.json"),
    };
    if path.exists() {
        return Err(Error::new(format!(
            "File {} exists. Remove it first",
            path.display()
        )));
    }
    let text = crate::spec::to_runc_text(&crate::spec::default_spec_json(a.rootless));
    std::fs::write(&path, text).with_ctx(|| format!("write {}", path.display()))?;
    Ok(0)
}

/// The exec process: --process FILE, or the container's process with the
/// command line's args and overrides (runc's rules).
fn exec_process(root: &Path, a: &ExecArgs) -> Result<oci_spec::runtime::Process> {
    if let Some(p) = &a.process {
        let text = std::fs::read(p).with_ctx(|| format!("read {}", p.display()))?;
        let named = |e: serde_path_to_error::Error<serde_json::Error>| {
            Error::new(format!("{}: {}: {}", p.display(), e.path(), e.inner()))
        };
        let mut value: serde_json::Value = serde_json::from_slice(&text)
            .map_err(|e| Error::new(format!("{}: {e}", p.display())))?;
        let proc: oci_spec::runtime::Process = match value.as_object_mut() {
            // No `user` means root, as in runc (the spec's Process requires
            // it). Errors then name the field but not the line.
            Some(obj) if !obj.contains_key("user") => {
                obj.insert("user".into(), serde_json::json!({"uid": 0, "gid": 0}));
                serde_path_to_error::deserialize(value).map_err(named)?
            }
            _ => serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(&text))
                .map_err(named)?,
        };
        if proc.args().as_ref().is_none_or(|a| a.is_empty()) {
            return Err(Error::new(format!(
                "{}: args: must not be empty",
                p.display()
            )));
        }
        crate::spec::process_has_no_nul(&proc)
            .map_err(|e| Error::new(format!("{}: {e}", p.display())))?;
        return Ok(proc);
    }
    if a.command.is_empty() {
        return Err(Error::new(
            "exec: no command given (use --process FILE or COMMAND [ARG...])",
        ));
    }
    let (_dir, st) = ContainerDir::open(root, &a.id)?;
    let mut p = st.process.clone().unwrap_or_default();
    p.set_args(Some(a.command.clone()));
    p.set_terminal(Some(a.tty));
    if let Some(c) = &a.cwd {
        p.set_cwd(c.clone());
    }
    let mut env = p.env().clone().unwrap_or_default();
    override_env(&mut env, &a.env);
    p.set_env(Some(env));
    if let Some(u) = &a.user {
        let (uid, gid) = match u.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (u.as_str(), None),
        };
        let uid: u32 = uid
            .parse()
            .map_err(|_| Error::new(format!("--user: {u:?} is not uid[:gid]")))?;
        let gid: u32 = match gid {
            Some(g) => g
                .parse()
                .map_err(|_| Error::new(format!("--user: {u:?} is not uid[:gid]")))?,
            None => 0,
        };
        p.user_mut().set_uid(uid);
        p.user_mut().set_gid(gid);
    }
    if !a.additional_gids.is_empty() {
        p.user_mut()
            .set_additional_gids(Some(a.additional_gids.clone()));
    }
    if a.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if !a.cap.is_empty() {
        // --cap adds to bounding, effective, permitted and ambient, never
        // inheritable (CVE-2022-29162).
        let mut caps = p.capabilities().clone().unwrap_or_default();
        for name in &a.cap {
            let c: oci_spec::runtime::Capability =
                serde_json::from_value(serde_json::Value::String(name.clone()))
                    .map_err(|_| Error::new(format!("--cap: unknown capability {name}")))?;
            for set in [
                caps.bounding().clone(),
                caps.effective().clone(),
                caps.permitted().clone(),
                caps.ambient().clone(),
            ]
            .iter()
            .enumerate()
            {
                let mut s = set.1.clone().unwrap_or_default();
                s.insert(c);
                match set.0 {
                    0 => caps.set_bounding(Some(s)),
                    1 => caps.set_effective(Some(s)),
                    2 => caps.set_permitted(Some(s)),
                    _ => caps.set_ambient(Some(s)),
                };
            }
        }
        p.set_capabilities(Some(caps));
    }
    Ok(p)
}

/// runc: any failure of `exec` (unknown container, bad process.json, the
/// process not starting, detached or not) exits 255, so a caller (go-runc,
/// conmon) never mistakes it for an exit status of the process.
pub const EXEC_FAILED: i32 = 255;

/// `exec --env K=V`: replaces the container's K where it is (runc's
/// setenv semantics: the last value wins, the first position stays), or
/// adds K at the end.
fn override_env(env: &mut Vec<String>, extra: &[String]) {
    let key = |e: &str| e.split_once('=').map_or(e, |(k, _)| k).to_string();
    for kv in extra {
        let k = key(kv);
        match env.iter().position(|e| key(e) == k) {
            Some(i) => {
                env[i] = kv.clone();
                // Later duplicates of K in the spec would shadow nothing
                // now but could confuse a getenv that reads the last one.
                let mut j = i + 1;
                while j < env.len() {
                    if key(&env[j]) == k {
                        env.remove(j);
                    } else {
                        j += 1;
                    }
                }
            }
            None => env.push(kv.clone()),
        }
    }
}

pub fn exec(root: &Path, a: &ExecArgs) -> Result<i32> {
    match exec_inner(root, a) {
        Ok(code) => Ok(code),
        Err(e) => {
            super::report(&e.context("exec failed"));
            Ok(EXEC_FAILED)
        }
    }
}

fn exec_inner(root: &Path, a: &ExecArgs) -> Result<i32> {
    let process = exec_process(root, a)?;
    // A terminal without --console-socket: rt holds the pty master and
    // proxies its own stdio to it, as `run` does (and runc's exec).
    let proxied = process.terminal().unwrap_or(false) && a.console_socket.is_none();
    if proxied && a.detach {
        return Err(Error::new(
            "cannot allocate tty if rt will detach without setting console socket",
        ));
    }
    let pair = if proxied {
        Some(std::os::unix::net::UnixStream::pair().ctx("socketpair for the pty master")?)
    } else {
        None
    };
    let opts = ExecOptions {
        root: root.to_path_buf(),
        id: a.id.clone(),
        process,
        console_socket: a.console_socket.clone(),
        console_fd: pair.as_ref().map(|(_, theirs)| theirs.as_raw_fd()),
        pid_file: a.pid_file.clone(),
        detach: a.detach,
        preserve_fds: preserved(a.preserve_fds),
        ignore_paused: a.ignore_paused,
        sub_cgroups: crate::cgroups::sub::SubCgroups::parse(&a.cgroup)?,
    };
    let Some((ours, theirs)) = pair else {
        return container::exec(&opts);
    };
    let pid = container::exec_start(&opts)?;
    drop(theirs);
    let proxy = match super::tty_proxy::Proxy::receive(ours.as_raw_fd()) {
        Ok(p) => p,
        Err(e) => {
            // SAFETY: killing our own child, which wait_child then reaps.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            container::exec_wait_child(pid);
            return Err(e);
        }
    };
    proxy.copy();
    let code = container::exec_wait_child(pid);
    drop(proxy);
    Ok(code)
}

pub fn ps(root: &Path, a: &PsArgs) -> Result<i32> {
    let pids = container::pids(root, &a.id)?;
    if a.format == "json" {
        println!(
            "{}",
            serde_json::to_string(&pids).map_err(|e| Error::new(e.to_string()))?
        );
        return Ok(0);
    }
    let mut cmd = std::process::Command::new("ps");
    cmd.args(if a.ps_args.is_empty() {
        vec!["-ef".to_string()]
    } else {
        a.ps_args.clone()
    });
    let out = cmd.output().ctx("run ps")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .ok_or_else(|| Error::new("ps output has no PID column"))?;
    println!("{header}");
    for l in lines {
        if let Some(pid) = l
            .split_whitespace()
            .nth(col)
            .and_then(|p| p.parse::<i32>().ok())
        {
            if pids.contains(&pid) {
                println!("{l}");
            }
        }
    }
    Ok(0)
}

pub fn pause(root: &Path, a: &IdArg, paused: bool) -> Result<i32> {
    container::set_paused(root, &a.id, paused)?;
    Ok(0)
}

pub fn features() -> Result<i32> {
    // Listed only where an idmapped bind can be made right now.
    let idmap = crate::mounts::sources::idmap_supported();
    let (mpol_modes, mpol_flags) = crate::init::memory_policy::supported();
    let mut v = serde_json::json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": crate::state::OCI_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": ["async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "mand",
            "noatime", "nodev", "nodiratime", "noexec", "nomand", "norelatime", "nostrictatime", "nosuid",
            "private", "ratime", "rbind", "rdev", "rdiratime", "relatime", "remount", "rexec", "rnoatime",
            "rnodev", "rnodiratime", "rnoexec", "rnorelatime", "rnostrictatime", "rnosuid", "rnosymfollow",
            "ro", "rprivate", "rrelatime", "rro", "rrw", "rshared", "rslave", "rstrictatime", "rsuid",
            "rsymfollow", "runbindable", "rw", "shared", "silent", "slave", "strictatime", "suid",
            "sync", "unbindable", "loud"],
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": caps::all().iter().map(|c| c.to_string()).collect::<Vec<_>>(),
            "cgroup": {"v1": true, "v2": true, "systemd": true, "systemdUser": false},
            "seccomp": crate::seccomp::features(),
            "memoryPolicy": {"modes": mpol_modes, "flags": mpol_flags},
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false},
            "mountExtensions": {"idmap": {"enabled": idmap}}
        },
        // runc 1.2's key; true when the criu binary is there (whether the
        // kernel lets CRIU work shows only when it runs: `criu check`).
        "annotations": {
            "org.opencontainers.runc.version": super::VERSION,
            "org.opencontainers.runc.checkpoint.enabled": crate::checkpoint::criu_available().to_string()
        }
    });
    if let Some(opts) = v["mountOptions"].as_array_mut().filter(|_| idmap) {
        opts.extend([serde_json::json!("idmap"), serde_json::json!("ridmap")]);
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&v).map_err(|e| Error::new(e.to_string()))?
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::override_env;

    #[test]
    fn exec_env_overrides_in_place_and_appends_new_keys() {
        let mut env: Vec<String> = ["PATH=/bin", "HOME=/root", "TERM=xterm", "HOME=/again"]
            .map(String::from)
            .to_vec();
        override_env(
            &mut env,
            &["HOME=/x".into(), "NEW=1".into(), "PATH=/y".into()],
        );
        assert_eq!(env, ["PATH=/y", "HOME=/x", "TERM=xterm", "NEW=1"]);
    }
}
