//! `checkpoint` and `restore` on the host. Debian's criu 3.17 cannot dump
//! on this host's kernel (6.18: "Unexpected rt vDSO area bounds"); the
//! full checkpoint/restore round trip runs in a QEMU guest with Debian's
//! 6.1 kernel (hack/vm/criu-test.sh). Here: CRIU's failure reaches the
//! caller with CRIU's own words and changes nothing, and what rt refuses
//! is refused before anything is made.

use crate::common::*;

/// A detached container that sleeps, and its pid.
fn running(ctx: &TestCtx, label: &str) -> (String, i64) {
    let mut b = ctx.bundle();
    b.args(&["sleep", "1000"]);
    let id = ctx.id(label);
    ctx.prepare(&mut b, &id);
    ctx.rt(&["run", "-d", "-b", path(&b.dir), &id]).ok();
    let pid = ctx.state(&id)["pid"].as_i64().unwrap();
    (id, pid)
}

fn criu_works_here() -> bool {
    std::process::Command::new("criu")
        .arg("check")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn failed_checkpoint_reports_criu_error_and_changes_nothing() {
    if skip_rt_only("checkpoint::failure", "rt's wording of CRIU's failure") {
        return;
    }
    let ctx = TestCtx::new("checkpoint::failure");
    let (id, pid) = running(&ctx, "ckfail");
    let images = ctx.dir.join("images");
    let out = ctx.rt(&["checkpoint", "--image-path", path(&images), &id]);
    if criu_works_here() {
        // A kernel CRIU can dump on: the container is checkpointed and gone.
        out.ok();
        assert!(images.join("inventory.img").exists(), "no images written");
        ctx.assert_nothing_left(&id);
        return;
    }
    out.fails_with(1);
    if which("criu") {
        // CRIU ran: its log's own error lines are in the message.
        out.stderr_has("criu dump failed");
        out.stderr_has("Error (");
        out.stderr_has(&format!("log file: {}", images.join("dump.log").display()));
    } else {
        out.stderr_has("criu not found");
    }
    let st = ctx.state(&id);
    assert_eq!(
        st["status"], "running",
        "checkpoint failure changed the container"
    );
    assert_eq!(st["pid"].as_i64(), Some(pid), "the init changed");
    ctx.delete_force(&id).ok();
    ctx.assert_nothing_left(&id);
}

#[test]
fn lazy_pages_is_refused_before_anything_happens() {
    if skip_rt_only("checkpoint::lazy_pages", "runc supports --lazy-pages") {
        return;
    }
    let ctx = TestCtx::new("checkpoint::lazy_pages");
    let (id, pid) = running(&ctx, "lazy");
    let images = ctx.dir.join("lazy-images");
    let out = ctx.rt(&[
        "checkpoint",
        "--lazy-pages",
        "--image-path",
        path(&images),
        &id,
    ]);
    out.fails_with(1)
        .stderr_has("--lazy-pages is not supported");
    assert!(
        !images.exists(),
        "a refused checkpoint made {}",
        images.display()
    );
    let st = ctx.state(&id);
    assert_eq!(st["status"], "running");
    assert_eq!(st["pid"].as_i64(), Some(pid));

    // restore refuses it too, and makes no container.
    let mut b = ctx.bundle();
    let rid = ctx.id("lazyr");
    ctx.prepare(&mut b, &rid);
    let out = ctx.rt(&[
        "restore",
        "-d",
        "--lazy-pages",
        "--image-path",
        path(&images),
        "-b",
        path(&b.dir),
        &rid,
    ]);
    out.fails_with(1)
        .stderr_has("--lazy-pages is not supported");
    ctx.assert_nothing_left(&rid);
    ctx.delete_force(&id).ok();
}

#[test]
fn checkpoint_of_a_created_container_is_refused() {
    let ctx = TestCtx::new("checkpoint::created");
    let mut b = ctx.bundle();
    b.args(&["true"]);
    let id = ctx.id("ckcreated");
    ctx.create(&mut b, &id).ok();
    let images = ctx.dir.join("created-images");
    let out = ctx.rt(&["checkpoint", "--image-path", path(&images), &id]);
    out.fails_with(1);
    // runc: "Container cannot be checkpointed in created state".
    assert!(
        out.stderr
            .to_lowercase()
            .contains("cannot be checkpointed in created state"),
        "{}",
        out.stderr
    );
    assert_eq!(ctx.state(&id)["status"], "created");
    ctx.delete_force(&id).ok();
    ctx.assert_nothing_left(&id);
}

#[test]
fn restore_without_images_leaves_nothing() {
    if skip_rt_only("checkpoint::no_images", "rt's message") {
        return;
    }
    let ctx = TestCtx::new("checkpoint::no_images");
    let mut b = ctx.bundle();
    let id = ctx.id("noimg");
    ctx.prepare(&mut b, &id);
    let empty = ctx.dir.join("empty-images");
    std::fs::create_dir_all(&empty).unwrap();
    let out = ctx.rt(&[
        "restore",
        "-d",
        "--image-path",
        path(&empty),
        "-b",
        path(&b.dir),
        &id,
    ]);
    out.fails_with(1).stderr_has("inventory.img");
    ctx.assert_nothing_left(&id);
}

#[test]
fn features_and_help_list_checkpoint() {
    if skip_rt_only("checkpoint::features", "rt's features annotation") {
        return;
    }
    let ctx = TestCtx::new("checkpoint::features");
    let out = ctx.rt(&["features"]);
    out.ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    // Enabled only where CRIU can work: installed and `criu check` passes
    // (on this host's kernel Debian's CRIU 3.17 fails it).
    let criu_works = which("criu")
        && std::process::Command::new("criu")
            .arg("check")
            .output()
            .is_ok_and(|o| o.status.success());
    let expect = if criu_works { "true" } else { "false" };
    assert_eq!(
        v["annotations"]["org.opencontainers.runc.checkpoint.enabled"], expect,
        "{}",
        out.stdout
    );
    let help = ctx.rt(&["--help"]);
    help.ok();
    for word in ["checkpoint", "restore"] {
        assert!(
            help.stdout.contains(word),
            "--help lacks {word}:\n{}",
            help.stdout
        );
    }
    assert!(
        !help.stdout.contains("criu-notify"),
        "internal subcommand listed"
    );
    let help = ctx.rt(&["checkpoint", "--help"]);
    for flag in [
        "--image-path",
        "--work-path",
        "--leave-running",
        "--tcp-established",
        "--ext-unix-sk",
        "--shell-job",
        "--file-locks",
        "--pre-dump",
        "--parent-path",
        "--manage-cgroups-mode",
        "--empty-ns",
        "--auto-dedup",
        "--lazy-pages",
    ] {
        assert!(help.stdout.contains(flag), "checkpoint --help lacks {flag}");
    }
    let help = ctx.rt(&["restore", "--help"]);
    for flag in [
        "--bundle",
        "--detach",
        "--pid-file",
        "--console-socket",
        "--no-subreaper",
        "--no-pivot",
    ] {
        assert!(help.stdout.contains(flag), "restore --help lacks {flag}");
    }
}

fn which(bin: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()))
}

#[test]
fn init_leads_its_own_session() {
    // As runc's init does (setsid): CRIU refuses to dump a container whose
    // init is in a session begun outside its pid namespace ("A session
    // leader of N(1) is outside of its pid namespace").
    let ctx = TestCtx::new("checkpoint::session");
    let mut b = ctx.bundle();
    b.args(&["sh", "-c", "cut -d' ' -f6 /proc/1/stat"]);
    assert_eq!(ctx.output_of(&mut b, "sess").trim(), "1");
}
