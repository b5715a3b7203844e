// Records the git commit for `rt --version` ("commit:" line), when built
// from a checkout.
fn git(args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    if let Some(sha) = git(&["rev-parse", "HEAD"]) {
        println!("cargo:rustc-env=RT_COMMIT={sha}");
    }
    // Rebuild when HEAD moves: HEAD itself (a branch switch) and the
    // branch's ref (a commit), where git keeps them, which in a worktree
    // is not ./.git/HEAD. A path that does not exist would make cargo run
    // this script (and rebuild rt) every time, so only existing ones.
    let mut watched = vec![git(&["rev-parse", "--git-path", "HEAD"])];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(git(&["rev-parse", "--git-path", &branch]));
    }
    for path in watched.into_iter().flatten() {
        if std::path::Path::new(&path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    // Without any (not a checkout), the script's own change is the trigger.
    println!("cargo:rerun-if-changed=build.rs");
    link_order();
}

// Code layout (hack/link-order.sh): the functions a container's init runs
// first, then those of the commands, in the order they first run, so that
// what a process touches lies together. The kernel maps a binary's pages
// 64 KiB at a time around each fault: scattered, the init's 110 KB of code
// made 1.4 MiB of its resident set. lld reads the list (rust-lld is
// rustc's default linker here); RT_LINK_ORDER=0 leaves it out for another
// linker.
fn link_order() {
    println!("cargo:rerun-if-env-changed=RT_LINK_ORDER");
    if std::env::var("RT_LINK_ORDER").as_deref() == Ok("0") {
        return;
    }
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let list = std::path::Path::new(&dir).join("hack/link-order.txt");
    if list.exists() {
        println!("cargo:rerun-if-changed={}", list.display());
        println!(
            "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
            list.display()
        );
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
}
