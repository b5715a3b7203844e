//! A base image's ONBUILD triggers run in the child build right after its
//! FROM (BuildKit's semantics), from a stored image and from a stage.

mod common;
use common::*;
use std::path::Path;

/// Every path in every layer of `name`, with the layer's index.
fn layer_paths(store: &Path, name: &str) -> Vec<(usize, String)> {
    let img = inspect(store, name);
    let mut out = Vec::new();
    for (i, l) in img["manifest"]["layers"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        for e in layer_entries(store, l["digest"].as_str().unwrap()) {
            out.push((i, e.0));
        }
    }
    out
}

#[test]
fn triggers_of_a_stored_base_run_in_the_child() {
    if !can_build() {
        return;
    }
    let (dir, store) = store_with_busybox("onbuild");
    let base_ctx = context(
        &dir.join("base"),
        "FROM busybox\nONBUILD RUN echo x > /y\nONBUILD COPY a.txt /a.txt\nONBUILD ENV FROM_TRIGGER=yes\nONBUILD WORKDIR /w\n",
        &[],
    );
    let out = build(&store, &base_ctx, &["-t", "base"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let base = inspect(&store, "base");
    assert_eq!(
        base["config"]["config"]["OnBuild"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    // The base itself runs nothing: one layer, busybox's.
    assert_eq!(base["manifest"]["layers"].as_array().unwrap().len(), 1);

    let child_ctx = context(
        &dir.join("child"),
        "FROM base\nRUN cat /y /a.txt > /both && echo $FROM_TRIGGER > env && pwd > /pwd\n",
        &[("a.txt", "from the child context\n")],
    );
    let out = build(&store, &child_ctx, &["-t", "child"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("] ONBUILD RUN echo x > /y"),
        "{}",
        out.stderr
    );
    let paths = layer_paths(&store, "child");
    let layer_of = |p: &str| paths.iter().find(|(_, n)| n == p).map(|(i, _)| *i);
    let y = layer_of("y").expect("trigger RUN left no /y");
    let a = layer_of("a.txt").expect("trigger COPY left no /a.txt");
    let both = layer_of("both").expect("child RUN left no /both");
    // Triggers come first, in order, then the child's own RUN; the ENV
    // and WORKDIR triggers reach the child's RUN.
    assert!(y < a && a < both, "{paths:?}");
    assert!(layer_of("w/env").is_some(), "{paths:?}");
    let child = inspect(&store, "child");
    let c = &child["config"]["config"];
    assert!(c["OnBuild"].is_null(), "{c}");
    assert_eq!(c["WorkingDir"], "/w");
    assert!(
        c["Env"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == "FROM_TRIGGER=yes"),
        "{c}"
    );
    let history: Vec<String> = child["config"]["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["created_by"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(
        history.iter().any(|h| h.contains("echo x > /y")),
        "{history:?}"
    );

    // The grandchild has no triggers left to run.
    let grand_ctx = context(&dir.join("grand"), "FROM child\nRUN test ! -e /z\n", &[]);
    let out = build(&store, &grand_ctx, &["-t", "grand"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stderr.contains("ONBUILD"), "{}", out.stderr);
    assert_eq!(
        layer_paths(&store, "grand").len(),
        paths.len(),
        "the grandchild reran a trigger"
    );
}

#[test]
fn triggers_of_a_stage_run_and_failures_name_the_trigger() {
    if !can_build() {
        return;
    }
    let (dir, store) = store_with_busybox("onbuild-stage");
    let ctx = context(
        &dir,
        "FROM busybox AS template\nONBUILD RUN touch /from-stage\nFROM template\nRUN test -e /from-stage\n",
        &[],
    );
    let out = build(&store, &ctx, &["-t", "staged"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        layer_paths(&store, "staged")
            .iter()
            .any(|(_, p)| p == "from-stage")
    );
    assert!(inspect(&store, "staged")["config"]["config"]["OnBuild"].is_null());

    let bad = context(
        &dir.join("bad"),
        "FROM busybox AS template\nONBUILD RUN exit 3\nFROM template\nRUN true\n",
        &[],
    );
    let out = build(&store, &bad, &["-t", "bad"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    // The error points at the child's FROM line and names the trigger.
    assert!(
        out.stderr
            .contains("Dockerfile:3: [stage-1 2/3] ONBUILD RUN exit 3"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("exit code: 3"), "{}", out.stderr);
}
