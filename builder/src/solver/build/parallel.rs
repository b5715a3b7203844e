//! Independent stages build at the same time, each in a child rt-build
//! process, at most one per core; the target stage then builds here on
//! their results.
//!
//! Processes, not threads: RUN containers are cloned from the builder
//! (clone3, no fork handlers), and a clone taken while another thread holds
//! an allocator or stdio lock would leave the container's init waiting on
//! it forever. A child is the same binary run with the same arguments plus
//! two hidden flags: the stage to build and a directory holding the states
//! of the stages it needs (`inputs.json`), where it writes its own
//! (`output.json`). So a child never rebuilds another child's work, and
//! `--no-cache` still means every step runs exactly once.
//!
//! A failing stage stops the others (SIGKILL; their RUN containers are
//! reaped like those of any dead builder) and its error is the one
//! reported. The children's progress is shown, one stage after the other,
//! as each finishes.

use super::{Builder, State};
use crate::image::store::fsutil::TempDir;
use std::collections::{BTreeMap, HashMap};
use std::process::{Child, Command, Stdio};

/// Hidden flag: build only this stage (a child).
pub const STAGE_FLAG: &str = "--internal-stage";
/// Hidden flag: the child's inputs/output directory.
pub const IO_FLAG: &str = "--internal-stage-io";

/// How to start children: the arguments this builder got.
pub struct Spawner {
    pub args: Vec<std::ffi::OsString>,
    pub max: usize,
}

impl Spawner {
    /// None when this invocation cannot be repeated (Dockerfile on stdin)
    /// or there is one core.
    pub fn from_env(dockerfile_on_stdin: bool) -> Option<Spawner> {
        let max = std::thread::available_parallelism().map_or(1, |n| n.get());
        if dockerfile_on_stdin
            || max < 2
            || std::env::var_os("RT_BUILD_PARALLEL").is_some_and(|v| v == "0")
        {
            return None;
        }
        Some(Spawner {
            args: std::env::args_os().skip(1).collect(),
            max,
        })
    }
}

/// A child's view of the build: which stage, and where its I/O lives.
#[derive(Debug, Clone)]
pub struct ChildStage {
    pub stage: usize,
    pub io: std::path::PathBuf,
}

impl ChildStage {
    pub fn inputs(&self) -> Result<HashMap<usize, State>, String> {
        let path = self.io.join("inputs.json");
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn write_output(&self, state: &State) -> Result<(), String> {
        let bytes = serde_json::to_vec(state).map_err(|e| e.to_string())?;
        crate::image::store::fsutil::write_atomic(&self.io.join("output.json"), &bytes)
    }
}

/// The stages worth building in children: every needed stage but the
/// target, when at least two of them could run at once; else none.
pub fn parallel_stages(
    order: &[usize],
    target: usize,
    deps: &dyn Fn(usize) -> Vec<usize>,
) -> Vec<usize> {
    // Depth of each stage in the dependency graph: stages of equal depth
    // do not depend on each other.
    let mut depth: HashMap<usize, usize> = HashMap::new();
    for &s in order {
        let d = deps(s)
            .iter()
            .filter_map(|p| depth.get(p))
            .max()
            .map_or(0, |m| m + 1);
        depth.insert(s, d);
    }
    let mut per_depth: BTreeMap<usize, usize> = BTreeMap::new();
    for &s in order.iter().filter(|s| **s != target) {
        *per_depth.entry(depth[&s]).or_default() += 1;
    }
    if per_depth.values().any(|n| *n >= 2) {
        order.iter().copied().filter(|s| *s != target).collect()
    } else {
        Vec::new()
    }
}

struct Running {
    stage: usize,
    child: Child,
    dir: TempDir,
}

impl Builder<'_> {
    /// Builds `stages` in children, dependencies first, at most
    /// `spawner.max` at a time; their states land in `self.done`.
    pub(super) fn build_in_children(
        &mut self,
        spawner: &Spawner,
        stages: &[usize],
        deps: &dyn Fn(usize) -> Vec<usize>,
    ) -> Result<(), String> {
        let mut pending: Vec<usize> = stages.to_vec();
        let mut running: Vec<Running> = Vec::new();
        let result = (|| {
            loop {
                while running.len() < spawner.max {
                    let Some(pos) = pending
                        .iter()
                        .position(|s| deps(*s).iter().all(|d| self.done.contains_key(d)))
                    else {
                        break;
                    };
                    let stage = pending.remove(pos);
                    running.push(self.spawn_stage(spawner, stage)?);
                }
                if running.is_empty() {
                    return Ok(());
                }
                let (i, status) = wait_any(&mut running)?;
                let r = running.remove(i);
                let log =
                    std::fs::read_to_string(r.dir.path.join("progress.log")).unwrap_or_default();
                let (shown, error) = split_error(&log);
                // Its file-hash summary is noise here: the target's comes.
                for line in shown.lines().filter(|l| !l.starts_with("#context ")) {
                    self.progress.note(line);
                }
                if !status.success() {
                    return Err(error.unwrap_or_else(|| {
                        format!("building stage {} failed ({status})", r.stage)
                    }));
                }
                let out = r.dir.path.join("output.json");
                let bytes = std::fs::read(&out).map_err(|e| format!("{}: {e}", out.display()))?;
                let state: State = serde_json::from_slice(&bytes)
                    .map_err(|e| format!("{}: {e}", out.display()))?;
                self.done.insert(r.stage, state);
            }
        })();
        if result.is_err() && !running.is_empty() {
            for r in &mut running {
                let _ = r.child.kill();
                let _ = r.child.wait();
            }
            // Their RUN containers (if any) belong to dead builders now.
            crate::solver::runner::reap_stale(&self.store.state_dir().join("run"));
        }
        result
    }

