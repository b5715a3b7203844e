//! Instruction flags (`COPY --from=x --link`): each instruction declares the
//! flags it accepts; anything else is an error naming the instruction.

use super::error::{QUOTE_CHARS, quote, shorten};

use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagKind {
    /// `--link` or `--link=true|false`.
    Bool,
    /// `--from=x`, at most once.
    Text,
    /// `--mount=...`, repeatable.
    List,
}

pub type FlagSpec = (&'static str, FlagKind);

#[derive(Debug, Default)]
pub struct Flags {
    bools: BTreeMap<&'static str, bool>,
    texts: BTreeMap<&'static str, String>,
    lists: BTreeMap<&'static str, Vec<String>>,
}

impl Flags {
    pub fn parse(instruction: &str, words: &[String], specs: &[FlagSpec]) -> Result<Flags, String> {
        let mut flags = Flags::default();
        for word in words {
            let body = word.strip_prefix("--").unwrap_or(word);
            let (name, value) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (body, None),
            };
            let Some(&(spec_name, kind)) = specs.iter().find(|(n, _)| *n == name) else {
                let allowed: Vec<String> = specs.iter().map(|(n, _)| format!("--{n}")).collect();
                let hint = if allowed.is_empty() {
                    format!("{instruction} takes no flags")
                } else {
                    format!("{instruction} accepts {}", allowed.join(", "))
                };
                return Err(format!(
                    "unknown flag for {instruction}: --{} ({hint})",
                    shorten(name, QUOTE_CHARS)
                ));
            };
            match kind {
                FlagKind::Bool => {
                    let v = match value.map(|v| v.to_ascii_lowercase()) {
                        None => true,
                        Some(v) if v == "true" => true,
                        Some(v) if v == "false" => false,
                        Some(v) => {
                            return Err(format!(
                                "expecting boolean value for flag --{name}, not: {}",
                                quote(&v)
                            ));
                        }
                    };
                    flags.bools.insert(spec_name, v);
                }
                FlagKind::Text => {
                    let Some(v) = value else {
                        return Err(format!("missing a value on flag: --{name}"));
                    };
                    if flags.texts.insert(spec_name, v.to_string()).is_some() {
                        return Err(format!("duplicate flag specified: --{name}"));
                    }
                }
                FlagKind::List => {
                    let Some(v) = value else {
                        return Err(format!("missing a value on flag: --{name}"));
                    };
                    flags
                        .lists
                        .entry(spec_name)
                        .or_default()
                        .push(v.to_string());
                }
            }
        }
        Ok(flags)
    }

    pub fn bool(&self, name: &str) -> bool {
        self.bools.get(name).copied().unwrap_or(false)
    }

    /// `Some(false)` for `--unpack=false`, `None` when the flag is absent.
    pub fn tristate(&self, name: &str) -> Option<bool> {
        self.bools.get(name).copied()
    }

    pub fn text(&self, name: &str) -> Option<String> {
        self.texts.get(name).cloned()
    }

    pub fn list(&self, name: &str) -> Vec<String> {
        self.lists.get(name).cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECS: &[FlagSpec] = &[
        ("from", FlagKind::Text),
        ("link", FlagKind::Bool),
        ("exclude", FlagKind::List),
    ];

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn all_kinds_parse() {
        let f = Flags::parse(
            "COPY",
            &words(&["--from=a", "--link", "--exclude=*.md", "--exclude=x"]),
            SPECS,
        )
        .unwrap();
        assert_eq!(f.text("from").as_deref(), Some("a"));
        assert!(f.bool("link"));
        assert_eq!(f.list("exclude"), vec!["*.md", "x"]);
    }

    #[test]
    fn bool_false_and_absent() {
        let f = Flags::parse("COPY", &words(&["--link=false"]), SPECS).unwrap();
        assert_eq!(f.tristate("link"), Some(false));
        let f = Flags::parse("COPY", &[], SPECS).unwrap();
        assert_eq!(f.tristate("link"), None);
    }

    #[test]
    fn unknown_flag_names_instruction_and_allowed_flags() {
        let e = Flags::parse("COPY", &words(&["--form=a"]), SPECS).unwrap_err();
        assert!(e.contains("unknown flag for COPY: --form"), "{e}");
        assert!(e.contains("--from"), "{e}");
    }

    #[test]
    fn text_flag_errors() {
        let e = Flags::parse("COPY", &words(&["--from"]), SPECS).unwrap_err();
        assert!(e.contains("missing a value"), "{e}");
        let e = Flags::parse("COPY", &words(&["--from=a", "--from=b"]), SPECS).unwrap_err();
        assert!(e.contains("duplicate flag"), "{e}");
        let e = Flags::parse("COPY", &words(&["--link=maybe"]), SPECS).unwrap_err();
        assert!(e.contains("boolean"), "{e}");
    }
}
