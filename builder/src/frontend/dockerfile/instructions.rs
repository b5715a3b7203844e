//! One logical line → one typed instruction. The argument conventions are
//! Docker's: some instructions take a JSON array or free text, some split
//! on whitespace, ENV/LABEL/ARG use quote-aware words, USER/WORKDIR take the
//! whole remainder as one value.

use super::ast::*;
use super::error::{DockerfileError, QUOTE_CHARS, quote, shorten};
use super::expand::check_syntax;
use super::flags::{FlagKind, FlagSpec, Flags};
use super::heredoc::{Heredoc, parse_marker};
use super::lines::LogicalLine;
use super::mount::parse_mount;
use super::suggest::closest;
use super::values::{parse_interval, valid_stage_name, validate_port, validate_signal};
use super::words::{extract_flags, parse_words, split_keyword, split_whitespace};

const FROM_FLAGS: &[FlagSpec] = &[("platform", FlagKind::Text)];
const RUN_FLAGS: &[FlagSpec] = &[
    ("mount", FlagKind::List),
    ("network", FlagKind::Text),
    ("security", FlagKind::Text),
];
const COPY_FLAGS: &[FlagSpec] = &[
    ("from", FlagKind::Text),
    ("chown", FlagKind::Text),
    ("chmod", FlagKind::Text),
    ("link", FlagKind::Bool),
    ("parents", FlagKind::Bool),
    ("exclude", FlagKind::List),
];
const ADD_FLAGS: &[FlagSpec] = &[
    ("chown", FlagKind::Text),
    ("chmod", FlagKind::Text),
    ("link", FlagKind::Bool),
    ("keep-git-dir", FlagKind::Bool),
    ("checksum", FlagKind::Text),
    ("exclude", FlagKind::List),
    ("unpack", FlagKind::Bool),
];
const HEALTHCHECK_FLAGS: &[FlagSpec] = &[
    ("interval", FlagKind::Text),
    ("timeout", FlagKind::Text),
    ("start-period", FlagKind::Text),
    ("start-interval", FlagKind::Text),
    ("retries", FlagKind::Text),
];

/// Parses a scanned line into an instruction with its position.
pub fn parse_line(
    line: &LogicalLine,
    escape: char,
    file: &str,
) -> Result<Instruction, DockerfileError> {
    let err =
        |msg: String| DockerfileError::new(file, line.start_line, msg).with_excerpt(&line.text);
    let mut kind = parse_kind(&line.text, &line.heredocs, escape).map_err(err)?;
    if let Kind::Onbuild { trigger, .. } = &mut kind {
        trigger.line = line.start_line;
        trigger.end_line = line.end_line;
    }
    Ok(Instruction {
        line: line.start_line,
        end_line: line.end_line,
        original: line.text.trim().to_string(),
        kind,
    })
}

