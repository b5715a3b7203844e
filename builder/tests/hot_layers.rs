//! COPY and WORKDIR steps run with their upper dir on a tmpfs (see
//! src/solver/hot.rs). These tests hold that to "the same image as on
//! disk": the same Dockerfile is built with hot layers off
//! (RT_BUILD_TMPFS_MB=0) and on, and every layer must come out the same.

mod common;
use common::*;
use std::path::Path;

/// Before every build-time mtime, after every source file's: with it,
/// SOURCE_DATE_EPOCH makes the layers of two builds comparable.
const EPOCH: &str = "1750000000";
const OLD: i64 = 1_600_000_000;

fn build_with(store: &Path, ctx: &Path, tmpfs_mb: Option<&str>) -> Ran {
    build_args(store, ctx, tmpfs_mb, &[])
}

fn build_args(store: &Path, ctx: &Path, tmpfs_mb: Option<&str>, extra: &[&str]) -> Ran {
    let mut cmd = bin();
    cmd.args(extra)
        .arg("--root")
        .arg(store)
        .arg("--progress")
        .arg("plain")
        .args(["--build-arg", &format!("SOURCE_DATE_EPOCH={EPOCH}")])
        .args(["-t", "out"])
        .arg(ctx);
    match tmpfs_mb {
        Some(mb) => cmd.env("RT_BUILD_TMPFS_MB", mb),
        None => cmd.env_remove("RT_BUILD_TMPFS_MB"),
    };
    run(&mut cmd)
}

fn diff_ids(store: &Path) -> Vec<String> {
    inspect(store, "out")["config"]["rootfs"]["diff_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().to_string())
        .collect()
}

fn unpacked(store: &Path, diff_id: &str) -> bool {
    store
        .join("rt-build/unpacked")
        .join(diff_id.trim_start_matches("sha256:"))
        .exists()
}

/// A context with what COPY must carry over exactly: modes with special
/// bits, a hard-linked pair, a symlink, an empty dir, nested dirs, old
/// mtimes, and a file .dockerignore leaves out.
fn rich_context(dir: &Path, dockerfile: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let ctx = context(
        dir,
        dockerfile,
        &[
            ("a.txt", "alpha\n"),
            ("bin/tool", "#!/bin/sh\necho tool\n"),
            ("dir/sub/nested.txt", "nested\n"),
            ("secret.key", "do not copy\n"),
            (".dockerignore", "secret.key\n"),
        ],
    );
    std::fs::set_permissions(
        ctx.join("bin/tool"),
        std::fs::Permissions::from_mode(0o4755),
    )
    .unwrap();
    std::fs::hard_link(ctx.join("a.txt"), ctx.join("a-link.txt")).unwrap();
    std::os::unix::fs::symlink("a.txt", ctx.join("sym")).unwrap();
    std::fs::create_dir(ctx.join("empty")).unwrap();
    let old = filetime::FileTime::from_unix_time(OLD, 0);
    for p in [
        "a.txt",
        "bin/tool",
        "bin",
        "dir/sub/nested.txt",
        "dir/sub",
        "dir",
        "empty",
        "Dockerfile",
        ".dockerignore",
    ] {
        filetime::set_file_times(ctx.join(p), old, old).unwrap();
    }
    filetime::set_symlink_file_times(ctx.join("sym"), old, old).unwrap();
    ctx
}

#[test]
fn copy_and_workdir_on_the_tmpfs_make_the_same_layers_as_on_disk() {
    if !can_build() {
        return;
    }
    let dockerfile = "FROM busybox AS src
RUN mkdir -p /data && echo hi > /data/f && chown 1000:1000 /data/f && chmod 4750 /data/f
FROM busybox
WORKDIR /app
COPY . .
COPY --chown=1000:1000 --chmod=0640 a.txt /etc/app/a.txt
COPY --from=src /data /from-src
RUN cat /app/a.txt /from-src/f > /app/seen && stat -c '%n %a %u:%g %s %h' /app/a.txt /app/a-link.txt /app/bin/tool /etc/app/a.txt /from-src/f > /app/listing
WORKDIR /app/deeper/dir
COPY dir/ ./
";
    let (disk_dir, disk_store) = store_with_busybox("hot-vs-disk-disk");
    let disk_ctx = rich_context(&disk_dir, dockerfile);
    let (hot_dir, hot_store) = store_with_busybox("hot-vs-disk-hot");
    let hot_ctx = rich_context(&hot_dir, dockerfile);

    let disk = build_with(&disk_store, &disk_ctx, Some("0"));
    assert_eq!(disk.code, 0, "disk build: {}", disk.stderr);
    let hot = build_with(&hot_store, &hot_ctx, None);
    assert_eq!(hot.code, 0, "hot build: {}", hot.stderr);

    let (d, h) = (diff_ids(&disk_store), diff_ids(&hot_store));
    assert_eq!(d.len(), 8, "busybox + 7 layers: {d:?}");
    assert_eq!(d, h, "every layer the same with and without the tmpfs");

    // The hot build really took the tmpfs path: its COPY and WORKDIR
    // layers were never put in the on-disk unpacked cache (the disk
    // build's were), while the RUN layer was in both.
    for (i, id) in d.iter().enumerate().skip(1) {
        assert!(unpacked(&disk_store, id), "disk build: layer {i} unpacked");
    }
    let run_layer = &d[5];
    assert!(unpacked(&hot_store, run_layer), "RUN layer on disk");
    for i in [1, 2, 3, 4, 6, 7] {
        assert!(
            !unpacked(&hot_store, &d[i]),
            "hot build: layer {i} should have stayed on the tmpfs"
        );
    }

    // The RUN saw the hot COPY layers as its lower dirs.
    let entries = {
        let img = inspect(&hot_store, "out");
        let digest = img["manifest"]["layers"][5]["digest"]
            .as_str()
            .unwrap()
            .to_string();
        layer_entries(&hot_store, &digest)
    };
    let seen = entries
        .iter()
        .find(|e| e.0 == "app/seen")
        .expect("app/seen");
    assert_eq!(
        seen.2,
        "alpha\nhi\n".len() as u64,
        "RUN read the copied files"
    );

    // A later build on the hot store unpacks the hot layers from their
    // blobs (they went with the builder's tmpfs) and reuses the cache.
    // (The Dockerfile is part of `COPY . .`: the new one lives outside.)
    let longer = hot_dir.join("Dockerfile.longer");
    std::fs::write(
        &longer,
        format!("{dockerfile}RUN cat /app/deeper/dir/sub/nested.txt > /again\n"),
    )
    .unwrap();
    let again = build_args(
        &hot_store,
        &hot_ctx,
        None,
        &["-f", longer.to_str().unwrap()],
    );
    assert_eq!(again.code, 0, "second build: {}", again.stderr);
    let results = step_results(&again.stderr);
    let cached = results.iter().filter(|(_, r)| r == "CACHED").count();
    assert!(cached >= 8, "earlier steps cached: {results:?}");
    assert!(
        unpacked(&hot_store, &d[7]),
        "last COPY layer unpacked from its blob for the new RUN"
    );
}

#[test]
fn a_copy_too_big_for_the_tmpfs_is_done_again_on_disk() {
    if !can_build() {
        return;
    }
    let (dir, store) = store_with_busybox("hot-too-big");
    let ctx = context(&dir, "FROM busybox\nCOPY big /big\n", &[]);
    // 24 MiB of incompressible-enough data into a 16 MiB tmpfs.
    let mut data = Vec::with_capacity(24 << 20);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while data.len() < 24 << 20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data.extend_from_slice(&x.to_le_bytes());
    }
    std::fs::write(ctx.join("big"), &data).unwrap();
    let out = build_with(&store, &ctx, Some("16"));
    assert_eq!(out.code, 0, "build: {}", out.stderr);
    let ids = diff_ids(&store);
    assert!(
        unpacked(&store, &ids[1]),
        "the COPY fell back to disk (its upper dir is in the unpacked cache)"
    );
    let img = inspect(&store, "out");
    let digest = img["manifest"]["layers"][1]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let entries = layer_entries(&store, &digest);
    let big = entries
        .iter()
        .find(|e| e.0 == "big")
        .expect("big in the layer");
    assert_eq!(big.2, data.len() as u64, "the whole file is in the layer");
}

