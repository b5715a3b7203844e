//! linux.seccomp as the container process sees it.

use crate::common::*;

/// A profile that allows everything except `mkdir`/`mkdirat` (EPERM).
fn deny_mkdir() -> serde_json::Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}
        ]
    })
}

const PROBE: &str = "mkdir /dev/probe 2>/dev/null && echo made || echo refused";

#[test]
fn filter_applies_with_no_new_privileges() {
    let ctx = TestCtx::new("seccomp::nnp");
    let mut b = ctx.bundle();
    b.set("/process/noNewPrivileges", json!(true))
        .set("/linux/seccomp", deny_mkdir())
        .sh(PROBE);
    assert_eq!(ctx.output_of(&mut b, "nnp").trim(), "refused");
}

/// Without no_new_privs the kernel wants CAP_SYS_ADMIN to load a filter,
/// and the default capability set lacks it: the filter must be loaded
/// before capabilities are dropped.
#[test]
fn filter_applies_without_no_new_privileges() {
    let ctx = TestCtx::new("seccomp::no_nnp");
    let mut b = ctx.bundle();
    b.set("/process/noNewPrivileges", json!(false))
        .set("/linux/seccomp", deny_mkdir())
        .sh(PROBE);
    assert_eq!(ctx.output_of(&mut b, "nonnp").trim(), "refused");
}

/// The runtime's own cwd check (CVE-2024-21626) must not run under the
/// filter: a profile refusing getcwd still starts the process.
#[test]
fn profile_denying_getcwd_still_starts() {
    let ctx = TestCtx::new("seccomp::getcwd");
    let mut b = ctx.bundle();
    b.set("/process/noNewPrivileges", json!(false))
        .set(
            "/linux/seccomp",
            json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [
                    {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}
                ]
            }),
        )
        .args(&["echo", "started"]);
    assert_eq!(ctx.output_of(&mut b, "getcwd").trim(), "started");
}

/// `exec` gets the container's filter too, also without no_new_privs.
#[test]
fn exec_process_gets_the_filter_without_no_new_privileges() {
    let ctx = TestCtx::new("seccomp::exec");
    let mut b = ctx.bundle();
    b.set("/process/noNewPrivileges", json!(false))
        .set("/linux/seccomp", deny_mkdir())
        .args(&["sleep", "1000"]);
    let id = ctx.id("execfilter");
    ctx.create(&mut b, &id).ok();
    ctx.start(&id).ok();
    let out = ctx.rt(&["exec", &id, "sh", "-c", PROBE]);
    out.ok();
    assert_eq!(out.stdout.trim(), "refused");
    ctx.delete_force(&id).ok();
    ctx.assert_nothing_left(&id);
}

/// `create` with `b`'s config must fail with status 1, leave nothing, and
/// say `says` (runc's words where it has them).
fn create_refused(ctx: &TestCtx, b: &mut Bundle, label: &str, says: &str) {
    let id = ctx.id(label);
    let out = ctx.create(b, &id);
    out.fails_with(1);
    if !testing_runc() || says == "listenerPath is not set" {
        out.stderr_has(says);
    }
    ctx.assert_nothing_left(&id);
}

/// An SCMP_ACT_NOTIFY rule needs a seccomp agent at listenerPath to get
/// the notify fd; without one runc refuses the container ("listenerPath is
/// not set"), and so does rt, before anything is made.
#[test]
fn notify_without_listener_path_is_refused_at_create() {
    let ctx = TestCtx::new("seccomp::notify_no_listener");
    let mut b = ctx.bundle();
    b.set(
        "/linux/seccomp",
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]
        }),
    )
    .args(&["true"]);
    create_refused(&ctx, &mut b, "notify", "listenerPath is not set");
}

