//! `rt-docgen OUT_DIR`: writes the man pages and shell completions of `rt`
//! and `rt-build` from the clap definitions the binaries parse with, so a
//! flag added to either command appears in its page and its completions
//! without anyone editing them by hand. `hack/install.sh` runs it.
//!
//! Layout under OUT_DIR (the same as under a prefix's `share/`):
//! - `man/man8/rt.8`, `man/man8/rt-<subcommand>.8` (section 8, system
//!   administration, where runc's pages are);
//! - `man/man1/rt-build.1`, `man/man1/rt-build-<subcommand>.1`;
//! - `bash-completion/completions/{rt,rt-build}`,
//!   `zsh/site-functions/{_rt,_rt-build}`,
//!   `fish/vendor_completions.d/{rt,rt-build}.fish`.

use clap::Command;
use clap_complete::Shell;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [out] = args.as_slice() else {
        eprintln!("usage: rt-docgen OUT_DIR");
        return ExitCode::from(2);
    };
    match generate(Path::new(out)) {
        Ok(files) => {
            for f in files {
                println!("{}", f.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("rt-docgen: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Writes every page and completion file; returns their paths.
fn generate(out: &Path) -> Result<Vec<PathBuf>, String> {
    let mut written = Vec::new();
    for (cmd, section) in [(rt::cli::command(), "8"), (rt_build::cli::command(), "1")] {
        written.extend(man_pages(cmd.clone(), section, out)?);
        written.extend(completions(cmd, out)?);
    }
    Ok(written)
}

/// One page for the command and one per visible subcommand, named
/// `<command>-<subcommand>.<section>` as runc's and git's are.
fn man_pages(cmd: Command, section: &str, out: &Path) -> Result<Vec<PathBuf>, String> {
    let dir = out.join("man").join(format!("man{section}"));
    create_dir(&dir)?;
    let mut cmd = cmd.disable_help_subcommand(true);
    // Building fills in the deferred subcommands' flags and gives each
    // subcommand its display name ("rt-create").
    cmd.build();
    let version = cmd.get_version().unwrap_or_default().to_string();
    let mut pages = vec![cmd.clone()];
    pages.extend(cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
    let mut written = Vec::new();
    for page in pages {
        let man = clap_mangen::Man::new(page.clone())
            .section(section)
            .source(format!("{} {version}", cmd.get_name()));
        let path = dir.join(man.get_filename());
        let mut text = Vec::new();
        man.render(&mut text)
            .map_err(|e| format!("rendering {}: {e}", path.display()))?;
        std::fs::write(&path, text).map_err(|e| format!("writing {}: {e}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

fn completions(mut cmd: Command, out: &Path) -> Result<Vec<PathBuf>, String> {
    let name = cmd.get_name().to_string();
    let mut written = Vec::new();
    for (shell, dir, file) in [
        (Shell::Bash, "bash-completion/completions", name.clone()),
        (Shell::Zsh, "zsh/site-functions", format!("_{name}")),
        (
            Shell::Fish,
            "fish/vendor_completions.d",
            format!("{name}.fish"),
        ),
    ] {
        let dir = out.join(dir);
        create_dir(&dir)?;
        let path = dir.join(file);
        let mut text = Vec::new();
        clap_complete::generate(shell, &mut cmd, &name, &mut text);
        std::fs::write(&path, text).map_err(|e| format!("writing {}: {e}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

fn create_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))
}
