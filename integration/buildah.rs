//! buildah 1.28 running Dockerfile RUN steps through the runtime under
//! test: `buildah bud --isolation oci --runtime RT`, which calls the
//! runtime directly (create --bundle B --pid-file P, start, state, delete)
//! for each RUN step.
//!
//! The store (`--root`, `--runroot`, vfs), TMPDIR (where the RUN bundles
//! go) and the RUN containers' cgroup parent all belong to the test.
//! Skipped, with a printed reason, when buildah is not installed.

use crate::common::exec::{Output, command, default_timeout, run_logged};
use crate::common::tools::{busybox_rootfs_tar, skip_without, unmount_under};
use crate::common::*;
use std::path::PathBuf;
use std::process::Command;

struct Buildah {
    dir: PathBuf,
}

impl Buildah {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = command("buildah");
        let d = |sub: &str| self.dir.join(sub);
        // TMPDIR: buildah puts RUN bundles there (default /var/tmp).
        cmd.env("TMPDIR", d("tmp"))
            .env("CONTAINERS_CONF", d("containers.conf"))
            .arg("--root")
            .arg(d("root"))
            .arg("--runroot")
            .arg(d("run"))
            .args(["--storage-driver", "vfs"])
            .args(args);
        cmd
    }

    fn buildah(&self, args: &[&str]) -> Output {
        run_logged(self.command(args), &self.dir, default_timeout())
    }

    /// The busybox test rootfs committed as `localhost/busybox:latest`.
    fn import_busybox(&self) {
        let tar = busybox_rootfs_tar(&self.dir);
        let out = self.buildah(&["from", "scratch"]);
        out.ok();
        let ctr = out.stdout.trim().to_string();
        self.buildah(&["add", &ctr, path(&tar), "/"]).ok();
        self.buildah(&[
            "config",
            "--cmd",
            "sh",
            "--env",
            "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
            &ctr,
        ])
        .ok();
        self.buildah(&["commit", "-q", &ctr, "localhost/busybox:latest"])
            .ok();
        self.buildah(&["rm", &ctr]).ok();
    }
}

impl Drop for Buildah {
    fn drop(&mut self) {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.buildah(&["rm", "--all"])
        }));
        unmount_under(&self.dir);
    }
}

#[test]
fn buildah_bud_runs_dockerfile_steps_through_the_runtime() {
    if skip_without("buildah::", &["buildah", "tar"]) {
        return;
    }
    let ctx = TestCtx::new("buildah::bud");
    let bh = Buildah {
        dir: ctx.dir.join("buildah"),
    };
    std::fs::create_dir_all(bh.dir.join("tmp")).unwrap();
    // An empty containers.conf: the host's does not apply.
    std::fs::write(bh.dir.join("containers.conf"), "").unwrap();
    bh.import_busybox();

    let context = bh.dir.join("context");
    std::fs::create_dir_all(&context).unwrap();
    std::fs::write(
        context.join("Dockerfile"),
        "FROM localhost/busybox:latest\n\
         RUN echo built-by-runtime > /built && id -u >> /built\n\
         USER 65534\n\
         RUN id -u > /tmp/user\n\
         CMD [\"cat\", \"/built\"]\n",
    )
    .unwrap();
    let rt = rt_bin();
    let cgroup_parent = format!("/{}", ctx.cgroup_parent);
    let bud = |tag: &str, dir: &std::path::Path| {
        bh.buildah(&[
            "bud",
            "--pull=never",
            "--isolation",
            "oci",
            "--network",
            "none",
            "--runtime",
            path(&rt),
            "--cgroup-parent",
            &cgroup_parent,
            "-t",
            tag,
            path(dir),
        ])
    };
    bud("out", &context).ok();

    // What the RUN steps wrote is in the committed image.
    let from = bh.buildah(&["from", "--pull=never", "localhost/out:latest"]);
    from.ok();
    let ctr = from.stdout.trim().to_string();
    let mounted = bh.buildah(&["mount", &ctr]);
    mounted.ok();
    let rootfs = PathBuf::from(mounted.stdout.trim());
    assert_eq!(
        std::fs::read_to_string(rootfs.join("built")).unwrap(),
        "built-by-runtime\n0\n"
    );
    assert_eq!(
        std::fs::read_to_string(rootfs.join("tmp/user")).unwrap(),
        "65534\n"
    );
    bh.buildah(&["umount", &ctr]).ok();
    let cmd = bh.buildah(&[
        "inspect",
        "--format",
        "{{.OCIv1.Config.Cmd}}",
        "localhost/out:latest",
    ]);
    assert_eq!(cmd.stdout.trim(), "[cat /built]");

    // A failing RUN step fails the build with the step's exit status.
    let failing = bh.dir.join("failing");
    std::fs::create_dir_all(&failing).unwrap();
    std::fs::write(
        failing.join("Dockerfile"),
        "FROM localhost/busybox:latest\nRUN exit 4\n",
    )
    .unwrap();
    let out = bud("failing", &failing);
    assert!(!out.success(), "a build whose RUN exits 4 succeeded");
    out.stderr_has("exit status 4");

    assert!(
        cgroups::pids_under(&ctx.cgroup_parent).is_empty(),
        "processes left in the test cgroups"
    );
}