fn parse_kind(text: &str, heredocs: &[Heredoc], escape: char) -> Result<Kind, String> {
    let (keyword, rest) = split_keyword(text);
    let upper = keyword.to_ascii_uppercase();
    if !KEYWORDS.contains(&upper.as_str()) {
        let hint = match closest(keyword, KEYWORDS) {
            Some(s) => format!(" (did you mean \"{s}\"?)"),
            None => String::new(),
        };
        return Err(format!("unknown instruction {}{hint}", quote(keyword)));
    }
    let (flag_words, args) = extract_flags(rest);
    let no_flags = |name: &str| Flags::parse(name, &flag_words, &[]).map(|_| ());
    match upper.as_str() {
        "FROM" => parse_from(&flag_words, args, escape),
        "RUN" => parse_run(&flag_words, args, heredocs),
        "CMD" | "ENTRYPOINT" => {
            no_flags(&upper)?;
            let command = command_line(&upper, args)?;
            Ok(if upper == "CMD" {
                Kind::Cmd { command }
            } else {
                Kind::Entrypoint { command }
            })
        }
        "ENV" => {
            no_flags("ENV")?;
            let pairs = parse_name_values("ENV", args, escape)?;
            Ok(Kind::Env { pairs })
        }
        "LABEL" => {
            no_flags("LABEL")?;
            let pairs = parse_name_values("LABEL", args, escape)?;
            Ok(Kind::Label { pairs })
        }
        "ARG" => {
            no_flags("ARG")?;
            parse_arg(args, escape)
        }
        "EXPOSE" => {
            no_flags("EXPOSE")?;
            let ports = split_whitespace(args);
            if ports.is_empty() {
                return Err("EXPOSE requires at least one argument".into());
            }
            for p in &ports {
                checked("EXPOSE", p, escape)?;
                if !p.contains('$') {
                    validate_port(p).map_err(|e| format!("EXPOSE: {e}"))?;
                }
            }
            Ok(Kind::Expose { ports })
        }
        "USER" => {
            no_flags("USER")?;
            let user = single_value("USER", args, escape)?;
            Ok(Kind::User { user })
        }
        "WORKDIR" => {
            no_flags("WORKDIR")?;
            let path = single_value("WORKDIR", args, escape)?;
            Ok(Kind::Workdir { path })
        }
        "STOPSIGNAL" => {
            no_flags("STOPSIGNAL")?;
            let signal = single_value("STOPSIGNAL", args, escape)?;
            if !signal.contains('$') {
                validate_signal(&signal).map_err(|e| format!("STOPSIGNAL: {e}"))?;
            }
            Ok(Kind::Stopsignal { signal })
        }
        "MAINTAINER" => {
            no_flags("MAINTAINER")?;
            let name = args.trim().to_string();
            if name.is_empty() {
                return Err("MAINTAINER requires exactly one argument".into());
            }
            Ok(Kind::Maintainer { name })
        }
        "VOLUME" => {
            no_flags("VOLUME")?;
            let paths = json_or_words("VOLUME", args)?;
            if paths.is_empty() {
                return Err("VOLUME requires at least one argument".into());
            }
            for p in &paths {
                if p.trim().is_empty() {
                    return Err("VOLUME specified can not be an empty string".into());
                }
                checked("VOLUME", p, escape)?;
            }
            Ok(Kind::Volume { paths })
        }
        "COPY" => parse_copy(&flag_words, args, heredocs, escape),
        "ADD" => parse_add(&flag_words, args, heredocs, escape),
        "SHELL" => {
            no_flags("SHELL")?;
            match maybe_json(args)? {
                Some(shell) if !shell.is_empty() => Ok(Kind::Shell { shell }),
                Some(_) => Err("SHELL requires at least one argument".into()),
                None => Err("SHELL requires the arguments to be in JSON form, e.g. SHELL [\"/bin/sh\", \"-c\"]".into()),
            }
        }
        "HEALTHCHECK" => parse_healthcheck(&flag_words, args),
        "ONBUILD" => parse_onbuild(&flag_words, args, heredocs, escape),
        _ => unreachable!("keyword list and match arms agree"),
    }
}

/// Checks `${...}` syntax of a word that this instruction will expand.
fn checked(keyword: &str, word: &str, escape: char) -> Result<(), String> {
    check_syntax(word, escape).map_err(|e| format!("{keyword}: {e} in {}", quote(word)))
}

