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
}