#[test]
fn an_unpacked_layer_made_in_another_boot_is_unpacked_again() {
    if !can_build() {
        return;
    }
    let (dir, store) = store_with_busybox("unsynced");
    let ctx = context(&dir, "FROM busybox\nRUN echo one > /one\n", &[]);
    let out = build_with(&store, &ctx, None);
    assert_eq!(out.code, 0, "build: {}", out.stderr);
    let ids = diff_ids(&store);
    let hex = ids[1].trim_start_matches("sha256:");
    let marker = store.join("rt-build/unsynced").join(hex);
    assert!(
        marker.exists(),
        "the RUN's volatile upper dir is marked unsynced"
    );
    // As if the machine had crashed after the step: a marker from another
    // boot, and a dir that lost its file.
    std::fs::write(&marker, "some-other-boot").unwrap();
    let unpacked_dir = store.join("rt-build/unpacked").join(hex);
    std::fs::remove_file(unpacked_dir.join("one")).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nRUN echo one > /one\nRUN cat /one > /two\n",
    )
    .unwrap();
    let out = build_with(&store, &ctx, None);
    assert_eq!(
        out.code, 0,
        "the untrusted dir was unpacked again: {}",
        out.stderr
    );
    assert!(
        unpacked_dir.join("one").exists(),
        "unpacked again from the blob"
    );
    let img = inspect(&store, "out");
    let digest = img["manifest"]["layers"][2]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let entries = layer_entries(&store, &digest);
    let two = entries.iter().find(|e| e.0 == "two").expect("two");
    assert_eq!(two.2, 4, "the RUN read /one from the re-unpacked layer");
}

#[test]
fn an_imported_image_is_unpacked_at_once() {
    if !can_build() {
        return;
    }
    // As `docker load` and `docker pull`: a build FROM it needs no unpack.
    let (_dir, store) = store_with_busybox("import-unpacks");
    let ids = inspect(&store, "busybox")["config"]["rootfs"]["diff_ids"]
        .as_array()
        .unwrap()
        .clone();
    assert!(!ids.is_empty());
    for id in ids {
        let id = id.as_str().unwrap();
        assert!(unpacked(&store, id), "{id} unpacked by import");
        assert!(
            unpacked(&store, id) && store.join("rt-build/unsynced").join(&id[7..]).exists(),
            "{id}: its unpacked dir is marked unsynced (trusted in this boot only)"
        );
    }
}
