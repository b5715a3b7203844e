//! Command line, flag for flag compatible with runc: parse, call the
//! library, turn errors into runc-shaped log records and exit code 1.

mod args;
mod checkpoint;
mod commands;
mod events;
mod run;
mod tty_proxy;
mod update;

use crate::error::Result;
use crate::logging;
use args::{Cli, Command, RunArgs};
use clap::Parser;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The whole command line as clap sees it, for the man pages and shell
/// completions that `hack/docgen` writes from it.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command().version(VERSION)
}

/// runc (urfave/cli) accepts long flags with a single dash, and go-runc
/// relies on it (`restore -no-subreaper`). Rewrite those to `--flag`.
fn normalize_args(args: impl Iterator<Item = String>) -> Vec<String> {
    const LONG: &[&str] = &[
        "no-subreaper",
        "no-pivot",
        "no-new-keyring",
        "bundle",
        "pid-file",
        "console-socket",
        "preserve-fds",
        "root",
        "log",
        "log-format",
        "debug",
        "systemd-cgroup",
        "rootless",
        "detach",
        "keep",
        "force",
        "all",
        "format",
        "process",
        "tty",
        "cwd",
        "env",
        "user",
        "cap",
        "resources",
        "stats",
        "interval",
        "image-path",
        "work-path",
        "parent-path",
        "leave-running",
        "tcp-established",
        "ext-unix-sk",
        "shell-job",
        "file-locks",
        "pre-dump",
        "manage-cgroups-mode",
        "empty-ns",
        "auto-dedup",
        "lazy-pages",
    ];
    args.map(|a| {
        let name = a
            .strip_prefix('-')
            .filter(|r| !r.starts_with('-'))
            .map(|r| r.split('=').next().unwrap_or(r));
        match name {
            Some(n) if LONG.contains(&n) => format!("-{a}"),
            _ => a,
        }
    })
    .collect()
}

/// `--version` as Docker and go-runc parse it: "<name> version X",
/// then "commit:" and "spec:" lines.
fn print_version() {
    println!("rt version {VERSION}");
    println!("commit: {}", option_env!("RT_COMMIT").unwrap_or("unknown"));
    println!("spec: {}", crate::state::OCI_VERSION);
}

/// `--version` (or `-v`) among the global flags, before any subcommand, as
/// runc accepts it (`runc --root /x --version`), or `rt version`.
fn asks_for_version(argv: &[String]) -> bool {
    const TAKES_VALUE: &[&str] = &["--root", "--log", "--log-format", "--criu", "--rootless"];
    if argv.len() == 2 && argv[1] == "version" {
        return true;
    }
    let mut args = argv.iter().skip(1);
    while let Some(a) = args.next() {
        // urfave/cli's single-dash long form (-root) reads as --root.
        let long;
        let a = match a.strip_prefix('-') {
            Some(r) if r.len() > 1 && !r.starts_with('-') => {
                long = format!("--{r}");
                long.as_str()
            }
            _ => a.as_str(),
        };
        match a {
            "--version" | "-v" => return true,
            _ if TAKES_VALUE.contains(&a) => {
                args.next();
            }
            _ if a.starts_with('-') => {}
            _ => return false,
        }
    }
    false
}

pub fn main() -> i32 {
    let argv: Vec<String> = std::env::args().collect();
    if asks_for_version(&argv) {
        print_version();
        return 0;
    }
    let cli = match Cli::try_parse_from(normalize_args(argv.into_iter())) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    let format = if cli.log_format == "json" {
        logging::Format::Json
    } else {
        logging::Format::Text
    };
    if let Err(e) = logging::init(cli.log.as_deref(), format, cli.debug) {
        eprintln!("{e}");
        return 1;
    }
    match dispatch(&cli) {
        Ok(code) => code,
        Err(e) => {
            report(&e);
            1
        }
    }
}

/// The final error: a log record (containerd reads the last error line of
/// --log) and the plain text on stderr (conmon and people read that).
fn report(e: &crate::Error) {
    let format = logging::format();
    let msg = e.to_string();
    if logging::logs_to_file() {
        log::error!("{msg}");
        eprintln!("{msg}");
    } else {
        // Without --log the record itself goes to stderr, in the chosen
        // format, as runc's logrus does (`time="..." level=error msg="..."`
        // for text). Callers that match error text (Podman's "does not
        // exist", "executable file not found") find it inside the record.
        eprint!(
            "{}",
            logging::format_record(format, log::Level::Error, &msg)
        );
    }
}

