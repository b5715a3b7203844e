//! CRIU's callbacks during `restore`. runc gets them as RPC notifications;
//! rt gives the `criu` command an `--action-script` that runs rt again as
//! `rt criu-notify FILE` (a hidden subcommand). CRIU runs it at each step
//! with the step's name in `CRTOOLS_SCRIPT_ACTION`; at "setup-namespaces"
//! (the restored init exists in its new namespaces, nothing of it runs
//! yet) it runs the prestart and createRuntime hooks with the init's pid
//! in the state, as runc does there. A failing hook fails the script, and
//! CRIU then aborts the restore.

use crate::error::{Context, Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What the callback needs, written by `restore` before it runs CRIU.
#[derive(Serialize, Deserialize)]
pub(super) struct HookPlan {
    /// The OCI state of the container being restored (pid filled in here).
    pub state: crate::state::OciState,
    pub bundle: PathBuf,
    /// The `rt restore` process: the restored init is its child.
    pub rt_pid: u32,
    pub prestart: Vec<oci_spec::runtime::Hook>,
    pub create_runtime: Vec<oci_spec::runtime::Hook>,
}

impl HookPlan {
    pub(super) fn is_empty(&self) -> bool {
        self.prestart.is_empty() && self.create_runtime.is_empty()
    }

    pub(super) fn save(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_vec(self).map_err(|e| Error::new(e.to_string()))?;
        crate::state::write_atomic(path, &json, 0o600).ctx("write the restore hook plan")
    }
}

/// Writes the action script CRIU runs, next to `plan`, and returns its
/// path. CRIU execs the script's path as it is (no shell, no arguments),
/// so the script is a two-line shell file that runs `rt criu-notify PLAN`.
pub(super) fn write_action_script(plan: &Path) -> Result<PathBuf> {
    let exe = std::env::current_exe().ctx("find rt's own binary")?;
    let script = plan.with_extension("sh");
    let text = format!(
        "#!/bin/sh\nexec {} criu-notify {}\n",
        sh_quote(&exe),
        sh_quote(plan)
    );
    crate::state::write_atomic(&script, text.as_bytes(), 0o700).ctx("write the action script")?;
    Ok(script)
}

fn sh_quote(p: &Path) -> String {
    format!("'{}'", p.to_string_lossy().replace('\'', r"'\''"))
}

/// `rt criu-notify FILE`: one CRIU callback.
pub fn run(plan_file: &Path) -> Result<()> {
    let action = std::env::var("CRTOOLS_SCRIPT_ACTION").unwrap_or_default();
    if action != "setup-namespaces" {
        return Ok(());
    }
    let text = std::fs::read(plan_file).with_ctx(|| format!("read {}", plan_file.display()))?;
    let mut plan: HookPlan = serde_json::from_slice(&text)
        .map_err(|e| Error::new(format!("{}: {e}", plan_file.display())))?;
    plan.state.pid = restored_init(plan.rt_pid)
        .or_else(|| {
            std::env::var("CRTOOLS_INIT_PID")
                .ok()
                .and_then(|p| p.parse().ok())
        })
        .ok_or_else(|| Error::new("cannot tell the restored init's pid at setup-namespaces"))?;
    let at = crate::hooks::Setting {
        cwd: Some(&plan.bundle),
        default_env: None,
    };
    let mut state = plan.state.clone();
    state.status = "created".into();
    let created = serde_json::to_string(&state).unwrap_or_default();
    crate::hooks::run_all("prestart", &plan.prestart, &created, at)?;
    state.status = "creating".into();
    let creating = serde_json::to_string(&state).unwrap_or_default();
    crate::hooks::run_all("createRuntime", &plan.create_runtime, &creating, at)
}

/// The restored init while CRIU restores it: a child of `rt restore`
/// (`--restore-sibling`) that is not the CRIU process running us;
/// CRTOOLS_INIT_PID is the fallback.
fn restored_init(rt_pid: u32) -> Option<i32> {
    let ancestors = ancestors_of_self();
    let children: Vec<i32> =
        crate::sys::read_virtual(format!("/proc/{rt_pid}/task/{rt_pid}/children"))
            .ok()?
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .filter(|p| !ancestors.contains(p))
            .collect();
    match children[..] {
        [only] => Some(only),
        _ => None,
    }
}

/// Our pid and our parents' up to pid 1.
fn ancestors_of_self() -> Vec<i32> {
    let mut chain = vec![std::process::id() as i32];
    let mut pid = chain[0];
    while pid > 1 && chain.len() < 64 {
        let Some(ppid) = crate::sys::read_virtual(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|t| {
                let rest = t[t.rfind(')')? + 2..].to_string();
                rest.split(' ').nth(1)?.parse::<i32>().ok()
            })
        else {
            break;
        };
        chain.push(ppid);
        pid = ppid;
    }
    chain
}