/// A profile whose program exceeds the kernel's 4096 instructions fails
/// create with the size in words, not an internal error or a bare EINVAL
/// from seccomp(2) inside the container init.
#[test]
fn profile_too_large_for_the_kernel_is_refused_at_create() {
    let ctx = TestCtx::new("seccomp::too_large");
    let rules: Vec<_> = (0..1500)
        .map(|i| {
            json!({"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                   "args": [{"index": 0, "value": i, "op": "SCMP_CMP_EQ"}]})
        })
        .collect();
    let mut b = ctx.bundle();
    b.set(
        "/linux/seccomp",
        json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": rules}),
    )
    .args(&["true"]);
    create_refused(
        &ctx,
        &mut b,
        "toolarge",
        "instructions; the kernel allows 4096",
    );
}

/// A small seccomp agent, as a caller of runc runs one: it listens on a
/// unix socket, takes each listener fd the runtime sends (SCM_RIGHTS, with
/// the ContainerProcessState JSON as payload) and answers every notified
/// syscall as `answer` says.
struct Agent {
    path: std::path::PathBuf,
    payloads: std::sync::Arc<std::sync::Mutex<Vec<Value>>>,
    answered: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

#[derive(Clone, Copy)]
enum Answer {
    /// Fail with this errno (0: "succeeded", without the kernel doing it).
    Errno(i32),
    /// Let the kernel run it (SECCOMP_USER_NOTIF_FLAG_CONTINUE).
    Continue,
    /// Close the listener fd at once, as an agent that died would.
    Hangup,
}

impl Agent {
    fn start(ctx: &TestCtx, answer: Answer) -> Agent {
        use std::sync::atomic::Ordering;
        let path = ctx.dir.join("agent.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        listener.set_nonblocking(true).unwrap();
        let agent = Agent {
            path,
            payloads: Default::default(),
            answered: Default::default(),
            stop: Default::default(),
        };
        let (payloads, answered, stop) = (
            agent.payloads.clone(),
            agent.answered.clone(),
            agent.stop.clone(),
        );
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let (payload, fd) = receive_listener_fd(&conn);
                        payloads.lock().unwrap().push(payload);
                        let answered = answered.clone();
                        if !matches!(answer, Answer::Hangup) {
                            std::thread::spawn(move || answer_notifications(fd, answer, &answered));
                        }
                    }
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
                }
            }
        });
        agent
    }

    /// The payloads received, once there are `n` (the runtime's send
    /// completes before the agent thread has read it).
    fn payloads(&self, n: usize) -> Vec<Value> {
        wait_until(std::time::Duration::from_secs(10), || {
            self.payloads.lock().unwrap().len() >= n
        });
        self.payloads.lock().unwrap().clone()
    }

    fn answered(&self) -> usize {
        self.answered.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

fn receive_listener_fd(conn: &std::os::unix::net::UnixStream) -> (Value, std::os::fd::OwnedFd) {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
    use std::os::fd::{AsRawFd, FromRawFd};
    conn.set_nonblocking(false).unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 4]);
    let msg = recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
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
    assert_eq!(fds.len(), 1, "the runtime must send exactly one fd");
    let payload: Value = serde_json::from_slice(&buf[..len]).expect("payload is JSON");
    // SAFETY: the kernel installed this fd for us just now.
    (payload, unsafe {
        std::os::fd::OwnedFd::from_raw_fd(fds[0])
    })
}

/// Answers notifications until every process using the filter is gone
/// (the listener then reports POLLHUP).
fn answer_notifications(
    fd: std::os::fd::OwnedFd,
    answer: Answer,
    answered: &std::sync::atomic::AtomicUsize,
) {
    use std::os::fd::AsRawFd;
    loop {
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut pfd, 1, 30_000) } <= 0 || pfd.revents & libc::POLLIN == 0 {
            return;
        }
        // SAFETY: an all-zero seccomp_notif is what NOTIF_RECV requires.
        let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
        // SAFETY: the ioctl fills `req`, a seccomp_notif we own.
        if unsafe { libc::ioctl(fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_RECV, &mut req) } < 0 {
            continue; // the process went away meanwhile
        }
        let resp = libc::seccomp_notif_resp {
            id: req.id,
            val: 0,
            error: match answer {
                Answer::Errno(e) => -e,
                _ => 0,
            },
            flags: match answer {
                Answer::Continue => libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32,
                _ => 0,
            },
        };
        // SAFETY: the ioctl reads `resp`, a seccomp_notif_resp we own.
        if unsafe { libc::ioctl(fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_SEND, &resp) } == 0 {
            answered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

fn notify_mkdir(agent: &Agent) -> Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "listenerPath": agent.path,
        "listenerMetadata": "agent-meta",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
    })
}

