//! The code layout list (hack/link-order.txt, which build.rs hands to
//! lld) must name the functions of the binary cargo builds. A list taken
//! from another build (`cargo build -p rt`: other features in some
//! dependencies, so other symbol hashes) matches little of it, and the
//! layout is silently lost: that went unnoticed for two sessions.

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
