//! A busybox image built for the test with umoci + skopeo, as a
//! docker-archive that `ctr images import` names docker.io/library/busybox.

use crate::common::bundle::populate_rootfs;
use crate::common::exec::{command, default_timeout, run_logged};
use crate::common::path;
use std::path::{Path, PathBuf};

fn step(dir: &Path, program: &str, args: &[&str]) {
    let mut cmd = command(program);
    cmd.args(args);
    let out = run_logged(cmd, dir, default_timeout());
    assert!(
        out.success(),
        "{program} {args:?} failed:\n{}{}",
        out.stdout,
        out.stderr
    );
}

/// Builds the image under `dir` and returns the docker-archive path.
pub fn build_busybox_archive(dir: &Path) -> PathBuf {
    build_archive(dir, "busybox:latest", &["sh"])
}

/// Builds a busybox image named `tag` (docker.io/library/NAME:TAG once
/// imported) whose command is `cmd`, in `dir`; returns the archive path.
pub fn build_archive(dir: &Path, tag: &str, cmd: &[&str]) -> PathBuf {
    for tool in ["umoci", "skopeo"] {
        assert!(
            which(tool),
            "{tool} is not installed: apt-get install -y umoci skopeo"
        );
    }
    let stem = tag.replace([':', '/'], "-");
    let layout = dir.join(format!("layout-{stem}"));
    let unpacked = dir.join(format!("unpacked-{stem}"));
    let image = format!("{}:latest", path(&layout));
    step(dir, "umoci", &["init", "--layout", path(&layout)]);
    step(dir, "umoci", &["new", "--image", &image]);
    step(
        dir,
        "umoci",
        &["unpack", "--image", &image, path(&unpacked)],
    );
    populate_rootfs(&unpacked.join("rootfs"));
    step(
        dir,
        "umoci",
        &["repack", "--image", &image, path(&unpacked)],
    );
    let mut config = vec!["config", "--image", &image];
    for arg in cmd {
        config.extend(["--config.cmd", arg]);
    }
    config.extend(["--config.env", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"]);
    step(dir, "umoci", &config);
    let archive = dir.join(format!("{stem}-docker.tar"));
    step(
        dir,
        "skopeo",
        &[
            "copy",
            &format!("oci:{image}"),
            &format!("docker-archive:{}:{tag}", path(&archive)),
        ],
    );
    archive
}

pub fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
}