/// runc's protocol: the agent at listenerPath gets the listener fd and
/// the ContainerProcessState (fds ["seccompFd"], the init's pid,
/// listenerMetadata, the state while creating), and its answers are what
/// the container's notified syscalls return. Without no_new_privs the
/// filter is loaded early, while rt is privileged.
#[test]
fn notify_agent_gets_the_fd_and_answers_the_syscalls() {
    let ctx = TestCtx::new("seccomp::notify_agent");
    let agent = Agent::start(&ctx, Answer::Errno(libc::ENOSPC));
    let mut b = ctx.bundle();
    b.set("/process/noNewPrivileges", json!(false))
        .set("/linux/seccomp", notify_mkdir(&agent))
        .sh("mkdir /probe 2>&1; test -d /probe && echo exists || echo absent");
    let id = ctx.id("notify");
    let out = ctx.create(&mut b, &id);
    out.ok();
    let pid: i64 = std::fs::read_to_string(ctx.pid_file(&id))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let payloads = agent.payloads(1);
    assert_eq!(payloads.len(), 1, "{payloads:?}");
    let p = &payloads[0];
    assert_eq!(p["fds"], json!(["seccompFd"]), "{p}");
    assert_eq!(p["pid"], json!(pid), "{p}");
    assert_eq!(p["metadata"], "agent-meta", "{p}");
    assert_eq!(p["state"]["id"], json!(id), "{p}");
    assert_eq!(p["state"]["pid"], json!(pid), "{p}");
    assert_eq!(p["state"]["status"], "creating", "{p}");
    assert!(p["ociVersion"].is_string(), "{p}");
    ctx.start(&id).ok();
    ctx.wait_status(&id, "stopped");
    let printed = out.stdout_now();
    assert!(
        printed.contains("No space left on device"),
        "mkdir did not get the agent's answer: {printed:?}"
    );
    assert!(printed.contains("absent"), "{printed:?}");
    assert!(agent.answered() >= 1);
    ctx.delete(&id).ok();
    ctx.assert_nothing_left(&id);
}

/// With no_new_privs the filter is loaded late, but still while rt listens
/// (runc too loads it before its init pipe closes); an `exec`'d process
/// gets its own listener fd, with its own pid in the payload. An answer of
/// 0 makes mkdir "succeed" without the kernel running it.
#[test]
fn notify_with_no_new_privileges_and_for_exec() {
    let ctx = TestCtx::new("seccomp::notify_nnp_exec");
    let agent = Agent::start(&ctx, Answer::Errno(0));
    let mut b = ctx.bundle();
    b.set("/process/noNewPrivileges", json!(true))
        .set("/linux/seccomp", notify_mkdir(&agent))
        .args(&["sleep", "1000"]);
    let id = ctx.id("notifyexec");
    ctx.create(&mut b, &id).ok();
    ctx.start(&id).ok();
    let out = ctx.rt(&[
        "exec",
        &id,
        "sh",
        "-c",
        "mkdir /probe && echo made; test -d /probe && echo exists || echo absent",
    ]);
    out.ok();
    assert_eq!(
        out.stdout.split_whitespace().collect::<Vec<_>>(),
        ["made", "absent"]
    );
    let payloads = agent.payloads(2);
    assert_eq!(payloads.len(), 2, "{payloads:?}");
    let init_pid = &payloads[0]["state"]["pid"];
    assert_eq!(&payloads[0]["pid"], init_pid);
    assert_eq!(payloads[1]["fds"], json!(["seccompFd"]));
    assert_eq!(payloads[1]["state"]["id"], json!(id));
    assert_ne!(
        &payloads[1]["pid"], init_pid,
        "exec payload names the exec'd process"
    );
    ctx.delete_force(&id).ok();
    ctx.assert_nothing_left(&id);
}

/// An agent that cannot be reached fails create (status 1, nothing left),
/// in runc's words, instead of a container whose notified syscalls fail.
#[test]
fn notify_with_unreachable_agent_fails_create() {
    let ctx = TestCtx::new("seccomp::notify_unreachable");
    let mut b = ctx.bundle();
    b.set(
        "/linux/seccomp",
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": ctx.dir.join("nobody-listens.sock"),
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]
        }),
    )
    .args(&["true"]);
    create_refused(
        &ctx,
        &mut b,
        "unreachable",
        "failed to connect with seccomp agent",
    );
}

