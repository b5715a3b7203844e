// Records the git commit for `rt --version` ("commit:" line), when built
// from a checkout.
fn main() {
    if let Ok(out) = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
    {
        if out.status.success() {
            let sha = String::from_utf8_lossy(&out.stdout).trim().to_string();
            println!("cargo:rustc-env=RT_COMMIT={sha}");
        }
    }
    println!("cargo:rerun-if-changed=.git/HEAD");
}
