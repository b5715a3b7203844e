//! Regressions for builds that used to succeed with a wrong image (found
//! side by side with buildah): each test checks the layer a step wrote,
//! so a step that silently does nothing fails it.

mod common;
use common::*;

/// Layer entries of the image's last layer.
fn last_layer(store: &std::path::Path, name: &str) -> Vec<(String, u8, u64, u64, u64, u32)> {
    let img = inspect(store, name);
    let layers = img["manifest"]["layers"].as_array().unwrap();
    let digest = layers.last().unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_string();
    layer_entries(store, &digest)
}

fn entry<'a>(
    entries: &'a [(String, u8, u64, u64, u64, u32)],
    path: &str,
) -> &'a (String, u8, u64, u64, u64, u32) {
    entries
        .iter()
        .find(|e| e.0 == path)
        .unwrap_or_else(|| panic!("{path} not in the layer: {entries:?}"))
}

#[test]
fn run_heredoc_alone_runs_its_body_with_the_current_shell() {
    if !can_build() {
        return;
    }
    let (dir, store) = store_with_busybox("heredoc-run");
    // The body must run as a script (BuildKit); the SHELL change applies
    // to it (`-ec` turns on errexit, which `$-` shows),
    // and a `#!` body runs as an executable file with its interpreter.
    let ctx = context(
        &dir,
        "FROM busybox
RUN <<EOF
echo one > /plain
echo two >> /plain
EOF
SHELL [\"/bin/sh\", \"-ec\"]
RUN <<EOF
case $- in *e*) echo errexit > /opts ;; *) echo no-errexit > /opts ;; esac
EOF
RUN <<-EOF
\t#!/bin/sh -e
\techo \"$0\" > /shebang
\tEOF
RUN cat <<A <<B > /both
a
A
b
B
",
        &[],
    );
    let out = build(&store, &ctx, &["-t", "hd"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let root = dir.join("out");
    unpack_rootfs(&store, "hd", &root);
    let read = |p: &str| std::fs::read_to_string(root.join("rootfs").join(p)).unwrap_or_default();
    assert_eq!(read("plain"), "one\ntwo\n");
    assert_eq!(
        read("opts"),
        "errexit\n",
        "SHELL -ec did not apply to the heredoc"
    );
    // The script ran as a file under /dev/pipes, which left no trace.
    assert_eq!(read("shebang"), "/dev/pipes/EOF\n");
    assert_eq!(read("both"), "b\n");
    let img = inspect(&store, "hd");
    for l in img["manifest"]["layers"].as_array().unwrap() {
        let names: Vec<String> = layer_entries(&store, l["digest"].as_str().unwrap())
            .into_iter()
            .map(|e| e.0)
            .collect();
        assert!(
            !names.iter().any(|n| n.starts_with("dev/pipes")),
            "{names:?}"
        );
    }
    // A failing heredoc script fails the build.
    let bad = context(
        &dir.join("bad"),
        "FROM busybox\nRUN <<EOF\nexit 3\nEOF\n",
        &[],
    );
    let out = build(&store, &bad, &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("exit code: 3"), "{}", out.stderr);
}

#[test]
fn copy_from_a_stage_keeps_owners_and_special_bits() {
    if !can_build() {
        return;
    }
    let (dir, store) = store_with_busybox("copy-owners");
    let ctx = context(
        &dir,
        "FROM busybox AS files
RUN mkdir -p /o/sub && echo x > /o/sub/f && echo y > /o/suid && chown -R 1000:10 /o && chown 7:8 /o/suid && chmod 4755 /o/suid && chmod 2775 /o/sub
FROM busybox
COPY --from=files /o /o
COPY --from=files /o/suid /single
COPY --from=files --chown=5:6 /o/suid /chowned
COPY ctxfile /ctx
",
        &[("ctxfile", "c")],
    );
    // Context files have the builder's owner on disk; COPY makes them 0:0.
    std::os::unix::fs::chown(ctx.join("ctxfile"), Some(1234), Some(1234)).unwrap();
    let out = build(&store, &ctx, &["-t", "own"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let img = inspect(&store, "own");
    let layers: Vec<String> = img["manifest"]["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_string())
        .collect();
    let tree = layer_entries(&store, &layers[1]);
    // The destination dir is made as root (BuildKit, buildah); what is
    // copied into it keeps its owners.
    let o = entry(&tree, "o");
    assert_eq!((o.3, o.4), (0, 0), "the destination directory's owner");
    let sub = entry(&tree, "o/sub");
    assert_eq!((sub.3, sub.4, sub.5 & 0o7777), (1000, 10, 0o2775));
    let f = entry(&tree, "o/sub/f");
    assert_eq!((f.3, f.4), (1000, 10));
    let suid = entry(&tree, "o/suid");
    assert_eq!((suid.3, suid.4, suid.5 & 0o7777), (7, 8, 0o4755));
    let single = entry(&layer_entries(&store, &layers[2]), "single").clone();
    assert_eq!((single.3, single.4, single.5 & 0o7777), (7, 8, 0o4755));
    // --chown overrides, and chown must not clear the setuid bit.
    let chowned = entry(&layer_entries(&store, &layers[3]), "chowned").clone();
    assert_eq!((chowned.3, chowned.4, chowned.5 & 0o7777), (5, 6, 0o4755));
    let c = last_layer(&store, "own");
    let ctxfile = entry(&c, "ctx");
    assert_eq!((ctxfile.3, ctxfile.4), (0, 0));
}

#[test]
fn dockerignored_directories_are_not_copied_empty() {
    if !can_build() {
        return;
    }
    let (dir, store) = store_with_busybox("ignore-dirs");
    let ctx = context(
        &dir,
        "FROM busybox\nCOPY . /app/\n",
        &[
            ("keep/a", "a"),
            ("skipped/sub/b", "b"),
            ("skipped/c", "c"),
            ("partly/x/drop", "d"),
            ("partly/y/keep.txt", "k"),
            (
                ".dockerignore",
                "skipped\npartly\n!partly/y/keep.txt\n!keep\n",
            ),
        ],
    );
    let out = build(&store, &ctx, &["-t", "ign"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let names: Vec<String> = last_layer(&store, "ign").into_iter().map(|e| e.0).collect();
    for want in [
        "app/keep/a",
        "app/partly",
        "app/partly/y",
        "app/partly/y/keep.txt",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} missing: {names:?}");
    }
    for unwanted in ["app/skipped", "app/skipped/sub", "app/partly/x"] {
        assert!(
            !names.iter().any(|n| n == unwanted),
            "{unwanted} copied: {names:?}"
        );
    }
}

/// BuildKit: an ARG with a value declared after an ENV of the same name is
/// what later instructions and RUNs see (in the RUN's environment too),
/// until the next ENV; the image's Env keeps the ENV's value. (buildah lets
/// the ENV win, so the differential corpus cannot hold this.)
#[test]
fn an_arg_after_an_env_is_what_runs_see() {
    if !can_build() {
        return;
    }
    let (dir, store) = store_with_busybox("arg-after-env");
    let ctx = context(
        &dir,
        "FROM busybox AS a
ENV V=env
ARG V=arg
RUN echo \"$V\" > /v1 && env | grep '^V=' > /v1env
LABEL v=$V
FROM a AS b
ENV V=env2
RUN echo \"$V\" > /v2 && env | grep '^V=' > /v2env
",
        &[],
    );
    for target in ["a", "b"] {
        let out = build(&store, &ctx, &["-t", target, "--target", target]);
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    let config = |name: &str| inspect(&store, name)["config"]["config"].clone();
    let env_v = |name: &str| {
        config(name)["Env"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e.as_str())
            .filter(|e| e.starts_with("V="))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(env_v("a"), vec!["V=env"]);
    assert_eq!(config("a")["Labels"]["v"], "arg");
    assert_eq!(env_v("b"), vec!["V=env2"]);
    let root = dir.join("out");
    unpack_rootfs(&store, "b", &root);
    let read = |f: &str| std::fs::read_to_string(root.join("rootfs").join(f)).unwrap();
    assert_eq!(read("v1"), "arg\n");
    assert_eq!(read("v1env"), "V=arg\n");
    assert_eq!(read("v2"), "env2\n");
    assert_eq!(read("v2env"), "V=env2\n");
}

/// BuildKit's RUN environment lists names in the order they first entered
/// it (the base image's Env, then ENV and ARG with a value as they come),
/// where rt-build put the image's Env first and the ARGs after: a RUN that
/// records its environment wrote another file. Read without a shell (ash
/// rebuilds the environment in its own order).
#[test]
fn a_runs_environment_is_in_buildkits_order() {
    if !can_build() {
        return;
    }
    let (dir, store) = store_with_busybox("env-order");
    let ctx = context(
        &dir,
        "FROM busybox
ARG B=2
ENV A=1
ARG C
ENV C=3
RUN [\"cp\", \"/proc/self/environ\", \"/environ\"]
",
        &[],
    );
    let out = build(&store, &ctx, &["-t", "order"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let root = dir.join("out");
    unpack_rootfs(&store, "order", &root);
    let environ = std::fs::read(root.join("rootfs/environ")).unwrap();
    let names: Vec<String> = environ
        .split(|b| *b == 0)
        .filter_map(|e| std::str::from_utf8(e).ok())
        .filter_map(|e| e.split_once('=').map(|(k, _)| k.to_string()))
        .filter(|k| ["PATH", "A", "B", "C", "HOME"].contains(&k.as_str()))
        .collect();
    assert_eq!(names, ["PATH", "B", "A", "C", "HOME"]);
}

#[test]
fn env_words_see_the_base_images_env() {
    if !can_build() {
        return;
    }
    let (dir, store) = store_with_busybox("base-env");
    // `$PATH` is the base image's PATH (busybox's), through a stage too;
    // FROM scratch has the default PATH (BuildKit's empty image).
    let ctx = context(
        &dir,
        "FROM busybox AS a
ENV PATH=/opt/bin:$PATH
FROM a AS b
ENV PATH=$PATH:/z
RUN echo \"$PATH\" > /p
FROM scratch AS s
ENV PATH=$PATH:/s
",
        &[],
    );
    let default = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    let out = build(&store, &ctx, &["-t", "b", "--target", "b"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let env = inspect(&store, "b")["config"]["config"]["Env"].clone();
    assert_eq!(
        env,
        serde_json::json!([format!("PATH=/opt/bin:{default}:/z")])
    );
    let root = dir.join("out");
    unpack_rootfs(&store, "b", &root);
    let p = std::fs::read_to_string(root.join("rootfs/p")).unwrap();
    assert_eq!(p, format!("/opt/bin:{default}:/z\n"));
    let out = build(&store, &ctx, &["-t", "s", "--target", "s"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let env = inspect(&store, "s")["config"]["config"]["Env"].clone();
    assert_eq!(env, serde_json::json!([format!("PATH={default}:/s")]));
}

#[test]
fn made_directories_hard_links_and_directory_times_are_buildkits() {
    if !can_build() {
        return;
    }
    let (dir, store) = store_with_busybox("mkdir-owners");
    // A tar whose directory has an old mtime, written before its file.
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mode(0o755);
    h.set_mtime(1_600_000_000);
    h.set_size(0);
    tar.append_data(&mut h, "top", std::io::empty()).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mode(0o644);
    h.set_mtime(1_600_000_000);
    h.set_size(1);
    tar.append_data(&mut h, "top/f", &b"x"[..]).unwrap();
    let ctx = context(
        &dir,
        "FROM busybox AS links
RUN mkdir /l && echo one > /l/a && ln /l/a /l/b
FROM busybox
USER app
WORKDIR /home/app/made/deep
USER root
COPY --chown=1000:10 ctxfile /n/m/file
COPY --from=links /l /copied
ADD t.tar /x/
",
        &[("ctxfile", "c")],
    );
    std::fs::write(ctx.join("t.tar"), tar.into_inner().unwrap()).unwrap();
    let out = build(&store, &ctx, &["-t", "mk"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let img = inspect(&store, "mk");
    let layers: Vec<String> = img["manifest"]["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_string())
        .collect();
    // WORKDIR makes its directories as the USER (app is 1000:1000 here).
    let wd = layer_entries(&store, &layers[1]);
    for p in ["home/app/made", "home/app/made/deep"] {
        let e = entry(&wd, p);
        assert_eq!((e.3, e.4), (1000, 1000), "{p}");
    }
    // COPY --chown makes the missing parents with that owner.
    let cp = layer_entries(&store, &layers[2]);
    for p in ["n", "n/m", "n/m/file"] {
        let e = entry(&cp, p);
        assert_eq!((e.3, e.4), (1000, 10), "{p}");
    }
    // Hard links between copied files stay hard links (a tar link entry).
    let links = layer_entries(&store, &layers[3]);
    let kinds: Vec<(String, u8)> = links.iter().map(|e| (e.0.clone(), e.1)).collect();
    assert!(
        kinds.contains(&("copied/b".into(), b'1')) || kinds.contains(&("copied/a".into(), b'1')),
        "no hard link in {kinds:?}"
    );
    // ADD keeps the archive's directory mtime.
    let root = dir.join("out");
    unpack_rootfs(&store, "mk", &root);
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(root.join("rootfs/x/top")).unwrap();
    assert_eq!(m.mtime(), 1_600_000_000);
}
