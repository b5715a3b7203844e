//! Kubernetes' path to the runtime: containerd's CRI plugin configured
//! with README.md's config.toml snippet, and a pod asking for the handler
//! that README.md's RuntimeClass names. The CRI client is
//! `hack/bench/cri-churn` (its own cargo workspace: the gRPC stack stays
//! out of rt's build); hack/test.sh builds it and passes its path in
//! `RT_CRI_CHURN`. Without it the test is skipped with a printed reason.

use super::IMAGE;
use super::daemon::Containerd;
use crate::common::readme::{snippet, snippet_raw};
use crate::common::*;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where the runc v2 shim points its runtime's `--root` for the `k8s.io`
/// namespace (containerd 1.6 default; the README snippet sets no Root).
const SHIM_ROOT: &str = "/run/containerd/runc/k8s.io";

fn cri_client() -> Option<PathBuf> {
    match std::env::var_os("RT_CRI_CHURN") {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => {
            println!(
                "SKIP containerd::cri: RT_CRI_CHURN is not set (hack/test.sh builds \
                 hack/bench/cri-churn and sets it)"
            );
            None
        }
    }
}

/// The `handler:` of README's RuntimeClass.
fn runtime_class_handler() -> String {
    snippet_raw("runtimeclass.yaml")
        .lines()
        .find_map(|l| l.strip_prefix("handler:"))
        .map(|h| h.trim().to_string())
        .expect("README's RuntimeClass has a handler")
}

fn churn(client: &Path, cd: &Containerd, handler: &str, cgroup_parent: &str) -> Command {
    let mut cmd = Command::new(client);
    cmd.arg("--socket")
        .arg(&cd.socket)
        .args(["--handler", handler, "--image", IMAGE, "--pods", "1"])
        .args(["--cgroup-parent", &format!("/{cgroup_parent}")]);
    cmd
}

#[test]
fn cri_pod_runs_with_the_readme_runtime_handler() {
    let Some(client) = cri_client() else {
        return;
    };
    let ctx = TestCtx::new("containerd::cri");
    let cd_dir = ctx.dir.join("containerd-cri");
    std::fs::create_dir_all(&cd_dir).unwrap();
    let archive = super::image::build_busybox_archive(&cd_dir);
    // The pod's sandbox ("pause") container must live as long as the pod:
    // its namespaces are the ones the pod's containers join.
    let pause = super::image::build_archive(&cd_dir, "pause:rt-test", &["sleep", "2147483647"]);
    let shim_root_existed = Path::new(SHIM_ROOT).exists();
    let cd = Containerd::start_cri(
        &cd_dir,
        &snippet("containerd-config.toml"),
        "docker.io/library/pause:rt-test",
    );
    cd.ctr(&["images", "import", path(&archive)]).ok();
    cd.ctr(&["images", "import", path(&pause)]).ok();
    let handler = runtime_class_handler();

    // One pod with the RuntimeClass's handler: sandbox and container are
    // created, started, stopped and removed through the runtime. While
    // the container runs, the runtime under test must know it in the
    // shim's state root: runc and rt cannot read each other's state, so
    // this fails if the shim ran any other binary than BinaryName.
    let mut child = churn(&client, &cd, &handler, &ctx.cgroup_parent)
        .args(["--hold-ms", "5000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn cri-churn");
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = Vec::new();
    let mut running = None;
    for line in stderr.lines() {
        let line = line.unwrap();
        if let Some(ids) = line.strip_prefix("# running ") {
            running = ids.split_whitespace().nth(1).map(str::to_string);
            break;
        }
        seen.push(line);
    }
    let Some(container) = running else {
        let _ = child.wait();
        panic!(
            "the pod did not start:\n{}\ncontainerd log:\n{}",
            seen.join("\n"),
            std::fs::read_to_string(cd_dir.join("containerd.log")).unwrap_or_default()
        );
    };
    let state = Command::new(rt_bin())
        .args(["--root", SHIM_ROOT, "state", &container])
        .output()
        .unwrap();
    let state_text = String::from_utf8_lossy(&state.stdout);
    let out = child.wait_with_output().unwrap();
    assert!(
        state.status.success(),
        "{} cannot read the state of CRI container {container}: {}",
        rt_bin().display(),
        String::from_utf8_lossy(&state.stderr)
    );
    let state: Value = serde_json::from_str(&state_text).unwrap();
    assert_eq!(state["status"], "running", "{state}");
    assert!(
        out.status.success(),
        "cri-churn failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pods: Vec<&str> = std::str::from_utf8(&out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect();
    assert_eq!(pods.len(), 1, "one pod line expected: {pods:?}");
    assert!(
        !Path::new(SHIM_ROOT).join(&container).exists(),
        "removed container left its state"
    );

    // A handler the configuration does not define is refused: the pod
    // above ran because of the snippet, not a default runtime.
    let out = churn(&client, &cd, "not-configured", &ctx.cgroup_parent)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not-configured"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    drop(cd);
    if !shim_root_existed {
        // Only the directories the shim made for this test, if empty.
        let _ = std::fs::remove_dir(SHIM_ROOT);
        let _ = std::fs::remove_dir("/run/containerd/runc");
    }
}
