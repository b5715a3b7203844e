//! `spec`: the default config.json, which scripts edit with jq and then
//! run, must be runc's (same fields, same layout, the same namespaces for
//! this host).

use crate::common::spec::runc_spec_defaults;
use crate::common::tools::which;
use crate::common::*;
use std::fs;
use std::path::Path;

/// runc adds a cgroup namespace to its default spec only where
/// /sys/fs/cgroup is a cgroup2 mount (a pure v2 host).
fn cgroup2_unified() -> bool {
    let path = std::ffi::CString::new("/sys/fs/cgroup").unwrap();
    // SAFETY: statfs into a zeroed struct we own, with a valid C string.
    unsafe {
        let mut st: libc::statfs = std::mem::zeroed();
        libc::statfs(path.as_ptr(), &mut st) == 0 && st.f_type == libc::CGROUP2_SUPER_MAGIC
    }
}

/// `RT spec [--rootless] -b dir` and the text it wrote.
fn spec_text(ctx: &TestCtx, dir: &Path, rootless: bool) -> String {
    fs::create_dir_all(dir).unwrap();
    let mut args = vec!["spec"];
    if rootless {
        args.push("--rootless");
    }
    args.extend(["-b", path(dir)]);
    ctx.rt(&args).ok();
    fs::read_to_string(dir.join("config.json")).unwrap()
}

/// The two fields where rt's spec may differ from runc's: the spec version
/// each implements, and the hostname named after the runtime.
fn without_own_names(text: &str) -> String {
    text.lines()
        .filter(|l| {
            let l = l.trim_start();
            !l.starts_with("\"ociVersion\":") && !l.starts_with("\"hostname\":")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn default_spec_is_runcs_for_this_host() {
    let ctx = TestCtx::new("spec::default");
    let text = spec_text(&ctx, &ctx.dir.join("plain"), false);
    let got: Value = serde_json::from_str(&text).expect("spec writes JSON");
    let mut want = runc_spec_defaults();
    if cgroup2_unified() {
        want["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "cgroup"}));
    }
    for field in ["ociVersion", "hostname"] {
        assert!(got[field].is_string(), "{field} missing:\n{text}");
        want[field] = got[field].clone();
    }
    assert_eq!(got, want, "spec differs from runc's defaults:\n{text}");
    // Where runc is installed, the files are the same byte for byte (tab
    // indentation, Go field order, no final newline) but for the names.
    if !which("runc") {
        eprintln!("note: runc not installed; layout compared only through the JSON");
        return;
    }
    for rootless in [false, true] {
        let ours = spec_text(&ctx, &ctx.dir.join(format!("rt-{rootless}")), rootless);
        let theirs_dir = ctx.dir.join(format!("runc-{rootless}"));
        fs::create_dir_all(&theirs_dir).unwrap();
        let mut cmd = exec::command("runc");
        cmd.args(["spec", "-b", path(&theirs_dir)]);
        if rootless {
            cmd.arg("--rootless");
        }
        ctx.exec(cmd).ok();
        let theirs = fs::read_to_string(theirs_dir.join("config.json")).unwrap();
        assert_eq!(
            without_own_names(&ours),
            without_own_names(&theirs),
            "spec (rootless: {rootless}) differs from runc spec"
        );
        assert_eq!(ours.ends_with('\n'), theirs.ends_with('\n'));
    }
}

/// Scripts add the namespaces they want to the default spec; on a host
/// where runc's spec has no cgroup namespace, adding one must not collide
/// with a namespace rt put there ("duplicate namespace").
#[test]
fn script_adding_a_cgroup_namespace_to_the_default_spec_runs() {
    if cgroup2_unified() {
        eprintln!("note: pure cgroup v2 host: the default spec has a cgroup namespace");
        return;
    }
    let ctx = TestCtx::new("spec::add_cgroupns");
    let mut b = ctx.bundle();
    let text = spec_text(&ctx, &ctx.dir.join("generated"), false);
    b.spec = serde_json::from_str(&text).unwrap();
    // What `jq '.linux.namespaces += [{"type":"cgroup"}]'` does.
    b.spec["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "cgroup"}));
    b.terminal(false).sh("cat /proc/self/cgroup");
    let out = ctx.output_of(&mut b, "cgns");
    assert!(
        out.lines().all(|l| l.ends_with(":/")),
        "a cgroup namespace shows the container's cgroup as /:\n{out}"
    );
}
