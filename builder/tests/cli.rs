//! End-to-end tests of the `rt-build` binary: exit codes, the JSON of
//! `--parse-only` / `parse`, and error output.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rt-build"))
}

/// A fresh context directory under the target tmp dir.
fn context(name: &str, dockerfile: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    dir
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().unwrap();
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("bad JSON ({e}): {text}"))
}

const MULTI: &str = "ARG BASE=alpine:3.19
FROM $BASE AS build
ARG BASE
RUN echo building on $BASE
FROM scratch AS final
COPY --from=build /out /out
CMD [\"/out/app\"]
FROM busybox AS unused
";

#[test]
fn parse_only_prints_stages_plan_and_dockerignore() {
    let dir = context("parse-only", MULTI);
    std::fs::write(dir.join(".dockerignore"), "*.log\n!keep.log\n").unwrap();
    let (code, out, err) = run(bin()
        .args([
            "--parse-only",
            "--target",
            "FINAL",
            "--build-arg",
            "BASE=alpine:3.20",
        ])
        .arg(&dir));
    assert_eq!(code, 0, "{err}");
    let v = json(&out);
    assert_eq!(v["dockerfile"]["stages"].as_array().unwrap().len(), 3);
    assert_eq!(
        v["dockerfile"]["stages"][0]["instructions"][1]["instruction"],
        "RUN"
    );
    assert_eq!(v["dockerfile"]["stages"][0]["instructions"][1]["line"], 4);
    assert_eq!(v["plan"]["order"], serde_json::json!([0, 1]));
    assert_eq!(v["plan"]["stages"][0]["base"]["image"], "alpine:3.20");
    assert_eq!(
        v["dockerignore"]["patterns"],
        serde_json::json!(["*.log", "!keep.log"])
    );
    let run_env = &v["evaluated"][0]["steps"][1]["run_env"]["env"];
    assert_eq!(run_env, &serde_json::json!([["BASE", "alpine:3.20"]]));
}

#[test]
fn parse_subcommand_reads_a_file() {
    let dir = context("parse-sub", "FROM alpine\nRUN <<EOF\necho hi\nEOF\n");
    let file = dir.join("Dockerfile");
    let (code, out, err) = run(bin().arg("parse").arg(&file));
    assert_eq!(code, 0, "{err}");
    let v = json(&out);
    let run = &v["dockerfile"]["stages"][0]["instructions"][0];
    assert_eq!(run["heredocs"][0]["content"], "echo hi\n");
    assert_eq!(run["end_line"], 4);
}

#[test]
fn bad_dockerfile_exits_1_with_file_line() {
    let dir = context("bad", "FROM alpine\nRUN true\nRUNN echo hi\n");
    let (code, out, err) = run(bin().arg("--parse-only").arg(&dir));
    assert_eq!(code, 1);
    assert!(out.is_empty());
    let shown = dir.join("Dockerfile").display().to_string();
    assert!(
        err.contains(&format!(
            "{shown}:3: unknown instruction \"RUNN\" (did you mean \"RUN\"?)"
        )),
        "{err}"
    );
}

#[test]
fn unknown_target_lists_stages() {
    let dir = context("target", MULTI);
    let (code, _, err) = run(bin().args(["--parse-only", "--target", "prod"]).arg(&dir));
    assert_eq!(code, 1);
    assert!(
        err.contains("target stage \"prod\" could not be found; stages are: build, final, unused"),
        "{err}"
    );
}

#[test]
fn build_with_a_missing_base_names_it_and_the_store() {
    let dir = context("build", MULTI);
    let store = dir.join("store");
    let (code, _, err) = run(bin()
        .arg("--root")
        .arg(&store)
        .args(["-t", "app:1", "--target", "final"])
        .arg(&dir));
    assert_eq!(code, 1);
    assert!(
        err.contains("\"alpine:3.19\" not found in the store"),
        "{err}"
    );
    assert!(err.contains("Dockerfile:2: FROM"), "{err}");
}

#[test]
fn bad_flags_are_rejected_before_parsing() {
    let dir = context("flags", MULTI);
    let (code, _, err) = run(bin().args(["--platform", "linux/arm64"]).arg(&dir));
    assert_eq!(code, 1);
    assert!(err.contains("linux/amd64 only"), "{err}");
    let (code, _, err) = run(bin().args(["-o", "type=zip,dest=x"]).arg(&dir));
    assert_eq!(code, 1);
    assert!(err.contains("unknown type"), "{err}");
    let (code, _, err) = run(bin().args(["-t", "Bad:Tag!"]).arg(&dir));
    assert_eq!(code, 1);
    assert!(err.contains("invalid tag"), "{err}");
}

#[test]
fn image_subcommands_on_an_empty_store() {
    let dir = context("images", "FROM scratch\n");
    let store = dir.join("store");
    let (code, out, _) = run(bin().arg("--root").arg(&store).arg("images"));
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 1, "only the header: {out}");
    assert!(store.join("oci-layout").is_file() && store.join("index.json").is_file());
    for (args, expect) in [
        (vec!["rmi", "x"], "no image named \"x\""),
        (vec!["tag", "a", "b"], "no image named \"a\""),
        (vec!["inspect", "x"], "no image named \"x\""),
        (
            vec!["import", "oci:/nonexistent-layout", "p"],
            "/nonexistent-layout/index.json",
        ),
        (vec!["unpack", "i", "b"], "no image named \"i\""),
    ] {
        let (code, _, err) = run(bin().arg("--root").arg(&store).args(&args));
        assert_eq!(code, 1, "{args:?}");
        assert!(err.contains(expect), "{args:?}: {err}");
    }
}

#[test]
fn dockerfile_from_other_path_and_its_own_ignore_file() {
    let dir = context("dashf", "FROM scratch\n");
    let df = dir.join("app.Dockerfile");
    std::fs::write(&df, "FROM alpine\nCOPY . /src\n").unwrap();
    std::fs::write(dir.join(".dockerignore"), "general\n").unwrap();
    std::fs::write(dir.join("app.Dockerfile.dockerignore"), "specific\n").unwrap();
    let (code, out, err) = run(bin().arg("--parse-only").arg("-f").arg(&df).arg(&dir));
    assert_eq!(code, 0, "{err}");
    let v = json(&out);
    assert_eq!(
        v["dockerignore"]["patterns"],
        serde_json::json!(["specific"])
    );
    assert!(
        v["dockerignore"]["file"]
            .as_str()
            .unwrap()
            .ends_with("app.Dockerfile.dockerignore")
    );
}

#[test]
fn missing_context_is_a_clear_error() {
    let missing = Path::new(env!("CARGO_TARGET_TMPDIR")).join("definitely-not-here");
    let (code, _, err) = run(bin().arg("--parse-only").arg(&missing));
    assert_eq!(code, 1);
    assert!(err.contains("build context is not a directory"), "{err}");
}
