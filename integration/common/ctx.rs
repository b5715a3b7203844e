//! `TestCtx`: everything one test owns (temp dir, runtime `--root`, cgroup
//! parent, container ids) and the runtime verbs, plus the check that a test
//! left nothing behind.

use super::bundle::Bundle;
use super::cgroups;
use super::exec::{self, Output, default_timeout, run_logged, wait_until};
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

static NEXT_CTX: AtomicUsize = AtomicUsize::new(0);

/// The runtime under test: `$RT_BIN`, else the rt binary cargo built.
pub fn rt_bin() -> PathBuf {
    match std::env::var_os("RT_BIN") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_rt")),
    }
}

/// True when the runtime under test is runc (the reference), used to skip
/// tests of rt behaviour runc 1.1.5 does not have.
pub fn testing_runc() -> bool {
    rt_bin()
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("runc"))
}

/// Returns true (and prints why) when an rt-only test must be skipped.
pub fn skip_rt_only(test: &str, why: &str) -> bool {
    if testing_runc() {
        eprintln!("note: skipping {test} for runc ({why}); RT_ONLY test");
        return true;
    }
    false
}

pub fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "the rt integration tests need root (euid is {euid}): run them with sudo or as root"
    );
}

pub struct TestCtx {
    pub name: String,
    /// Private temp dir: bundles, outputs, pid files, sockets.
    pub dir: PathBuf,
    /// The runtime's `--root` state directory.
    pub root: PathBuf,
    /// Cgroup parent owned by this test, e.g. `rt-itest-123-4`.
    pub cgroup_parent: String,
    ids: Mutex<Vec<String>>,
    bundles: Mutex<usize>,
    tag: usize,
}

impl TestCtx {
    pub fn new(name: &str) -> TestCtx {
        require_root();
        let tag = NEXT_CTX.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let dir = std::env::temp_dir().join(format!("rt-itest-{pid}-{tag}"));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let root = dir.join("state");
        TestCtx {
            name: name.to_string(),
            dir,
            root,
            cgroup_parent: format!("rt-itest-{pid}-{tag}"),
            ids: Mutex::new(Vec::new()),
            bundles: Mutex::new(0),
            tag,
        }
    }

    /// A container id unique in this process, registered for cleanup.
    pub fn id(&self, label: &str) -> String {
        let mut ids = self.ids.lock().unwrap();
        let id = format!("{label}-{}-{}-{}", std::process::id(), self.tag, ids.len());
        ids.push(id.clone());
        id
    }

    pub fn bundle(&self) -> Bundle {
        let mut n = self.bundles.lock().unwrap();
        *n += 1;
        Bundle::create(&self.dir.join(format!("bundle{n}")))
    }

    /// `linux.cgroupsPath` for a container of this test.
    pub fn cgroups_path(&self, id: &str) -> String {
        format!("/{}/{id}", self.cgroup_parent)
    }

    pub fn pid_file(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.pid"))
    }

    /// `RT --root R <args>` as a Command (caller may add fds, stdin, env).
    pub fn rt_command(&self, args: &[&str]) -> Command {
        let mut cmd = exec::command(rt_bin());
        cmd.arg("--root").arg(&self.root).args(args);
        cmd
    }

    pub fn exec(&self, cmd: Command) -> Output {
        run_logged(cmd, &self.dir, default_timeout())
    }

    /// Runs `RT --root R <args>`.
    pub fn rt(&self, args: &[&str]) -> Output {
        self.exec(self.rt_command(args))
    }

    /// Saves the config with this test's cgroupsPath for `id`.
    pub fn prepare(&self, bundle: &mut Bundle, id: &str) {
        bundle.set(
            "/linux/cgroupsPath",
            serde_json::json!(self.cgroups_path(id)),
        );
        bundle.save();
    }

    /// `run -b B ID` in the foreground.
    pub fn run(&self, bundle: &mut Bundle, id: &str) -> Output {
        self.prepare(bundle, id);
        self.rt(&["run", "-b", path(&bundle.dir), id])
    }

    /// `create --pid-file P -b B ID`.
    pub fn create(&self, bundle: &mut Bundle, id: &str) -> Output {
        self.prepare(bundle, id);
        let pid_file = self.pid_file(id);
        self.rt(&[
            "create",
            "--pid-file",
            path(&pid_file),
            "-b",
            path(&bundle.dir),
            id,
        ])
    }

    pub fn start(&self, id: &str) -> Output {
        self.rt(&["start", id])
    }

    pub fn kill(&self, id: &str, signal: &str) -> Output {
        self.rt(&["kill", id, signal])
    }

    pub fn delete(&self, id: &str) -> Output {
        self.rt(&["delete", id])
    }