    fn spawn_stage(&self, spawner: &Spawner, stage: usize) -> Result<Running, String> {
        let dir = TempDir::new(&self.store.tmp_dir(), "stage")?;
        let inputs = serde_json::to_vec(&self.done).map_err(|e| e.to_string())?;
        crate::image::store::fsutil::write_atomic(&dir.path.join("inputs.json"), &inputs)?;
        let log = std::fs::File::create(dir.path.join("progress.log"))
            .map_err(|e| format!("stage {stage} log: {e}"))?;
        // /proc/self/exe: this very image, even after exe protection moved
        // it onto a detached read-only mount that has no path.
        let child = Command::new("/proc/self/exe")
            .args(&spawner.args)
            .arg(STAGE_FLAG)
            .arg(stage.to_string())
            .arg(IO_FLAG)
            .arg(&dir.path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("starting a builder for stage {stage}: {e}"))?;
        Ok(Running { stage, child, dir })
    }
}

/// Waits until one child exits; returns its index and status.
fn wait_any(running: &mut [Running]) -> Result<(usize, std::process::ExitStatus), String> {
    loop {
        for (i, r) in running.iter_mut().enumerate() {
            if let Some(status) = r.child.try_wait().map_err(|e| e.to_string())? {
                return Ok((i, status));
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// A child's stderr: its progress lines, and its error (the line starting
/// `rt-build: ` and what follows it), without that prefix.
fn split_error(log: &str) -> (&str, Option<String>) {
    match log.find("rt-build: ") {
        Some(i) if i == 0 || log.as_bytes()[i - 1] == b'\n' => {
            let err = log[i + "rt-build: ".len()..].trim_end().to_string();
            (&log[..i], Some(err))
        }
        _ => (log, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_graphs_with_independent_stages_go_parallel() {
        // 0 → 1 → 2 (a chain): nothing to gain.
        let chain = |s: usize| if s == 0 { vec![] } else { vec![s - 1] };
        assert!(parallel_stages(&[0, 1, 2], 2, &chain).is_empty());
        // 0 and 1 independent, 2 needs both.
        let fan_in = |s: usize| if s == 2 { vec![0, 1] } else { vec![] };
        assert_eq!(parallel_stages(&[0, 1, 2], 2, &fan_in), vec![0, 1]);
        // One stage besides the target.
        assert!(parallel_stages(&[0, 1], 1, &|s| if s == 1 { vec![0] } else { vec![] }).is_empty());
    }

    #[test]
    fn a_childs_error_is_split_from_its_progress() {
        let log = "#1 [a 1/2] FROM busybox\n#2 ERROR\nrt-build: Dockerfile:3: [a 2/2] RUN false: exit code: 1\n";
        let (shown, err) = split_error(log);
        assert_eq!(shown, "#1 [a 1/2] FROM busybox\n#2 ERROR\n");
        assert_eq!(
            err.as_deref(),
            Some("Dockerfile:3: [a 2/2] RUN false: exit code: 1")
        );
        assert_eq!(split_error("#1 ok\n"), ("#1 ok\n", None));
    }
}
