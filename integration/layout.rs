//! The code layout list (hack/link-order.txt, which build.rs hands to
//! lld) must name the functions of the binary cargo builds. A list taken
//! from another build (`cargo build -p rt`: other features in some
//! dependencies, so other symbol hashes) matches little of it, and the
//! layout is silently lost: that went unnoticed for two sessions. And a
//! function added or renamed since the list was made lands past the
//! ordered text, where each process that runs it maps another 64 KiB of
//! it (two such cost create 128 KiB of peak RSS): the second test runs
//! the layout workload and fails on any Rust function it runs that the
//! list lacks (hack/link-order-check.sh, which says how to fix it).

use std::collections::HashSet;

#[test]
fn link_order_list_names_the_built_binarys_functions() {
    let bin = env!("CARGO_BIN_EXE_rt");
    let out = std::process::Command::new("nm")
        .arg(bin)
        .output()
        .expect("run nm (binutils)");
    assert!(out.status.success(), "nm {bin} failed");
    let text = String::from_utf8_lossy(&out.stdout);
    let symbols: HashSet<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    let list = include_str!("../hack/link-order.txt");
    let names: Vec<&str> = list
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert!(names.len() > 100, "the list is nearly empty");
    let missing: Vec<&&str> = names.iter().filter(|n| !symbols.contains(**n)).collect();
    assert!(
        missing.len() * 10 <= names.len(),
        "{} of the {} names in hack/link-order.txt are not in {bin}; regenerate it \
         (hack/link-order.sh) from a `cargo build --release` binary. First missing: {:?}",
        missing.len(),
        names.len(),
        &missing[..missing.len().min(5)]
    );
}

#[test]
fn every_rust_function_the_workload_runs_is_in_the_link_order_list() {
    crate::common::ctx::require_root();
    let has_perf = std::process::Command::new("perf")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_perf {
        eprintln!("note: link-order check skipped: no perf (hack/deps.sh installs linux-perf)");
        return;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/hack/link-order-check.sh");
    let out = std::process::Command::new(script)
        .arg("--fail")
        .arg(env!("CARGO_BIN_EXE_rt"))
        .output()
        .expect("run hack/link-order-check.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A check that saw no faults at all (perf recorded nothing, or not
    // the binary) proves nothing.
    let listed: usize = stdout
        .split("text: ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(listed > 0, "no page faults seen in rt's text: {stdout}");
}