    pub fn delete_force(&self, id: &str) -> Output {
        self.rt(&["delete", "--force", id])
    }

    /// `state ID` parsed; panics if the command fails or prints non-JSON.
    pub fn state(&self, id: &str) -> Value {
        let out = self.rt(&["state", id]);
        out.ok();
        serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("state output is not JSON ({e}):\n{}", out.stdout))
    }

    /// Waits until `state ID` reports `status`.
    pub fn wait_status(&self, id: &str, status: &str) {
        let mut last = String::new();
        let ok = wait_until(Duration::from_secs(10), || {
            let out = self.rt(&["state", id]);
            last = out.stdout.clone() + &out.stderr;
            serde_json::from_str::<Value>(&out.stdout).is_ok_and(|v| v["status"] == status)
        });
        assert!(
            ok,
            "container {id} never reached status {status}; last state: {last}"
        );
    }

    /// Runs a fresh container from `bundle` in the foreground, asserts it
    /// exited 0 and left nothing behind, and returns its stdout.
    pub fn output_of(&self, bundle: &mut Bundle, label: &str) -> String {
        let id = self.id(label);
        let out = self.run(bundle, &id);
        out.ok();
        self.assert_nothing_left(&id);
        out.stdout
    }

    /// Create + start + wait for exit; returns the container's stdout.
    pub fn create_start_wait(&self, bundle: &mut Bundle, id: &str) -> String {
        let created = self.create(bundle, id);
        created.ok();
        self.start(id).ok();
        self.wait_status(id, "stopped");
        created.stdout_now()
    }

    /// Asserts the runtime left nothing of `id`: no state dir, no cgroup, no
    /// mount under this test's dir, no process in the test's cgroups.
    pub fn assert_nothing_left(&self, id: &str) {
        let problems = self.leftovers(Some(id));
        assert!(
            problems.is_empty(),
            "{} left things behind for {id}:\n{}",
            self.name,
            problems.join("\n")
        );
    }

    fn leftovers(&self, id: Option<&str>) -> Vec<String> {
        let mut problems = Vec::new();
        let ids: Vec<String> = match id {
            Some(id) => vec![id.to_string()],
            None => self.ids.lock().unwrap().clone(),
        };
        for id in &ids {
            let state_dir = self.root.join(id);
            if state_dir.exists() {
                problems.push(format!("state dir {} still exists", state_dir.display()));
            }
            for cg in cgroups::existing(&self.cgroups_path(id)) {
                problems.push(format!("cgroup {} still exists", cg.display()));
            }
        }
        let scope = match id {
            Some(id) => self.cgroups_path(id),
            None => format!("/{}", self.cgroup_parent),
        };
        let pids = cgroups::pids_under(&scope);
        if !pids.is_empty() {
            problems.push(format!("processes left in {scope}: {pids:?}"));
        }
        // Bundles are dir/bundleN; tests may mount sources elsewhere in dir.
        for m in mounts_under(&self.dir)
            .into_iter()
            .filter(|m| m.starts_with(&format!("{}/bundle", self.dir.display())))
        {
            problems.push(format!("mount left at {m}"));
        }
        problems
    }

    /// Removes everything; used by Drop.
    fn cleanup(&self) {
        for id in self.ids.lock().unwrap().clone().iter() {
            let _ = self.exec_quiet(&["delete", "--force", id]);
        }
        cgroups::remove_tree(&self.cgroup_parent);
        for m in mounts_under(&self.dir).into_iter().rev() {
            let c = std::ffi::CString::new(m).unwrap();
            // SAFETY: umount2 of a mount point under our own temp dir.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
        if std::env::var_os("RT_ITEST_KEEP").is_none() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }

    fn exec_quiet(&self, args: &[&str]) -> Option<Output> {
        let cmd = self.rt_command(args);
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_logged(cmd, &self.dir, default_timeout())
        }))
        .ok()
    }
}

impl Drop for TestCtx {
    /// Verifies and removes what the test created. Leftovers after the test's
    /// own deletes are reported; `delete --force` then cleans the rest.
    fn drop(&mut self) {
        for id in self.ids.lock().unwrap().clone().iter() {
            let _ = self.exec_quiet(&["delete", "--force", id]);
        }
        let problems = if std::thread::panicking() {
            Vec::new()
        } else {
            self.leftovers(None)
        };
        self.cleanup();
        if !problems.is_empty() {
            panic!(
                "{}: left behind after delete --force:\n{}",
                self.name,
                problems.join("\n")
            );
        }
    }
}

/// Mount points (from /proc/self/mountinfo) at or below `dir`.
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let prefix = dir.to_string_lossy().to_string();
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap();
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|mp| *mp == prefix || mp.starts_with(&format!("{prefix}/")))
        .map(str::to_string)
        .collect()
}

pub fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}
