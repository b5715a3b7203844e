//! End-to-end builds from a local busybox base (run as root): layers and
//! whiteouts, config fields, the cache, COPY/ADD semantics, outputs checked
//! by their consumer tools, and failures that leave the store untouched.

mod common;
use common::*;
use std::path::Path;

fn layer_digests(img: &serde_json::Value) -> Vec<String> {
    img["manifest"]["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_string())
        .collect()
}

fn paths(entries: &[(String, u8, u64, u64, u64, u32)]) -> Vec<String> {
    entries.iter().map(|e| e.0.clone()).collect()
}

#[test]
fn multi_stage_layers_whiteouts_and_config() {
    if !can_build() {
        return;
    }
    let (dir, store) = store_with_busybox("layers");
    let ctx = context(
        &dir,
        r#"FROM busybox AS build
RUN echo built > /built && rm /etc/group && rm -rf /etc/conf.d && mkdir /etc/conf.d && echo new > /etc/conf.d/c.conf
FROM busybox
ENV GREETING=hi
LABEL org.example.kind=test
EXPOSE 8080 53/udp
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=5s --retries=2 CMD ["true"]
ONBUILD RUN echo child
VOLUME /data
WORKDIR /app
COPY --from=build /built ./built
SHELL ["/bin/sh", "-ec"]
USER app
ENTRYPOINT ["/bin/cat"]
CMD ["/app/built"]
"#,
        &[],
    );
    let out = build(&store, &ctx, &["-t", "multi"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // The build stage's layer: whiteout for the deleted file, opaque dir.
    let b = build(&store, &ctx, &["--target", "build", "-t", "stage"]);
    assert_eq!(b.code, 0, "{}", b.stderr);
    let stage = inspect(&store, "stage");
    let run_layer = layer_entries(&store, &layer_digests(&stage)[1]);
    let names = paths(&run_layer);
    assert!(names.contains(&"etc/.wh.group".to_string()), "{names:?}");
    assert!(
        names.contains(&"etc/conf.d/.wh..wh..opq".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"etc/conf.d/c.conf".to_string()),
        "{names:?}"
    );
    assert!(names.contains(&"built".to_string()), "{names:?}");
    assert!(
        !names
            .iter()
            .any(|n| n == "etc/group" || n == "etc/conf.d/a.conf"),
        "{names:?}"
    );
    // Parents come before children, names sorted within a directory.
    let etc = names.iter().position(|n| n == "etc").unwrap();
    assert!(etc < names.iter().position(|n| n == "etc/.wh.group").unwrap());

    let img = inspect(&store, "multi");
    let c = &img["config"]["config"];
    assert_eq!(
        c["Env"],
        serde_json::json!([
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "GREETING=hi"
        ])
    );
    assert_eq!(c["Labels"]["org.example.kind"], "test");
    assert_eq!(
        c["ExposedPorts"],
        serde_json::json!({"8080/tcp": {}, "53/udp": {}})
    );
    assert_eq!(c["StopSignal"], "SIGTERM");
    assert_eq!(c["Healthcheck"]["Test"], serde_json::json!(["CMD", "true"]));
    assert_eq!(c["Healthcheck"]["Interval"], 5_000_000_000u64);
    assert_eq!(c["Healthcheck"]["Retries"], 2);
    assert_eq!(c["OnBuild"], serde_json::json!(["RUN echo child"]));
    assert_eq!(c["Shell"], serde_json::json!(["/bin/sh", "-ec"]));
    assert_eq!(c["Volumes"], serde_json::json!({"/data": {}}));
    assert_eq!(c["WorkingDir"], "/app");
    assert_eq!(c["User"], "app");
    assert_eq!(c["Entrypoint"], serde_json::json!(["/bin/cat"]));
    assert_eq!(c["Cmd"], serde_json::json!(["/app/built"]));
    // Base layer + WORKDIR + COPY; metadata steps are empty_layer history.
    assert_eq!(layer_digests(&img).len(), 3);
    let history = img["config"]["history"].as_array().unwrap();
    let non_empty = history.iter().filter(|h| h["empty_layer"] != true).count();
    assert_eq!(non_empty, 3);
    assert!(
        history
            .iter()
            .any(|h| h["created_by"] == "ENV GREETING=hi" && h["empty_layer"] == true)
    );
    assert_eq!(
        img["config"]["rootfs"]["diff_ids"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let copy_layer = layer_entries(&store, &layer_digests(&img)[2]);
    assert!(paths(&copy_layer).contains(&"app/built".to_string()));
}

#[test]
fn cache_hits_misses_and_no_cache() {
    if !can_build() {
        return;
    }
    let (dir, store) = store_with_busybox("cache");
    let df = "FROM busybox\nRUN echo one > /one\nCOPY a.txt /a.txt\nRUN cat /a.txt > /copy\nCOPY b.txt /b.txt\nLABEL v=1\n";
    let ctx = context(&dir, df, &[("a.txt", "a1\n"), ("b.txt", "b1\n")]);
    let first = build(&store, &ctx, &["-t", "c"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(
        step_results(&first.stderr).iter().all(|(_, w)| w == "DONE"),
        "{}",
        first.stderr
    );
    let digest1 = first.stdout.trim().to_string();

    // Unchanged: every step cached, no file re-read, same image.
    let again = build(&store, &ctx, &["-t", "c"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    let results = step_results(&again.stderr);
    assert_eq!(
        results.iter().filter(|(_, w)| w == "CACHED").count(),
        4,
        "{}",
        again.stderr
    );
    assert!(
        again.stderr.contains("2 files checked, 0 read"),
        "{}",
        again.stderr
    );
    assert_eq!(again.stdout.trim(), digest1);

    // Touching a file (mtime only) keeps the cache.
    let now = filetime::FileTime::from_unix_time(1_800_000_000, 0);
    filetime::set_file_mtime(ctx.join("a.txt"), now).unwrap();
    let touched = build(&store, &ctx, &["-t", "c"]);
    assert_eq!(
        step_results(&touched.stderr)
            .iter()
            .filter(|(_, w)| w == "CACHED")
            .count(),
        4,
        "{}",
        touched.stderr
    );
    assert!(touched.stderr.contains("1 read"), "{}", touched.stderr);

    // Editing a.txt reruns its COPY and what follows, not the first RUN.
    std::fs::write(ctx.join("a.txt"), "a2\n").unwrap();
    let edited = build(&store, &ctx, &["-t", "c"]);
    assert_eq!(edited.code, 0, "{}", edited.stderr);
    let r = step_results(&edited.stderr);
    let word = |prefix: &str| {
        r.iter()
            .find(|(l, _)| l.contains(prefix))
            .map(|(_, w)| w.clone())
            .unwrap()
    };
    assert_eq!(word("RUN echo one"), "CACHED");
    assert_eq!(word("COPY a.txt"), "DONE");
    assert_eq!(word("RUN cat /a.txt"), "DONE");
    assert_eq!(word("COPY b.txt"), "DONE");
    assert!(edited.stderr.contains("1 read"), "{}", edited.stderr);

    // A metadata-only change reruns nothing.
    std::fs::write(ctx.join("Dockerfile"), df.replace("v=1", "v=2")).unwrap();
    let label = build(&store, &ctx, &["-t", "c"]);
    assert_eq!(
        step_results(&label.stderr)
            .iter()
            .filter(|(_, w)| w == "CACHED")
            .count(),
        4,
        "{}",
        label.stderr
    );

    // Build args count from their first use.
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nRUN echo one > /one\nARG V=1\nRUN echo $V > /v\n",
    )
    .unwrap();
    let a1 = build(&store, &ctx, &[]);
    let a2 = build(&store, &ctx, &["--build-arg", "V=2"]);
    let r2 = step_results(&a2.stderr);
    assert_eq!(a1.code + a2.code, 0, "{}{}", a1.stderr, a2.stderr);
    assert!(
        r2.iter()
            .any(|(l, w)| l.contains("RUN echo one") && w == "CACHED"),
        "{}",
        a2.stderr
    );
    assert!(
        r2.iter()
            .any(|(l, w)| l.contains("RUN echo $V") && w == "DONE"),
        "{}",
        a2.stderr
    );
    // Proxy args stay out of the key.
    let p = build(
        &store,
        &ctx,
        &[
            "--build-arg",
            "V=2",
            "--build-arg",
            "HTTP_PROXY=http://proxy:3128",
        ],
    );
    assert!(
        step_results(&p.stderr)
            .iter()
            .filter(|(l, _)| l.contains("RUN"))
            .all(|(_, w)| w == "CACHED"),
        "{}",
        p.stderr
    );

    let forced = build(&store, &ctx, &["--no-cache"]);
    assert_eq!(forced.code, 0);
    assert!(
        !step_results(&forced.stderr)
            .iter()
            .any(|(_, w)| w == "CACHED"),
        "{}",
        forced.stderr
    );
}

#[test]
fn copy_and_add_semantics() {
    if !can_build() {
        return;
    }
    let (dir, store) = store_with_busybox("copy");
    // A gzip tar for ADD to extract.
    let mut t = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_uid(0);
    h.set_gid(0);
    h.set_size(4);
    h.set_mode(0o640);
    h.set_uid(7);
    h.set_gid(8);
    h.set_entry_type(tar::EntryType::Regular);
    t.append_data(&mut h, "inner/file.txt", &b"tar\n"[..])
        .unwrap();
    let plain_tar = t.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &plain_tar).unwrap();
    let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
    std::io::Write::write_all(&mut bz, &plain_tar).unwrap();
    // A local HTTP server for ADD <url>.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        use std::io::{Read, Write};
        for _ in 0..2 {
            let (mut s, _) = listener.accept().unwrap();
            // Read the whole request before answering and closing.
            let mut req = Vec::new();
            let mut buf = [0u8; 1024];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let body = b"downloaded\n";
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nLast-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(body);
        }
    });
    let df = format!(
        r#"FROM busybox
COPY --chown=app:wheel --chmod=u=rwX,go=rX src/ /dst/
COPY --chmod=700 *.sh /scripts/
COPY --exclude=*.log logs /logs/
COPY --parents ./tree/./x/y.txt /p/
COPY --link --chown=1234:5678 single.txt /linked/renamed.txt
ADD archive.tar.gz /extracted/
ADD archive.tar.bz2 /bz/
ADD http://127.0.0.1:{port}/dl/file.txt /web/
COPY <<EOT /here.txt
heredoc body
EOT
RUN test "$(stat -c %U:%G /dst/a.txt)" = app:wheel && test "$(stat -c %a /dst/a.txt)" = 644 && test "$(stat -c %a /dst/sub)" = 755 \
 && test "$(stat -c %a /scripts/run.sh)" = 700 && test -f /logs/keep.txt && ! test -e /logs/skip.log \
 && test -f /p/x/y.txt && test "$(stat -c %u:%g /linked/renamed.txt)" = 1234:5678 \
 && test "$(cat /extracted/inner/file.txt)" = tar && test "$(cat /bz/inner/file.txt)" = tar && test "$(stat -c %u /extracted/inner/file.txt)" = 7 \
 && test "$(cat /web/file.txt)" = downloaded && test "$(stat -c %a /web/file.txt)" = 600 && test "$(stat -c %Y /web/file.txt)" = 784111777 \
 && test "$(cat /here.txt)" = "heredoc body" && ! test -e /dst/ignored.txt && echo ALL-OK
"#
    );
    let ctx = context(
        &dir,
        &df,
        &[
            ("src/a.txt", "a\n"),
            ("src/sub/b.txt", "b\n"),
            ("src/ignored.txt", "x\n"),
            ("run.sh", "#!/bin/sh\n"),
            ("other.sh", "#!/bin/sh\n"),
            ("logs/keep.txt", "k\n"),
            ("logs/skip.log", "s\n"),
            ("tree/x/y.txt", "y\n"),
            ("single.txt", "s\n"),
            (".dockerignore", "src/ignored.txt\n"),
        ],
    );
    std::fs::write(ctx.join("archive.tar.gz"), gz.finish().unwrap()).unwrap();
    std::fs::write(ctx.join("archive.tar.bz2"), bz.finish().unwrap()).unwrap();
    let out = build(&store, &ctx, &["-t", "copy"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("ALL-OK"), "{}", out.stderr);
    // Second build: URL fetched again, content unchanged → cached.
    let again = build(&store, &ctx, &["-t", "copy"]);
    assert!(
        step_results(&again.stderr)
            .iter()
            .any(|(l, w)| l.contains("ADD http") && w == "CACHED"),
        "{}",
        again.stderr
    );
    server.join().unwrap();
    // --link makes a layer that does not depend on its parent.
    let img = inspect(&store, "copy");
    let layers = layer_digests(&img);
    let linked = layers
        .iter()
        .map(|d| layer_entries(&store, d))
        .find(|e| paths(e).contains(&"linked/renamed.txt".to_string()))
        .unwrap();
    assert_eq!(paths(&linked), vec!["linked", "linked/renamed.txt"]);

    // Multiple sources need a directory destination.
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nCOPY run.sh other.sh /nodir\n",
    )
    .unwrap();
    let bad = build(&store, &ctx, &[]);
    assert_eq!(bad.code, 1);
    assert!(bad.stderr.contains("must be a directory"), "{}", bad.stderr);
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nCOPY src/ignored.txt /x\n",
    )
    .unwrap();
    let ignored = build(&store, &ctx, &[]);
    assert_eq!(ignored.code, 1);
    assert!(ignored.stderr.contains("not found"), "{}", ignored.stderr);
}

#[test]
fn outputs_checked_by_their_consumers() {
    if !can_build() {
        return;
    }
    let (dir, store) = store_with_busybox("outputs");
    let ctx = context(
        &dir,
        "FROM busybox\nCOPY msg /msg\nUSER app\nWORKDIR /tmp\nLABEL l=v\nEXPOSE 80\nCMD [\"cat\", \"/msg\"]\n",
        &[("msg", "hello from the bundle\n")],
    );
    let oci = dir.join("img-oci.tar");
    let docker = dir.join("img-docker.tar");
    let bundle = dir.join("bundle");
    let local = dir.join("local");
    let out = build(
        &store,
        &ctx,
        &[
            "-t",
            "out:1",
            "--output",
            &format!("type=oci-archive,dest={}", oci.display()),
            "--output",
            &format!("type=docker-archive,dest={}", docker.display()),
            "--output",
            &format!("type=bundle,dest={}", bundle.display()),
            "--output",
            &format!("type=local,dest={}", local.display()),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let digest = out.stdout.trim().to_string();
    assert_eq!(
        std::fs::read_to_string(local.join("msg")).unwrap(),
        "hello from the bundle\n"
    );
    assert!(local.join("bin/busybox").exists());

    // Bundle: conversion rules.
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg["process"]["args"], serde_json::json!(["cat", "/msg"]));
    assert_eq!(cfg["process"]["user"]["uid"], 1000);
    assert_eq!(cfg["process"]["cwd"], "/tmp");
    assert_eq!(cfg["annotations"]["l"], "v");
    assert_eq!(
        cfg["annotations"]["org.opencontainers.image.exposedPorts"],
        "80/tcp"
    );
    if has_tool("runc") {
        let r = run(std::process::Command::new("runc")
            .arg("--root")
            .arg(dir.join("runc-state"))
            .arg("run")
            .arg(format!("rtb-{}", std::process::id()))
            .current_dir(&bundle));
        assert_eq!(r.code, 0, "runc: {}", r.stderr);
        assert_eq!(r.stdout, "hello from the bundle\n");
    }
    // rt itself, when its binary was built into the same target dir.
    let rt_bin = Path::new(env!("CARGO_BIN_EXE_rt-build")).with_file_name("rt");
    if rt_bin.exists() {
        let r = run(std::process::Command::new(&rt_bin)
            .arg("--root")
            .arg(dir.join("rt-state"))
            .arg("run")
            .arg(format!("rtb-rt-{}", std::process::id()))
            .current_dir(&bundle));
        assert_eq!(r.code, 0, "rt run: {}", r.stderr);
        assert_eq!(r.stdout, "hello from the bundle\n");
    }
    // The store is an OCI layout skopeo and umoci read.
    if has_tool("skopeo") {
        for reference in [
            format!("oci:{}:out:1", store.display()),
            format!("oci-archive:{}", oci.display()),
            format!("docker-archive:{}", docker.display()),
        ] {
            let r = run(std::process::Command::new("skopeo")
                .arg("inspect")
                .arg(&reference));
            assert_eq!(r.code, 0, "skopeo inspect {reference}: {}", r.stderr);
            let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
            assert_eq!(v["Labels"]["l"], "v", "{reference}");
            assert_eq!(v["Layers"].as_array().unwrap().len(), 2, "{reference}");
        }
    }
    if has_tool("umoci") {
        let target = dir.join("umoci-bundle");
        let r = run(std::process::Command::new("umoci")
            .arg("unpack")
            .arg("--image")
            .arg(format!("{}:out:1", store.display()))
            .arg(&target));
        assert_eq!(r.code, 0, "umoci unpack: {}", r.stderr);
        assert_eq!(
            std::fs::read_to_string(target.join("rootfs/msg")).unwrap(),
            "hello from the bundle\n"
        );
    }
    // Archives import back into another store with the same manifest.
    let store2 = dir.join("store2");
    for (src, name) in [
        (format!("oci-archive:{}", oci.display()), "fromoci"),
        (format!("docker-archive:{}", docker.display()), "fromdocker"),
    ] {
        let r = run(bin()
            .arg("--root")
            .arg(&store2)
            .arg("import")
            .arg(&src)
            .arg(name));
        assert_eq!(r.code, 0, "import {src}: {}", r.stderr);
        let img = inspect(&store2, name);
        assert_eq!(
            img["config"]["config"]["Cmd"],
            serde_json::json!(["cat", "/msg"])
        );
        if name == "fromoci" {
            assert_eq!(img["digest"], digest.as_str());
        }
    }
    // Image management.
    let tag = run(bin()
        .arg("--root")
        .arg(&store)
        .args(["tag", "out:1", "again"]));
    assert_eq!(tag.code, 0, "{}", tag.stderr);
    let list = run(bin().arg("--root").arg(&store).arg("images"));
    let row = |repo: &str, tag: &str| {
        list.stdout.lines().any(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            cols.len() >= 3 && cols[0] == repo && cols[1] == tag
        })
    };
    assert!(row("again", "latest") && row("out", "1"), "{}", list.stdout);
    // Docker's columns; the ID is the config digest, as docker shows it.
    assert!(list.stdout.starts_with("REPOSITORY "), "{}", list.stdout);
    let img = inspect(&store, "again");
    let id = img["docker"]["Id"].as_str().unwrap();
    assert_eq!(id, img["manifest"]["config"]["digest"].as_str().unwrap());
    assert!(list.stdout.contains(&id[7..19]), "{}", list.stdout);
    let tags = img["docker"]["RepoTags"].as_array().unwrap();
    assert!(
        tags.iter().any(|t| t == "again:latest") && tags.iter().any(|t| t == "out:1"),
        "{tags:?}"
    );
    let quiet = run(bin().arg("--root").arg(&store).args(["images", "-q"]));
    assert!(
        quiet.stdout.lines().any(|l| l == &id[7..19]),
        "{}",
        quiet.stdout
    );
    // Names are stored as given: skopeo finds `oci:DIR:again`.
    if has_tool("skopeo") {
        let r = run(std::process::Command::new("skopeo")
            .arg("inspect")
            .arg(format!("oci:{}:again", store.display())));
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    // `again:latest` is the same name as `again`.
    assert_eq!(inspect(&store, "again:latest")["digest"], digest.as_str());
    let rmi = run(bin()
        .arg("--root")
        .arg(&store)
        .args(["rmi", "again:latest"]));
    assert_eq!(rmi.code, 0);
    let list = run(bin().arg("--root").arg(&store).arg("images"));
    assert!(!list.stdout.contains("again"), "{}", list.stdout);
    let unpack_dir = dir.join("unpacked");
    unpack_rootfs(&store, "out:1", &unpack_dir);
    assert!(unpack_dir.join("rootfs/msg").exists() && unpack_dir.join("config.json").exists());
}

#[test]
fn failures_report_and_leave_the_store_clean() {
    if !can_build() {
        return;
    }
    let (dir, store) = store_with_busybox("fail");
    let index_before = std::fs::read(store.join("index.json")).unwrap();
    let ctx = context(
        &dir,
        "FROM busybox\nRUN echo first-line && echo second-line >&2 && exit 3\n",
        &[],
    );
    let out = build(&store, &ctx, &["-t", "broken"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("Dockerfile:2"), "{}", out.stderr);
    assert!(out.stderr.contains("exit code: 3"), "{}", out.stderr);
    assert!(
        out.stderr.contains("first-line") && out.stderr.contains("second-line"),
        "{}",
        out.stderr
    );
    assert_eq!(
        std::fs::read(store.join("index.json")).unwrap(),
        index_before
    );
    let tmp: Vec<_> = std::fs::read_dir(store.join("rt-build/tmp"))
        .unwrap()
        .collect();
    assert!(tmp.is_empty(), "temp files left: {tmp:?}");

    let missing = run(bin()
        .arg("--root")
        .arg(&store)
        .arg(dir.join("no-such-context")));
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("not a directory"),
        "{}",
        missing.stderr
    );
    let ctx2 = dir.join("ctx2");
    std::fs::create_dir_all(&ctx2).unwrap();
    std::fs::write(ctx2.join("Dockerfile"), "FROM nosuchimage\nRUN true\n").unwrap();
    let nobase = build(&store, &ctx2, &[]);
    assert_eq!(nobase.code, 1);
    assert!(
        nobase.stderr.contains("\"nosuchimage\" not found"),
        "{}",
        nobase.stderr
    );
    std::fs::write(
        ctx2.join("Dockerfile"),
        "FROM busybox\nCOPY missing.txt /\n",
    )
    .unwrap();
    let nofile = build(&store, &ctx2, &[]);
    assert_eq!(nofile.code, 1);
    assert!(
        nofile.stderr.contains("missing.txt") && nofile.stderr.contains("not found"),
        "{}",
        nofile.stderr
    );
    assert_eq!(
        std::fs::read(store.join("index.json")).unwrap(),
        index_before
    );
}

#[test]
fn copy_snapshotter_matches_overlay() {
    if !can_build() {
        return;
    }
    let (dir, store) = store_with_busybox("snap");
    // SOURCE_DATE_EPOCH clamps every new mtime, so both snapshotters must
    // produce byte-identical layers.
    let ctx = context(
        &dir,
        "FROM busybox\nRUN rm /etc/group && rm -rf /etc/conf.d && mkdir -p /etc/conf.d /new/dir && echo x > /new/dir/f && echo c > /etc/conf.d/c\n",
        &[],
    );
    let overlay = build(
        &store,
        &ctx,
        &[
            "--no-cache",
            "--build-arg",
            "SOURCE_DATE_EPOCH=1000",
            "-t",
            "ov",
        ],
    );
    assert_eq!(overlay.code, 0, "{}", overlay.stderr);
    let copy = run(bin()
        .env("RT_BUILD_SNAPSHOTTER", "copy")
        .arg("--root")
        .arg(&store)
        .args([
            "--no-cache",
            "--build-arg",
            "SOURCE_DATE_EPOCH=1000",
            "-t",
            "cp",
        ])
        .arg(&ctx));
    assert_eq!(copy.code, 0, "{}", copy.stderr);
    let ov = inspect(&store, "ov");
    let cp = inspect(&store, "cp");
    let ov_entries = layer_entries(&store, &layer_digests(&ov)[1]);
    let cp_entries = layer_entries(&store, &layer_digests(&cp)[1]);
    assert!(paths(&ov_entries).contains(&"etc/.wh.group".to_string()));
    assert_eq!(paths(&ov_entries), paths(&cp_entries));
    assert_eq!(
        ov["config"]["rootfs"]["diff_ids"],
        cp["config"]["rootfs"]["diff_ids"]
    );
    let _ = Path::new("");
}
