//! `hack/install.sh` with the binaries cargo built: it must put rt and
//! rt-build, a man page per command and subcommand, and completions that
//! bash, zsh and fish accept where each shell looks for them; the pages
//! must name every flag the binaries take, and every flag must have a
//! description. Needs the workspace built (hack/test.sh builds it first)
//! and man, zsh and fish (hack/deps.sh installs them).

use std::path::{Path, PathBuf};
use std::process::Command;

fn bin_dir() -> PathBuf {
    let docgen = Path::new(env!("CARGO_BIN_EXE_rt-docgen"));
    let dir = docgen.parent().unwrap().to_path_buf();
    for b in ["rt", "rt-build"] {
        assert!(
            dir.join(b).exists(),
            "{} is missing: build the whole workspace first (cargo build --workspace)",
            dir.join(b).display()
        );
    }
    dir
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn require(tool: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false);
    assert!(found, "{tool} is not installed (hack/deps.sh installs it)");
}

/// Installs into a fresh DESTDIR under the prefix /usr/local and returns
/// DESTDIR/usr/local.
fn install(dest: &Path) -> PathBuf {
    run(Command::new(repo().join("hack/install.sh"))
        .args(["--no-build", "--bin-dir"])
        .arg(bin_dir())
        .arg("--destdir")
        .arg(dest));
    dest.join("usr/local")
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rt-docgen-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// (page stem, long flags) of a command and each visible subcommand.
fn pages(cmd: clap::Command) -> Vec<(String, Vec<String>)> {
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    let name = cmd.get_name().to_string();
    let flags = |c: &clap::Command| {
        c.get_arguments()
            .filter(|a| !a.is_hide_set())
            .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
            .collect::<Vec<_>>()
    };
    let mut out = vec![(name.clone(), flags(&cmd))];
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        out.push((format!("{name}-{}", sub.get_name()), flags(sub)));
    }
    out
}

#[test]
fn install_puts_binaries_pages_and_completions_in_place() {
    require("man");
    let dest = tempdir("install");
    let root = install(&dest);

    for b in ["rt", "rt-build"] {
        let path = root.join("bin").join(b);
        let mode = std::os::unix::fs::PermissionsExt::mode(&path.metadata().unwrap().permissions());
        assert_eq!(mode & 0o777, 0o755, "{}", path.display());
        let version = run(Command::new(&path).arg("--version"));
        // "rt version 0.1.0" (runc's shape, which Docker parses) and
        // "rt-build 0.1.0".
        let expected = env!("CARGO_PKG_VERSION");
        assert!(
            version.starts_with(b) && version.contains(expected),
            "{b} --version: {version}"
        );
    }

    for (cmd, section) in [(rt::cli::command(), "8"), (rt_build::cli::command(), "1")] {
        for (stem, flags) in pages(cmd) {
            let page = root.join(format!("share/man/man{section}/{stem}.{section}"));
            assert!(page.exists(), "no man page {}", page.display());
            // man -l renders the page as a reader sees it; flags are
            // searched in the rendered text, not in the roff source.
            let text = run(Command::new("man")
                .arg("-l")
                .arg(&page)
                .env("MANWIDTH", "200")
                .env_remove("MAN_KEEP_FORMATTING"));
            let text = plain(&text);
            assert!(
                text.contains(&stem),
                "{}: title {stem} missing",
                page.display()
            );
            for flag in flags {
                assert!(
                    text.contains(&flag),
                    "{}: {flag} is not documented",
                    page.display()
                );
            }
        }
    }
    std::fs::remove_dir_all(&dest).unwrap();
}

/// Rendered text without overstrike (bold "x\bx", underlined "_\bx") and
/// with typographic hyphens as ASCII.
fn plain(text: &str) -> String {
    let mut out: Vec<char> = Vec::with_capacity(text.len());
    for c in text.chars() {
        if c == '\u{8}' {
            out.pop();
            continue;
        }
        out.push(match c {
            '\u{2010}' | '\u{2212}' => '-',
            c => c,
        });
    }
    out.into_iter().collect()
}

