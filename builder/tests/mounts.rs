//! RUN --mount: cache dirs that outlive builds, binds from stages and the
//! context, tmpfs, secrets; none of their targets reach a layer, and bad
//! specs fail with the Dockerfile's file:line.

mod common;
use common::*;
use std::io::Read;
use std::path::Path;

fn layers(store: &Path, name: &str) -> Vec<String> {
    inspect(store, name)["manifest"]["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_string())
        .collect()
}

/// Every path of every layer of `name` above the busybox base.
fn added_paths(store: &Path, name: &str) -> Vec<String> {
    layers(store, name)
        .iter()
        .skip(1)
        .flat_map(|d| layer_entries(store, d).into_iter().map(|e| e.0))
        .collect()
}

/// The content of `path` in the topmost layer of `name` that has it.
fn file_in(store: &Path, name: &str, path: &str) -> Option<String> {
    for d in layers(store, name).iter().rev() {
        let f = std::fs::File::open(store.join("blobs/sha256").join(&d[7..])).unwrap();
        let mut a = tar::Archive::new(flate2::read::GzDecoder::new(f));
        for e in a.entries().unwrap() {
            let mut e = e.unwrap();
            if e.path().unwrap().to_string_lossy() == path {
                let mut s = String::new();
                e.read_to_string(&mut s).unwrap();
                return Some(s);
            }
        }
    }
    None
}

#[test]
fn cache_mount_persists_across_builds_and_stays_out_of_layers() {
    if !can_build() {
        return;
    }
    let (dir, store) = store_with_busybox("mount-cache");
    let ctx = context(
        &dir,
        "FROM busybox\nRUN --mount=type=cache,target=/var/cache/app,id=counter,mode=0700 echo run >> /var/cache/app/count && cp /var/cache/app/count /seen && stat -c %a /var/cache/app > /mode\n",
        &[],
    );
    let out = build(&store, &ctx, &["-t", "c1"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(file_in(&store, "c1", "seen").as_deref(), Some("run\n"));
    assert_eq!(file_in(&store, "c1", "mode").as_deref(), Some("700\n"));
    let paths = added_paths(&store, "c1");
    assert!(!paths.iter().any(|p| p.starts_with("var")), "{paths:?}");

    // A rerun (forced) sees what the first build left in the cache dir.
    let out = build(&store, &ctx, &["-t", "c2", "--no-cache"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(file_in(&store, "c2", "seen").as_deref(), Some("run\nrun\n"));
    // Without --no-cache the step is a cache hit: the cache mount's
    // content is not part of the key.
    let out = build(&store, &ctx, &["-t", "c3"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        step_results(&out.stderr)
            .iter()
            .any(|(l, w)| l.contains("RUN --mount") && w == "CACHED"),
        "{}",
        out.stderr
    );
    // A different id is a different, empty directory (and a new key).
    let other = context(
        &dir.join("other"),
        "FROM busybox\nRUN --mount=type=cache,target=/var/cache/app,id=other test ! -e /var/cache/app/count && touch /ok\n",
        &[],
    );
    let out = build(&store, &other, &["-t", "c4"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // `prune` drops the build cache and the cache mounts.
    let out = run(bin().arg("--root").arg(&store).arg("prune"));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = build(&store, &ctx, &["-t", "c5"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(file_in(&store, "c5", "seen").as_deref(), Some("run\n"));
}

#[test]
fn bind_and_tmpfs_mounts_leave_no_trace() {
    if !can_build() {
        return;
    }
    let (dir, store) = store_with_busybox("mount-bind");
    let df = "FROM busybox AS src\nRUN mkdir /out && echo from-stage > /out/data\n\
FROM busybox\n\
RUN --mount=type=bind,from=src,source=/out,target=/mnt/in cat /mnt/in/data > /got\n\
RUN --mount=source=ctx.txt,target=/opt/ctx.txt cat /opt/ctx.txt > /got-ctx && ! touch /opt/ctx.txt\n\
RUN --mount=type=bind,rw,target=/w sh -c 'echo changed > /w/ctx.txt && cat /w/ctx.txt > /rw && test ! -e /w/secret.env'\n\
RUN --mount=type=tmpfs,target=/scratch,size=1m sh -c 'echo x > /scratch/f && grep -q \" /scratch tmpfs\" /proc/mounts && touch /tmpfs-ok'\n";
    let ctx = context(
        &dir,
        df,
        &[
            ("ctx.txt", "from-context\n"),
            ("secret.env", "ignored\n"),
            (".dockerignore", "secret.env\n"),
        ],
    );
    let out = build(&store, &ctx, &["-t", "bound"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        file_in(&store, "bound", "got").as_deref(),
        Some("from-stage\n")
    );
    assert_eq!(
        file_in(&store, "bound", "got-ctx").as_deref(),
        Some("from-context\n")
    );
    assert_eq!(file_in(&store, "bound", "rw").as_deref(), Some("changed\n"));
    assert!(file_in(&store, "bound", "tmpfs-ok").is_some());
    // The rw mount wrote to a throw-away copy.
    assert_eq!(
        std::fs::read_to_string(ctx.join("ctx.txt")).unwrap(),
        "from-context\n"
    );
    let paths = added_paths(&store, "bound");
    for gone in ["mnt", "opt", "w", "scratch"] {
        assert!(
            !paths
                .iter()
                .any(|p| p == gone || p.starts_with(&format!("{gone}/"))),
            "{gone} in {paths:?}"
        );
    }
    // The context's content is part of the key: change it, the RUNs
    // that bind it rerun, the stage bind stays cached.
    std::fs::write(ctx.join("ctx.txt"), "edited\n").unwrap();
    let out = build(&store, &ctx, &["-t", "bound2"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let results = step_results(&out.stderr);
    let status = |needle: &str| {
        results
            .iter()
            .find(|(l, _)| l.contains(needle))
            .map(|(_, w)| w.clone())
            .unwrap_or_default()
    };
    assert_eq!(status("from=src"), "CACHED", "{}", out.stderr);
    assert_eq!(status("source=ctx.txt"), "DONE", "{}", out.stderr);
    assert_eq!(
        file_in(&store, "bound2", "got-ctx").as_deref(),
        Some("edited\n")
    );
}

#[test]
fn secrets_are_readable_and_leave_no_trace() {
    if !can_build() {
        return;
    }
    let (dir, store) = store_with_busybox("mount-secret");
    let secret = "s3cret-value-4711";
    let secret_file = dir.join("token.txt");
    std::fs::write(&secret_file, secret).unwrap();
    let ctx = context(
        &dir,
        "FROM busybox\n\
RUN --mount=type=secret,id=tok sha256sum /run/secrets/tok | cut -d' ' -f1 > /sum && stat -c %a /run/secrets/tok > /mode\n\
RUN --mount=type=secret,id=tok,env=TOKEN,target=/etc/tok,uid=1000,mode=0440 sh -c 'test \"$TOKEN\" = \"$(cat /etc/tok)\" && stat -c %u /etc/tok > /owner'\n\
RUN --mount=type=secret,id=absent test ! -e /run/secrets/absent\n",
        &[],
    );
    let spec = format!("id=tok,src={}", secret_file.display());
    let out = build(&store, &ctx, &["-t", "sec", "--secret", &spec]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let want = {
        use sha2::Digest;
        let h = sha2::Sha256::digest(secret.as_bytes());
        h.iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    assert_eq!(
        file_in(&store, "sec", "sum").as_deref(),
        Some(format!("{want}\n").as_str())
    );
    assert_eq!(file_in(&store, "sec", "mode").as_deref(), Some("400\n"));
    assert_eq!(file_in(&store, "sec", "owner").as_deref(), Some("1000\n"));
    let paths = added_paths(&store, "sec");
    assert!(
        !paths
            .iter()
            .any(|p| p.starts_with("run") || p.starts_with("etc")),
        "{paths:?}"
    );
    // Not in any blob (layers, config/history, manifest).
    for e in std::fs::read_dir(store.join("blobs/sha256")).unwrap() {
        let path = e.unwrap().path();
        let mut raw = Vec::new();
        std::fs::File::open(&path)
            .unwrap()
            .read_to_end(&mut raw)
            .unwrap();
        let mut text = raw.clone();
        if raw.starts_with(&[0x1f, 0x8b]) {
            text.clear();
            flate2::read::GzDecoder::new(&raw[..])
                .read_to_end(&mut text)
                .unwrap();
        }
        assert!(
            !text.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "secret found in {}",
            path.display()
        );
    }
    // A different secret value does not change the key: cached.
    std::fs::write(&secret_file, "another").unwrap();
    let out = build(&store, &ctx, &["-t", "sec2", "--secret", &spec]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        step_results(&out.stderr)
            .iter()
            .filter(|(l, _)| l.contains("RUN"))
            .all(|(_, w)| w == "CACHED"),
        "{}",
        out.stderr
    );
    // required=true without --secret fails at the RUN's line.
    let req = context(
        &dir.join("req"),
        "FROM busybox\nRUN --mount=type=secret,id=tok,required=true true\n",
        &[],
    );
    let out = build(&store, &req, &["-t", "req"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("Dockerfile:2:"), "{}", out.stderr);
    assert!(
        out.stderr.contains("secret \"tok\" is required"),
        "{}",
        out.stderr
    );
}

#[test]
fn bad_mounts_fail_at_their_line() {
    if !can_build() {
        return;
    }
    let (dir, store) = store_with_busybox("mount-bad");
    for (i, (mount, want)) in [
        ("type=cache,target=/c,sharing=bogus", "sharing"),
        ("type=tmpfs,target=/t,size=huge", "size=huge"),
        ("type=ssh", "type=ssh is not supported"),
        ("type=bind,source=missing.txt,target=/m", "missing.txt"),
        ("type=bind,from=busybox,source=/nope,target=/m", "/nope"),
        (
            "type=cache,target=/c,colour=red",
            "unexpected key \"colour\"",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let ctx = context(
            &dir.join(format!("c{i}")),
            &format!("FROM busybox\nRUN true\nRUN --mount={mount} true\n"),
            &[],
        );
        let out = build(&store, &ctx, &["-t", "bad"]);
        assert_eq!(out.code, 1, "{mount}: {}", out.stderr);
        assert!(
            out.stderr.contains("Dockerfile:3:"),
            "{mount}: {}",
            out.stderr
        );
        assert!(out.stderr.contains(want), "{mount}: {}", out.stderr);
    }
}
