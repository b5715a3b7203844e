//! Reliability: concurrent callers, a runtime killed mid-create, and many
//! lifecycles at once must leave every container whole or absent, and
//! nothing behind once it is deleted (issue 12, items 7, 8 and 12).
//!
//! The hostile `linux.resources.unified` case of the same issue is
//! `errors::unified_writes_only_knobs_of_enabled_controllers`.
//!
//! Containers here share one busybox rootfs (read-only) and get a bundle
//! directory each, holding only their config.json: a hundred rootfs
//! copies would cost more than the runtime calls under test.

use crate::common::*;
use std::path::{Path, PathBuf};
use std::sync::Barrier;
use std::time::{Duration, Instant};

/// A bundle for `id` in the test's dir, on `base`'s rootfs, with the
/// test's cgroupsPath. Named `bundle-…` so the mount check covers it.
fn bundle_for(ctx: &TestCtx, base: &Bundle, id: &str) -> PathBuf {
    let dir = ctx.dir.join(format!("bundle-{id}"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut spec = base.spec.clone();
    spec["root"] = json!({"path": path(&base.rootfs()), "readonly": true});
    spec["linux"]["cgroupsPath"] = json!(ctx.cgroups_path(id));
    std::fs::write(dir.join("config.json"), serde_json::to_vec(&spec).unwrap()).unwrap();
    dir
}

fn sleeper(ctx: &TestCtx) -> Bundle {
    let mut b = ctx.bundle();
    b.args(&["sleep", "1000"]);
    b
}

/// Live (non-zombie) processes whose command line names `id`: the
/// container's init is a clone of `rt … create … ID` until it execs, so
/// this finds it even outside any cgroup of the container.
fn processes_naming(id: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let names_id = cmdline.split(|b| *b == 0).any(|arg| arg == id.as_bytes());
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let zombie = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_none_or(|s| s == "Z" || s == "X");
        if names_id && !zombie && pid != me {
            found.push(pid);
        }
    }
    found
}

/// What a killed create left after `delete --force`, as seen from the
/// host. A process SIGKILLed by delete leaves its cgroup a moment before it
/// is a zombie: what is still there after a second is a leak.
fn leftovers_after_delete(ctx: &TestCtx, id: &str) -> Vec<String> {
    let mut problems = Vec::new();
    wait_until(Duration::from_secs(1), || {
        problems = leftovers(ctx, id);
        problems.is_empty()
    });
    problems
}

fn leftovers(ctx: &TestCtx, id: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if ctx.root.join(id).exists() {
        problems.push(format!("state dir {}", ctx.root.join(id).display()));
    }
    for cg in cgroups::existing(&ctx.cgroups_path(id)) {
        problems.push(format!("cgroup {}", cg.display()));
    }
    let pids = cgroups::pids_under(&ctx.cgroups_path(id));
    if !pids.is_empty() {
        problems.push(format!("processes in the container's cgroups: {pids:?}"));
    }
    let pids = processes_naming(id);
    if !pids.is_empty() {
        problems.push(format!("processes naming the container: {pids:?}"));
    }
    for m in ctx::mounts_under(&ctx.dir) {
        problems.push(format!("mount {m}"));
    }
    problems
}

/// 20 callers at a time run `kill`, `delete --force` and `state` on one
/// running container, over several rounds. Each call must see the
/// container whole (valid output) or absent ("container does not exist"),
/// never half-deleted; every `delete --force` exits 0, whoever removed the
/// container; nothing is left afterwards.
#[test]
fn concurrent_kill_delete_state_see_the_container_whole_or_absent() {
    const ROUNDS: usize = 8;
    const CALLERS: usize = 20;
    let ctx = TestCtx::new("reliability::concurrent");
    let base = sleeper(&ctx);
    let mut counts = [0usize; 3]; // kill, delete, state calls
    let mut absent = 0;
    for _ in 0..ROUNDS {
        let id = ctx.id("race");
        let b = bundle_for(&ctx, &base, &id);
        ctx.rt(&["create", "-b", path(&b), &id]).ok();
        ctx.start(&id).ok();
        let barrier = Barrier::new(CALLERS);
        let outs: Vec<(usize, Output)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..CALLERS)
                .map(|i| {
                    let (ctx, id, barrier) = (&ctx, &id, &barrier);
                    s.spawn(move || {
                        let args: &[&str] = match i % 3 {
                            0 => &["kill", id, "KILL"],
                            1 => &["delete", "--force", id],
                            _ => &["state", id],
                        };
                        barrier.wait();
                        (i % 3, ctx.rt(args))
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (op, out) in &outs {
            counts[*op] += 1;
            let gone = out.code() == Some(1) && out.stderr.contains("container does not exist");
            absent += gone as usize;
            match op {
                0 => assert!(
                    out.success() || gone || out.stderr.contains("container not running"),
                    "kill saw a half container: {out:?}"
                ),
                1 => assert!(out.success(), "delete --force failed: {out:?}"),
                _ => {
                    if !gone {
                        out.ok();
                        let st: Value = serde_json::from_str(&out.stdout)
                            .unwrap_or_else(|e| panic!("state is not JSON ({e}): {out:?}"));
                        assert_eq!(st["id"], id.as_str(), "{st}");
                        assert!(
                            ["created", "running", "stopped"]
                                .contains(&st["status"].as_str().unwrap_or("")),
                            "{st}"
                        );
                        assert_eq!(st["bundle"], path(&b), "{st}");
                    }
                }
            }
        }
        ctx.assert_nothing_left(&id);
    }
    eprintln!(
        "{ROUNDS} rounds: {} kill, {} delete --force, {} state calls; {absent} saw the container absent",
        counts[0], counts[1], counts[2]
    );
}

/// Stops `rt create` at its `n`th system call (before the call runs) and
/// SIGKILLs it there. Returns false if create finished before that call.
/// Every state a killed create can leave is one of these: what it changed
/// outside itself, it changed by system calls.
fn kill_create_at_syscall(ctx: &TestCtx, bundle: &Path, id: &str, n: usize) -> bool {
    use std::os::unix::process::CommandExt;
    let mut cmd = ctx.rt_command(&["create", "-b", path(bundle), id]);
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // SAFETY: PTRACE_TRACEME between fork and exec is a plain system call.
    unsafe {
        cmd.pre_exec(|| {
            if libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    // Reaped below with waitpid, which ptrace needs anyway.
    #[allow(clippy::zombie_processes)]
    let child = cmd.spawn().expect("spawn rt create under ptrace");
    let pid = child.id() as i32;
    let mut status = 0;
    let wait = |status: &mut i32| {
        // SAFETY: waiting for our own traced child.
        let rc = unsafe { libc::waitpid(pid, status, libc::__WALL) };
        assert_eq!(rc, pid, "waitpid: {}", std::io::Error::last_os_error());
    };
    wait(&mut status); // stopped at exec
    assert!(libc::WIFSTOPPED(status), "rt did not stop at exec");
    // SAFETY: ptrace requests on our stopped tracee.
    unsafe {
        libc::ptrace(
            libc::PTRACE_SETOPTIONS,
            pid,
            0,
            libc::PTRACE_O_TRACESYSGOOD | libc::PTRACE_O_EXITKILL,
        )
    };
    let (mut entries, mut inside, mut signal) = (0, false, 0);
    loop {
        // SAFETY: resume the stopped tracee until its next syscall stop.
        unsafe { libc::ptrace(libc::PTRACE_SYSCALL, pid, 0, signal) };
        signal = 0;
        wait(&mut status);
        if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
            return false;
        }
        let sig = libc::WSTOPSIG(status);
        if sig == libc::SIGTRAP | 0x80 {
            inside = !inside;
            if inside {
                entries += 1;
                if entries == n {
                    // SAFETY: killing our own stopped tracee.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                    wait(&mut status);
                    return true;
                }
            }
        } else {
            signal = sig; // a real signal: deliver it
        }
    }
}

/// SIGKILL of rt at every system call of `create`, in turn: after each,
/// the container is listed if anything of it exists outside its state dir,
/// and `delete --force` exits 0 and leaves no state dir, cgroup (in any
/// hierarchy), process or mount. runc leaks cgroups here.
#[test]
fn sigkill_at_every_step_of_create_then_delete_force_leaves_nothing() {
    if skip_rt_only("reliability::sigkill_at_every_step", "runc leaves cgroups") {
        return;
    }
    let ctx = TestCtx::new("reliability::sigkill_steps");
    let base = sleeper(&ctx);
    let started = Instant::now();
    let mut kills = 0;
    let mut listed = 0;
    for n in 1.. {
        let id = ctx.id("step");
        let b = bundle_for(&ctx, &base, &id);
        if !kill_create_at_syscall(&ctx, &b, &id, n) {
            // Create ran to its end before the n-th call: all points done.
            ctx.delete_force(&id).ok();
            ctx.assert_nothing_left(&id);
            assert!(kills > 50, "create made only {kills} system calls?");
            break;
        }
        kills += 1;
        let made_cgroups = !cgroups::existing(&ctx.cgroups_path(&id)).is_empty();
        let list = ctx.rt(&["list", "-q"]);
        list.ok();
        let shown = list.stdout.lines().any(|l| l == id);
        listed += shown as usize;
        assert!(
            shown || !made_cgroups,
            "killed at system call {n}: cgroups exist but `list` does not show {id}"
        );
        ctx.delete_force(&id).ok();
        let problems = leftovers_after_delete(&ctx, &id);
        assert!(
            problems.is_empty(),
            "killed at system call {n}, then delete --force left:\n{}",
            problems.join("\n")
        );
    }
    eprintln!(
        "killed create at each of its {kills} system calls ({listed} times listed afterwards) in {:?}",
        started.elapsed()
    );
}

/// The caller's view of the same: SIGKILL after a delay spread over a whole
/// create (measured first), with the init running meanwhile on the other
/// CPU; then `delete --force` leaves nothing.
#[test]
fn sigkill_during_create_at_varied_delays_then_delete_force_leaves_nothing() {
    if skip_rt_only("reliability::sigkill_delays", "runc leaves cgroups") {
        return;
    }
    const KILLS: u32 = 40;
    let ctx = TestCtx::new("reliability::sigkill_delays");
    let base = sleeper(&ctx);
    // How long a whole create takes here.
    let id = ctx.id("timed");
    let b = bundle_for(&ctx, &base, &id);
    let t = Instant::now();
    ctx.rt(&["create", "-b", path(&b), &id]).ok();
    let whole = t.elapsed();
    ctx.delete_force(&id).ok();
    let mut killed = 0;
    for k in 0..KILLS {
        let id = ctx.id("delay");
        let b = bundle_for(&ctx, &base, &id);
        let delay = whole * k / KILLS;
        let mut child = ctx
            .rt_command(&["create", "-b", path(&b), &id])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        let status = child.wait().unwrap();
        killed += (!status.success()) as u32;
        ctx.delete_force(&id).ok();
        let problems = leftovers_after_delete(&ctx, &id);
        assert!(
            problems.is_empty(),
            "killed after {delay:?} (create takes {whole:?}), then delete --force left:\n{}",
            problems.join("\n")
        );
    }
    eprintln!("{killed} of {KILLS} creates killed (create takes {whole:?})");
    assert!(killed > 0, "no create was killed: delays too long?");
}

/// 100 containers through create, start, kill and delete at once (ten
/// callers at a time): every call succeeds and nothing is left: no state
/// dir, cgroup, process or mount.
#[test]
fn hundred_parallel_lifecycles_leave_nothing() {
    const CONTAINERS: usize = 100;
    const CALLERS: usize = 10;
    let ctx = TestCtx::new("reliability::parallel_lifecycles");
    let base = sleeper(&ctx);
    let ids: Vec<String> = (0..CONTAINERS).map(|_| ctx.id("life")).collect();
    let bundles: Vec<PathBuf> = ids.iter().map(|id| bundle_for(&ctx, &base, id)).collect();
    let started = Instant::now();
    std::thread::scope(|s| {
        for caller in 0..CALLERS {
            let (ctx, ids, bundles) = (&ctx, &ids, &bundles);
            s.spawn(move || {
                for i in (caller..CONTAINERS).step_by(CALLERS) {
                    let id = &ids[i];
                    ctx.rt(&["create", "-b", path(&bundles[i]), id]).ok();
                    ctx.start(id).ok();
                    assert_eq!(ctx.state(id)["status"], "running");
                    ctx.kill(id, "KILL").ok();
                    ctx.wait_status(id, "stopped");
                    ctx.delete(id).ok();
                }
            });
        }
    });
    let elapsed = started.elapsed();
    for id in &ids {
        ctx.assert_nothing_left(id);
    }
    let root_entries: Vec<_> = std::fs::read_dir(&ctx.root)
        .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(root_entries.is_empty(), "left in --root: {root_entries:?}");
    let pids = cgroups::pids_under(&ctx.cgroup_parent);
    assert!(pids.is_empty(), "processes left: {pids:?}");
    eprintln!("{CONTAINERS} lifecycles, {CALLERS} at a time, in {elapsed:?}");
}