#[test]
fn every_flag_and_subcommand_has_a_description() {
    for cmd in [rt::cli::command(), rt_build::cli::command()] {
        let mut cmd = cmd;
        cmd.build();
        let mut missing = Vec::new();
        let mut check = |owner: &str, c: &clap::Command| {
            for a in c.get_arguments().filter(|a| !a.is_hide_set()) {
                let id = a.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                if a.get_help().is_none() && a.get_long_help().is_none() {
                    missing.push(format!("{owner} {id}"));
                }
            }
        };
        check(cmd.get_name(), &cmd);
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            if sub.get_name() == "help" {
                continue;
            }
            assert!(
                sub.get_about().is_some(),
                "{} {} has no description",
                cmd.get_name(),
                sub.get_name()
            );
            check(&format!("{} {}", cmd.get_name(), sub.get_name()), sub);
        }
        assert!(
            missing.is_empty(),
            "arguments without a description: {missing:?}"
        );
    }
}

/// bash: the function `complete -p` names completes subcommands and flags.
fn bash_completes(file: &Path, command: &str, words: &[&str]) -> Vec<String> {
    let script = format!(
        "source '{file}'\n\
         f=$(complete -p {command} | sed -n 's/.* -F \\([^ ]*\\) .*/\\1/p')\n\
         COMP_WORDS=({words})\n\
         COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1))\n\
         \"$f\" {command} \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        file = file.display(),
        words = words.join(" "),
    );
    run(Command::new("bash").arg("-c").arg(script))
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn completions_work_in_bash_zsh_and_fish() {
    require("zsh");
    require("fish");
    let dest = tempdir("completions");
    let root = install(&dest);
    let share = root.join("share");

    let rt_bash = share.join("bash-completion/completions/rt");
    assert_eq!(bash_completes(&rt_bash, "rt", &["rt", "ex"]), ["exec"]);
    let flags = bash_completes(&rt_bash, "rt", &["rt", "exec", "--con"]);
    assert_eq!(flags, ["--console-socket"]);
    let build_bash = share.join("bash-completion/completions/rt-build");
    let subs = bash_completes(&build_bash, "rt-build", &["rt-build", "pu"]);
    assert_eq!(subs, ["pull", "push"]);

    for name in ["rt", "rt-build"] {
        // zsh: the file parses (zsh -n) and defines its completion function.
        let zsh = share.join(format!("zsh/site-functions/_{name}"));
        run(Command::new("zsh").arg("-n").arg(&zsh));
        let text = std::fs::read_to_string(&zsh).unwrap();
        assert!(
            text.starts_with(&format!("#compdef {name}")),
            "{}",
            zsh.display()
        );
    }

    // fish completes from the installed file as a user's shell would.
    let fish = share.join("fish/vendor_completions.d/rt.fish");
    let out = run(Command::new("fish")
        .arg("--no-config")
        .arg("-c")
        .arg(format!(
            "source '{}'; complete -C 'rt cre'; complete -C 'rt kill --'",
            fish.display()
        )));
    let words: Vec<&str> = out.lines().map(|l| l.split('\t').next().unwrap()).collect();
    assert!(words.contains(&"create"), "fish: {out}");
    assert!(words.contains(&"--all"), "fish: {out}");
    let fish = share.join("fish/vendor_completions.d/rt-build.fish");
    let out = run(Command::new("fish")
        .arg("--no-config")
        .arg("-c")
        .arg(format!(
            "source '{}'; complete -C 'rt-build -'",
            fish.display()
        )));
    assert!(
        out.lines().any(|l| l.starts_with("--tag")),
        "fish rt-build: {out}"
    );
    std::fs::remove_dir_all(&dest).unwrap();
}

#[test]
fn install_refuses_a_relative_prefix_and_missing_binaries() {
    let dest = tempdir("refuse");
    let out = Command::new(repo().join("hack/install.sh"))
        .args(["--no-build", "--prefix", "usr", "--destdir"])
        .arg(&dest)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--prefix must be an absolute path"));
    let out = Command::new(repo().join("hack/install.sh"))
        .args(["--no-build", "--bin-dir"])
        .arg(&dest)
        .arg("--destdir")
        .arg(&dest)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("rt is missing"));
    assert!(
        !dest.join("usr").exists(),
        "nothing is installed when a binary is missing"
    );
    std::fs::remove_dir_all(&dest).unwrap();
}