fn dispatch(cli: &Cli) -> Result<i32> {
    let root = cli.state_root();
    // A --root that is a file would otherwise read as "no containers": list
    // shows nothing and delete --force reports success. runc fails on it.
    if !matches!(
        cli.command,
        Command::Spec(_) | Command::Features | Command::CriuNotify(_)
    ) {
        if let Ok(meta) = std::fs::metadata(&root) {
            if !meta.is_dir() {
                return Err(crate::Error::new(format!(
                    "state root {}: not a directory",
                    root.display()
                )));
            }
        }
    }
    // These commands leave an rt process in the container until it execs
    // the container's program; that process must not be the writable
    // on-disk binary (src/exe_protection.rs). This may re-execute rt.
    // The clone's mount is let go on a thread of its own, so its RCU grace
    // period overlaps the command instead of preceding it.
    match &cli.command {
        Command::Create(a) | Command::Run(RunArgs { create: a, .. }) => {
            let (_, bundle) = commands::resolve_id_and_bundle(a)?;
            crate::exe_protection::ensure_for_bundle(&bundle)?;
        }
        Command::Exec(a) => crate::exe_protection::ensure_for_container(&root, &a.id)?,
        _ => {}
    }
    if let Some(xdg_root) = cli.xdg_state_root() {
        make_xdg_state_root(&xdg_root)?;
    }
    let rootless = match cli.command {
        Command::Create(_) | Command::Run(_) => {
            crate::rootless::parse_flag(cli.rootless.as_deref())?
        }
        _ => None,
    };
    match &cli.command {
        Command::Create(a) => commands::create(&root, a, cli.systemd_cgroup, rootless),
        Command::Start(a) => commands::start(&root, a),
        Command::State(a) => commands::state(&root, a),
        Command::Kill(a) => commands::kill(&root, a),
        Command::Delete(a) => commands::delete(&root, a),
        Command::Run(a) => run::run(&root, a, cli.systemd_cgroup, rootless),
        Command::List(a) => commands::list(&root, a),
        // As runc: only `spec --rootless` writes the rootless variant; the
        // global --rootless is about cgroup handling, not the spec.
        Command::Spec(a) => commands::spec(a),
        Command::Exec(a) => commands::exec(&root, a),
        Command::Ps(a) => commands::ps(&root, a),
        Command::Pause(a) => commands::pause(&root, a, true),
        Command::Resume(a) => commands::pause(&root, a, false),
        Command::Update(a) => update::update(&root, a),
        Command::Events(a) => events::events(&root, a),
        Command::Features => commands::features(),
        Command::Checkpoint(a) => checkpoint::checkpoint(&root, a),
        Command::Restore(a) => checkpoint::restore(&root, a, cli.systemd_cgroup),
        Command::CriuNotify(a) => crate::checkpoint::notify::run(&a.plan).map(|()| 0),
    }
}

/// A state root in $XDG_RUNTIME_DIR is made private and sticky, as the
/// XDG base directory spec asks of files kept there (runc does the same).
fn make_xdg_state_root(root: &std::path::Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(root)
        .map_err(|e| crate::Error::from(e).context(format!("create {}", root.display())))?;
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o1700))
        .map_err(|e| crate::Error::from(e).context(format!("chmod {}", root.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use args::SpecArgs;

    #[test]
    fn clap_definitions_are_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn version_is_found_among_global_flags_only() {
        let v = |s: &str| asks_for_version(&s.split(' ').map(String::from).collect::<Vec<_>>());
        assert!(v("rt --version"));
        assert!(v("rt -v"));
        assert!(v("rt version"));
        assert!(v("rt --root /x --version"));
        assert!(v("rt --debug -root /x --log-format json -version"));
        assert!(!v("rt --root --version"));
        assert!(!v("rt run --version"));
        assert!(!v("rt exec c1 sh -v"));
        assert!(!v("rt state"));
    }

    #[test]
    fn single_dash_long_flags_become_double() {
        let v = normalize_args(
            ["rt", "-no-subreaper", "-b", "-root=/x", "--debug", "-"]
                .iter()
                .map(|s| s.to_string()),
        );
        assert_eq!(
            v,
            ["rt", "--no-subreaper", "-b", "--root=/x", "--debug", "-"]
        );
    }

    #[test]
    fn go_runc_argv_parses() {
        let argv = "rt --root /run/x --log /b/log.json --log-format json create --bundle /b --pid-file /b/init.pid --console-socket /tmp/s id1";
        let cli = Cli::try_parse_from(normalize_args(argv.split(' ').map(String::from))).unwrap();
        assert_eq!(cli.log_format, "json");
        match cli.command {
            Command::Create(a) => {
                assert_eq!(a.id, "id1");
                assert_eq!(a.bundle.as_deref(), Some(std::path::Path::new("/b")));
            }
            _ => panic!("not create"),
        }
        let cli = Cli::try_parse_from("rt spec --rootless -b /x".split(' ')).unwrap();
        assert!(matches!(
            cli.command,
            Command::Spec(SpecArgs { rootless: true, .. })
        ));
        let cli = Cli::try_parse_from("rt --rootless=true spec -b /x".split(' ')).unwrap();
        assert_eq!(cli.rootless.as_deref(), Some("true"));
        // Global flags after the subcommand are refused, as runc refuses them.
        assert!(Cli::try_parse_from("rt state --root /x id1".split(' ')).is_err());
        let cli = Cli::try_parse_from("rt kill --all id1 9".split(' ')).unwrap();
        match cli.command {
            Command::Kill(k) => {
                assert!(k.all);
                assert_eq!(k.signal.as_deref(), Some("9"));
            }
            _ => panic!("not kill"),
        }
    }
}