/// `Some(array)` for a JSON string array, `None` for free text. A JSON
/// array of non-strings, or text that plainly tries to be one
/// (`["a", 'b']`), is an error rather than a surprising shell command.
fn maybe_json(args: &str) -> Result<Option<Vec<String>>, String> {
    let args = args.trim();
    if !args.starts_with('[') {
        return Ok(None);
    }
    match serde_json::from_str::<serde_json::Value>(args) {
        Ok(serde_json::Value::Array(items)) => items
            .into_iter()
            .map(|v| match v {
                serde_json::Value::String(s) => Ok(s),
                other => Err(format!(
                    "bad JSON array in exec form: element {other} is not a string (arrays must be comprised of strings only)"
                )),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Ok(_) => Ok(None),
        Err(e) => {
            let attempt = args.starts_with("[\"") || args.starts_with("['");
            if attempt {
                Err(format!(
                    "bad JSON array in exec form: {e}; write [\"executable\", \"param\"] with double quotes, or drop the brackets for shell form"
                ))
            } else {
                // `RUN [ -f x ] && ...` is a legitimate shell command.
                Ok(None)
            }
        }
    }
}

fn command_line(keyword: &str, args: &str) -> Result<CommandLine, String> {
    match maybe_json(args)? {
        Some(v) => Ok(CommandLine::Exec(v)),
        None if args.trim().is_empty() => Err(format!("{keyword} requires at least one argument")),
        None => Ok(CommandLine::Shell(args.trim().to_string())),
    }
}

/// COPY/ADD/VOLUME: a JSON array, or whitespace-separated words.
fn json_or_words(keyword: &str, args: &str) -> Result<Vec<String>, String> {
    let _ = keyword;
    Ok(match maybe_json(args)? {
        Some(v) => v,
        None => split_whitespace(args),
    })
}

fn single_value(keyword: &str, args: &str, escape: char) -> Result<String, String> {
    let value = args.trim();
    if value.is_empty() {
        return Err(format!("{keyword} requires exactly one argument"));
    }
    checked(keyword, value, escape)?;
    Ok(value.to_string())
}

fn parse_from(flag_words: &[String], args: &str, escape: char) -> Result<Kind, String> {
    let flags = Flags::parse("FROM", flag_words, FROM_FLAGS)?;
    let words = split_whitespace(args);
    let alias = match words.as_slice() {
        [_] => None,
        [_, as_kw, name] if as_kw.eq_ignore_ascii_case("as") => {
            let lower = name.to_ascii_lowercase();
            if !valid_stage_name(&lower) {
                return Err(format!(
                    "invalid name for build stage: {}, name can't start with a number or contain symbols",
                    quote(name)
                ));
            }
            Some(lower)
        }
        [] => {
            return Err(
                "FROM requires either one or three arguments (FROM image [AS name])".into(),
            );
        }
        _ => {
            return Err(
                "FROM requires either one or three arguments (FROM image [AS name])".into(),
            );
        }
    };
    let image = words[0].clone();
    checked("FROM", &image, escape)?;
    let platform = flags.text("platform");
    if let Some(p) = &platform {
        checked("FROM --platform", p, escape)?;
    }
    Ok(Kind::From(From {
        image,
        platform,
        alias,
    }))
}

fn parse_run(flag_words: &[String], args: &str, heredocs: &[Heredoc]) -> Result<Kind, String> {
    let flags = Flags::parse("RUN", flag_words, RUN_FLAGS)?;
    let mounts = flags
        .list("mount")
        .iter()
        .map(|m| parse_mount(m).map_err(|e| format!("RUN --mount: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let network = flags.text("network");
    if let Some(n) = network.as_deref().filter(|n| !n.contains('$'))
        && !matches!(n, "default" | "none" | "host")
    {
        return Err(format!(
            "RUN --network={}: expected default, none or host",
            shorten(n, QUOTE_CHARS)
        ));
    }
    let security = flags.text("security");
    if let Some(s) = security.as_deref().filter(|s| !s.contains('$'))
        && !matches!(s, "sandbox" | "insecure")
    {
        return Err(format!(
            "RUN --security={}: expected sandbox or insecure",
            shorten(s, QUOTE_CHARS)
        ));
    }
    let command = command_line("RUN", args)?;
    Ok(Kind::Run(Run {
        command,
        heredocs: heredocs.to_vec(),
        mounts,
        network,
        security,
    }))
}

/// ENV and LABEL: `k=v k2="v 2"` or the legacy `k v with spaces`.
fn parse_name_values(keyword: &str, args: &str, escape: char) -> Result<Vec<KeyValue>, String> {
    let words = parse_words(args, escape);
    if words.is_empty() {
        return Err(format!("{keyword} requires at least one argument"));
    }
    let mut pairs = Vec::new();
    if !words[0].contains('=') {
        // Legacy form: the first word is the key, the rest of the line
        // (whitespace and all) the value.
        let args = args.trim();
        let split = args.find(char::is_whitespace);
        let Some(split) = split else {
            return Err(format!(
                "{keyword} must have two arguments (or use {keyword} key=value)"
            ));
        };
        pairs.push(KeyValue {
            key: args[..split].to_string(),
            value: args[split..].trim_start().to_string(),
        });
    } else {
        for word in &words {
            let Some((key, value)) = word.split_once('=') else {
                return Err(format!(
                    "syntax error - can't find = in {}. Must be of the form: name=value",
                    quote(word)
                ));
            };
            pairs.push(KeyValue {
                key: key.to_string(),
                value: value.to_string(),
            });
        }
    }
    for p in &pairs {
        if p.key.is_empty() {
            return Err(format!("{keyword} names can not be blank"));
        }
        checked(keyword, &p.key, escape)?;
        checked(keyword, &p.value, escape)?;
    }
    Ok(pairs)
}

fn parse_arg(args: &str, escape: char) -> Result<Kind, String> {
    let words = parse_words(args, escape);
    if words.is_empty() {
        return Err("ARG requires at least one argument".into());
    }
    let mut decls = Vec::new();
    for word in words {
        let (name, default) = match word.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (word, None),
        };
        if name.is_empty() {
            return Err("ARG names can not be blank".into());
        }
        if let Some(d) = &default {
            checked("ARG", d, escape)?;
        }
        decls.push(ArgDecl { name, default });
    }
    Ok(Kind::Arg { args: decls })
}

/// Sources and destination of COPY/ADD, with `<<NAME` sources replaced by
/// the matching here-document.
fn sources_and_dest(
    keyword: &str,
    args: &str,
    heredocs: &[Heredoc],
    escape: char,
) -> Result<(Vec<CopySource>, String), String> {
    let words = json_or_words(keyword, args)?;
    if words.len() < 2 {
        return Err(format!(
            "{keyword} requires at least two arguments, but only {} provided: destination could not be determined",
            if words.is_empty() {
                "none was".to_string()
            } else {
                "one was".to_string()
            }
        ));
    }
    let dest = words[words.len() - 1].clone();
    if parse_marker(&dest).is_some() && !heredocs.is_empty() {
        return Err(format!(
            "{keyword} cannot accept a heredoc as a destination"
        ));
    }
    checked(keyword, &dest, escape)?;
    let mut sources = Vec::new();
    for word in &words[..words.len() - 1] {
        let doc = parse_marker(word).and_then(|m| heredocs.iter().find(|h| h.name == m.name));
        match doc {
            Some(h) => sources.push(CopySource::Heredoc(h.clone())),
            None => {
                checked(keyword, word, escape)?;
                sources.push(CopySource::Path(word.clone()));
            }
        }
    }
    Ok((sources, dest))
}

/// `--chmod=0755` (octal) or symbolic `u=rwX,go=rX`.
fn validate_chmod(mode: &str) -> Result<(), String> {
    if mode.contains('$') {
        return Ok(());
    }
    if mode.chars().all(|c| c.is_ascii_digit()) {
        return match u32::from_str_radix(mode, 8) {
            Ok(v) if v <= 0o7777 => Ok(()),
            _ => Err(format!(
                "invalid --chmod={}: not an octal mode up to 7777",
                shorten(mode, QUOTE_CHARS)
            )),
        };
    }
    let clause_ok = |clause: &str| {
        let who_len = clause
            .find(|c: char| !"ugoa".contains(c))
            .unwrap_or(clause.len());
        let rest = &clause[who_len..];
        !rest.is_empty()
            && rest.starts_with(['+', '-', '='])
            && rest[1..].chars().all(|c| "rwxXst+-=".contains(c))
    };
    if mode.split(',').all(clause_ok) {
        Ok(())
    } else {
        Err(format!(
            "invalid --chmod={}: expected octal (0755) or symbolic (u=rwX,go=rX)",
            shorten(mode, QUOTE_CHARS)
        ))
    }
}

fn validate_checksum(sum: &str) -> Result<(), String> {
    if sum.contains('$') {
        return Ok(());
    }
    let hex = |s: &str, n: usize| s.len() == n && s.chars().all(|c| c.is_ascii_hexdigit());
    let ok = match sum.split_once(':') {
        Some(("sha256", h)) => hex(h, 64),
        Some(("sha384", h)) => hex(h, 96),
        Some(("sha512", h)) => hex(h, 128),
        Some(_) => false,
        // A git commit (for git sources).
        None => hex(sum, 40) || hex(sum, 64),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid --checksum={}: expected sha256:<64 hex digits> (or sha384/sha512, or a git commit)",
            shorten(sum, QUOTE_CHARS)
        ))
    }
}

fn check_flag_texts(
    keyword: &str,
    flags: &Flags,
    names: &[&str],
    escape: char,
) -> Result<(), String> {
    for n in names {
        if let Some(v) = flags.text(n) {
            checked(&format!("{keyword} --{n}"), &v, escape)?;
        }
    }
    for v in flags.list("exclude") {
        checked(&format!("{keyword} --exclude"), &v, escape)?;
    }
    Ok(())
}

fn parse_copy(
    flag_words: &[String],
    args: &str,
    heredocs: &[Heredoc],
    escape: char,
) -> Result<Kind, String> {
    let flags = Flags::parse("COPY", flag_words, COPY_FLAGS)?;
    check_flag_texts("COPY", &flags, &["from", "chown", "chmod"], escape)?;
    let (sources, dest) = sources_and_dest("COPY", args, heredocs, escape)?;
    if let Some(m) = flags.text("chmod") {
        validate_chmod(&m)?;
    }
    if flags.text("from").is_some_and(|f| f.is_empty()) {
        return Err("COPY --from needs a stage name, stage index or image".into());
    }
    Ok(Kind::Copy(Copy {
        sources,
        dest,
        from: flags.text("from"),
        chown: flags.text("chown"),
        chmod: flags.text("chmod"),
        link: flags.bool("link"),
        parents: flags.bool("parents"),
        excludes: flags.list("exclude"),
    }))
}

fn parse_add(
    flag_words: &[String],
    args: &str,
    heredocs: &[Heredoc],
    escape: char,
) -> Result<Kind, String> {
    let flags = Flags::parse("ADD", flag_words, ADD_FLAGS)?;
    check_flag_texts("ADD", &flags, &["chown", "chmod", "checksum"], escape)?;
    let (sources, dest) = sources_and_dest("ADD", args, heredocs, escape)?;
    if let Some(m) = flags.text("chmod") {
        validate_chmod(&m)?;
    }
    if let Some(c) = flags.text("checksum") {
        validate_checksum(&c)?;
    }
    Ok(Kind::Add(Add {
        sources,
        dest,
        chown: flags.text("chown"),
        chmod: flags.text("chmod"),
        link: flags.bool("link"),
        keep_git_dir: flags.bool("keep-git-dir"),
        checksum: flags.text("checksum"),
        excludes: flags.list("exclude"),
        unpack: flags.tristate("unpack"),
    }))
}

fn parse_healthcheck(flag_words: &[String], args: &str) -> Result<Kind, String> {
    let (kind, rest) = split_keyword(args);
    match kind.to_ascii_uppercase().as_str() {
        "NONE" => {
            if !flag_words.is_empty() {
                return Err("HEALTHCHECK NONE takes no flags".into());
            }
            if !rest.is_empty() {
                return Err("HEALTHCHECK NONE takes no arguments".into());
            }
            Ok(Kind::Healthcheck(Healthcheck {
                disable: true,
                test: None,
                interval_ns: None,
                timeout_ns: None,
                start_period_ns: None,
                start_interval_ns: None,
                retries: None,
            }))
        }
        "CMD" => {
            let flags = Flags::parse("HEALTHCHECK", flag_words, HEALTHCHECK_FLAGS)?;
            let test = match maybe_json(rest)? {
                Some(v) if v.is_empty() => {
                    return Err("missing command after HEALTHCHECK CMD".into());
                }
                Some(v) => CommandLine::Exec(v),
                None if rest.trim().is_empty() => {
                    return Err("missing command after HEALTHCHECK CMD".into());
                }
                None => CommandLine::Shell(rest.trim().to_string()),
            };
            let interval = |name: &str| -> Result<Option<u64>, String> {
                flags
                    .text(name)
                    .map(|v| parse_interval(name, &v))
                    .transpose()
            };
            let retries = match flags.text("retries") {
                None => None,
                Some(r) => Some(r.parse::<u32>().map_err(|_| {
                    format!(
                        "--retries={}: expected a non-negative integer",
                        shorten(&r, QUOTE_CHARS)
                    )
                })?),
            };
            Ok(Kind::Healthcheck(Healthcheck {
                disable: false,
                test: Some(test),
                interval_ns: interval("interval")?,
                timeout_ns: interval("timeout")?,
                start_period_ns: interval("start-period")?,
                start_interval_ns: interval("start-interval")?,
                retries,
            }))
        }
        "" => Err("HEALTHCHECK requires at least one argument (CMD ... or NONE)".into()),
        other => Err(format!(
            "unknown type {} in HEALTHCHECK (try CMD or NONE)",
            quote(other)
        )),
    }
}

fn parse_onbuild(
    flag_words: &[String],
    args: &str,
    heredocs: &[Heredoc],
    escape: char,
) -> Result<Kind, String> {
    Flags::parse("ONBUILD", flag_words, &[])?;
    let expression = args.trim();
    if expression.is_empty() {
        return Err("ONBUILD requires at least one argument".into());
    }
    let (nested, _) = split_keyword(expression);
    let nested = nested.to_ascii_uppercase();
    match nested.as_str() {
        "ONBUILD" => return Err("chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".into()),
        "FROM" | "MAINTAINER" => {
            return Err(format!("{nested} isn't allowed as an ONBUILD trigger"));
        }
        _ => {}
    }
    let kind =
        parse_kind(expression, heredocs, escape).map_err(|e| format!("ONBUILD trigger: {e}"))?;
    let mut stored = expression.to_string();
    for h in heredocs {
        stored.push('\n');
        stored.push_str(&h.content);
        stored.push_str(&h.name);
    }
    Ok(Kind::Onbuild {
        expression: stored,
        trigger: Box::new(Instruction {
            line: 0,
            end_line: 0,
            original: expression.to_string(),
            kind,
        }),
    })
}