/// libseccomp always filters the native ABI: a profile listing only the
/// 32-bit x86 ABIs still holds for the container's x86_64 programs.
#[test]
fn profile_listing_only_32_bit_arches_covers_the_native_one() {
    let ctx = TestCtx::new("seccomp::native_arch");
    let mut profile = deny_mkdir();
    profile["architectures"] = json!(["SCMP_ARCH_X86", "SCMP_ARCH_X32"]);
    let mut b = ctx.bundle();
    b.set("/linux/seccomp", profile).sh(PROBE);
    assert_eq!(ctx.output_of(&mut b, "native").trim(), "refused");
}

/// `features` lists seccomp as this kernel runs it: notify (the kernel has
/// SECCOMP_FILTER_FLAG_NEW_LISTENER since 5.0), the x86 architectures and
/// the filter flags, known and supported.
#[test]
fn features_report_seccomp_with_notify() {
    let ctx = TestCtx::new("seccomp::features");
    let out = ctx.rt(&["features"]);
    out.ok();
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    let seccomp = &v["linux"]["seccomp"];
    assert_eq!(seccomp["enabled"], json!(true), "{seccomp}");
    let has = |key: &str, item: &str| {
        seccomp[key]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x == item))
    };
    for action in ["SCMP_ACT_NOTIFY", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL_PROCESS"] {
        assert!(has("actions", action), "{action} missing: {seccomp}");
    }
    assert!(has("operators", "SCMP_CMP_MASKED_EQ"), "{seccomp}");
    for arch in ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"] {
        assert!(has("archs", arch), "{arch} missing: {seccomp}");
    }
    if !testing_runc() {
        assert!(has("knownFlags", "SECCOMP_FILTER_FLAG_TSYNC"), "{seccomp}");
        assert!(
            has("supportedFlags", "SECCOMP_FILTER_FLAG_LOG"),
            "{seccomp}"
        );
    }
}

/// Syscalls the runtime itself makes between loading the filter and exec
/// (read on its channel, openat and close of the exec fifo, execve) may be
/// notified too: with the agent letting them run, the container still
/// starts, with no_new_privs and without (runc's "important syscalls").
#[test]
fn notify_on_the_runtimes_own_syscalls_does_not_deadlock() {
    let ctx = TestCtx::new("seccomp::notify_important");
    let agent = Agent::start(&ctx, Answer::Continue);
    for nnp in [false, true] {
        let mut profile = notify_mkdir(&agent);
        profile["syscalls"][0]["names"] = json!(["execve", "openat", "open", "read", "close"]);
        let mut b = ctx.bundle();
        b.set("/process/noNewPrivileges", json!(nnp))
            .set("/linux/seccomp", profile)
            .args(&["echo", "ran"]);
        let id = ctx.id("important");
        let created = ctx.create(&mut b, &id);
        created.ok();
        ctx.start(&id).ok();
        ctx.wait_status(&id, "stopped");
        assert_eq!(created.stdout_now().trim(), "ran", "noNewPrivileges {nnp}");
        ctx.delete(&id).ok();
        ctx.assert_nothing_left(&id);
    }
    assert!(agent.answered() > 0, "no syscall was notified");
}

/// Once the agent has closed the listener fd, notified syscalls fail with
/// ENOSYS instead of blocking: neither rt (here `run`, which stays until
/// the container exits) nor the container keeps a copy of the fd.
#[test]
fn notify_after_the_agent_went_away_is_enosys() {
    let ctx = TestCtx::new("seccomp::notify_hangup");
    let agent = Agent::start(&ctx, Answer::Hangup);
    let mut b = ctx.bundle();
    b.set("/linux/seccomp", notify_mkdir(&agent))
        .sh("sleep 0.5; mkdir /probe 2>&1; true");
    let out = ctx.output_of(&mut b, "hangup");
    assert!(out.contains("Function not implemented"), "{out:?}");
    assert_eq!(agent.payloads(1).len(), 1);
}

/// listenerPath without any SCMP_ACT_NOTIFY rule is accepted and never
/// contacted (runc's "empty listener path" case).
#[test]
fn listener_path_without_notify_rules_is_not_contacted() {
    let ctx = TestCtx::new("seccomp::listener_unused");
    let mut b = ctx.bundle();
    b.set(
        "/linux/seccomp",
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": ctx.dir.join("nobody-listens.sock"),
            "listenerMetadata": "bar"
        }),
    )
    .sh("mkdir /dev/probe && echo made");
    assert_eq!(ctx.output_of(&mut b, "unused").trim(), "made");
}
