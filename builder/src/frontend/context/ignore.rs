//! `.dockerignore` with Docker's semantics, which are not gitignore's:
//! patterns are anchored at the context root (`*.md` matches only at the
//! top), `**` spans directories, `!` re-includes, the last matching line
//! wins, and a pattern matching a directory excludes everything under it.
//! `<Dockerfile>.dockerignore` next to the Dockerfile takes precedence
//! over `<context>/.dockerignore`.

use crate::frontend::glob::{CharTest, Glob, Piece};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
struct Rule {
    /// `!pattern`: a match re-includes.
    exception: bool,
    /// The cleaned pattern text, for diagnostics.
    text: String,
    matcher: Matcher,
}

/// Docker picks a matching strategy per pattern, and the shortcuts are
/// observable: a pattern without wildcards is compared *literally*
/// (backslashes included), a leading `**` followed by plain text is a
/// suffix test (`**foo` matches `xfoo`), a plain prefix followed by a
/// final `**` is a prefix test. Everything else is a glob.
#[derive(Debug, Clone)]
enum Matcher {
    Exact(String),
    Prefix(String),
    Suffix(String),
    Glob(Glob),
}

impl Matcher {
    fn matches(&self, path: &str) -> bool {
        match self {
            Matcher::Exact(p) => path == p,
            Matcher::Prefix(p) => path.starts_with(p.as_str()),
            Matcher::Suffix(s) => {
                path.ends_with(s.as_str()) || s.strip_prefix('/').is_some_and(|rest| path == rest)
            }
            Matcher::Glob(g) => g.matches(path),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum MatchKind {
    Exact,
    Prefix,
    Suffix,
    Glob,
}

/// Docker's choice of strategy for a cleaned pattern (see `Matcher`).
fn match_kind(pattern: &str) -> MatchKind {
    let chars: Vec<char> = pattern.chars().collect();
    let mut kind = MatchKind::Exact;
    let mut i = 0;
    while i < chars.len() {
        let start = i;
        let c = chars[i];
        i += 1;
        match c {
            '*' if chars.get(i) == Some(&'*') => {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                kind = if i == chars.len() && kind == MatchKind::Exact {
                    MatchKind::Prefix
                } else {
                    MatchKind::Glob
                };
                if start == 0 {
                    kind = MatchKind::Suffix;
                }
            }
            '*' | '?' | '[' | ']' => kind = MatchKind::Glob,
            '\\' => i += 1,
            _ => {}
        }
    }
    kind
}

#[derive(Debug, Clone, Default)]
pub struct IgnoreRules {
    rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoreError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for IgnoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

impl std::error::Error for IgnoreError {}

/// Go's `filepath.Clean` for `/`-separated paths: collapse `//`, drop `.`,
/// resolve `..` lexically; `""` becomes `.`.
pub fn clean_path(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// Translates a cleaned pattern to glob pieces: `*` and `?` stay within one
/// path component, `**/` spans zero or more directories, a trailing `**`
/// matches anything, `[...]` is a class (`^` negates), `\` escapes.
fn compile(pattern: &str) -> Result<Vec<Piece>, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut pieces = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' if chars.get(i) == Some(&'*') => {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i == chars.len() {
                    pieces.push(Piece::Many(CharTest::Any));
                } else {
                    pieces.push(Piece::DirPrefix);
                }
            }
            '*' => pieces.push(Piece::Many(CharTest::AnyExcept('/'))),
            '?' => pieces.push(Piece::One(CharTest::AnyExcept('/'))),
            '\\' => match chars.get(i) {
                Some(&n) => {
                    i += 1;
                    pieces.push(Piece::One(CharTest::Literal(n)));
                }
                None => pieces.push(Piece::One(CharTest::Literal('\\'))),
            },
            '[' => {
                let negated = chars.get(i) == Some(&'^');
                if negated {
                    i += 1;
                }
                let mut ranges = Vec::new();
                let mut closed = false;
                let mut first = true;
                while i < chars.len() {
                    let mut lo = chars[i];
                    i += 1;
                    if lo == ']' && !first {
                        closed = true;
                        break;
                    }
                    first = false;
                    if lo == '\\' {
                        lo = *chars
                            .get(i)
                            .ok_or("syntax error in pattern: unterminated [")?;
                        i += 1;
                    }
                    let mut hi = lo;
                    if chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|c| *c != ']') {
                        hi = chars[i + 1];
                        i += 2;
                        if hi == '\\' {
                            hi = *chars
                                .get(i)
                                .ok_or("syntax error in pattern: unterminated [")?;
                            i += 1;
                        }
                        if hi < lo {
                            return Err(format!("syntax error in pattern: bad range {lo}-{hi}"));
                        }
                    }
                    ranges.push((lo, hi));
                }
                if !closed {
                    return Err("syntax error in pattern: unterminated [".into());
                }
                pieces.push(Piece::One(CharTest::Class { negated, ranges }));
            }
            _ => pieces.push(Piece::One(CharTest::Literal(c))),
        }
    }
    Ok(pieces)
}

impl IgnoreRules {
    /// Parses `.dockerignore` text. `file` names it in errors.
    pub fn parse(content: &str, file: &str) -> Result<IgnoreRules, IgnoreError> {
        let content = content.strip_prefix('\u{feff}').unwrap_or(content);
        let mut rules = Vec::new();
        for (n, raw) in content.lines().enumerate() {
            // `#` only starts a comment in column 1.
            if raw.starts_with('#') {
                continue;
            }
            let mut pattern = raw.trim();
            if pattern.is_empty() {
                continue;
            }
            let exception = pattern.starts_with('!');
            if exception {
                pattern = pattern[1..].trim();
                if pattern.is_empty() {
                    return Err(IgnoreError {
                        file: file.to_string(),
                        line: n + 1,
                        message: "illegal exclusion pattern: \"!\"".into(),
                    });
                }
            }
            let mut cleaned = clean_path(pattern);
            if cleaned.len() > 1 && cleaned.starts_with('/') {
                cleaned.remove(0);
            }
            // `.` (and `/`) would match the whole context; Docker ignores it.
            if cleaned == "." || cleaned == "/" {
                continue;
            }
            // Compiled even when a shortcut is used, so bad syntax (`[`)
            // is always reported.
            let pieces = compile(&cleaned).map_err(|message| IgnoreError {
                file: file.to_string(),
                line: n + 1,
                message: format!("{message} in {raw:?}"),
            })?;
            let matcher = match match_kind(&cleaned) {
                MatchKind::Exact => Matcher::Exact(cleaned.clone()),
                MatchKind::Prefix => Matcher::Prefix(cleaned[..cleaned.len() - 2].to_string()),
                MatchKind::Suffix => Matcher::Suffix(cleaned[2..].to_string()),
                MatchKind::Glob => Matcher::Glob(Glob::new(&pieces)),
            };
            rules.push(Rule {
                exception,
                text: cleaned,
                matcher,
            });
        }
        Ok(IgnoreRules { rules })
    }

    /// Whether a context-relative path (`/`-separated) is excluded: each
    /// rule is tried on the path and on each of its parent directories; the
    /// last rule that matches decides.
    pub fn is_excluded(&self, path: &str) -> bool {
        let path = clean_path(path.trim_start_matches('/'));
        let parents: Vec<&str> = path
            .char_indices()
            .filter(|(_, c)| *c == '/')
            .map(|(i, _)| &path[..i])
            .collect();
        let mut excluded = false;
        for rule in &self.rules {
            // A rule can only flip the current state.
            if rule.exception != excluded {
                continue;
            }
            let hit =
                rule.matcher.matches(&path) || parents.iter().any(|p| rule.matcher.matches(p));
            if hit {
                excluded = !rule.exception;
            }
        }
        excluded
    }

    /// With exceptions present, an excluded directory must still be walked
    /// because a later `!dir/file` can re-include something inside it.
    pub fn has_exceptions(&self) -> bool {
        self.rules.iter().any(|r| r.exception)
    }

    pub fn patterns(&self) -> Vec<String> {
        self.rules
            .iter()
            .map(|r| {
                if r.exception {
                    format!("!{}", r.text)
                } else {
                    r.text.clone()
                }
            })
            .collect()
    }
}

/// Which ignore file applies: `<dockerfile>.dockerignore` next to the
/// Dockerfile if it exists, else `<context>/.dockerignore`, else none.
pub fn ignore_file_for(context: &Path, dockerfile: &Path) -> Option<PathBuf> {
    if let Some(name) = dockerfile.file_name() {
        let mut specific = name.to_os_string();
        specific.push(".dockerignore");
        let candidate = dockerfile.with_file_name(specific);
        if candidate.is_file() {
            return Some(candidate);
        }
    }
    let default = context.join(".dockerignore");
    default.is_file().then_some(default)
}

/// Loads the rules that apply to a build (empty rules when no file).
pub fn load(
    context: &Path,
    dockerfile: &Path,
) -> Result<(IgnoreRules, Option<PathBuf>), IgnoreError> {
    let Some(path) = ignore_file_for(context, dockerfile) else {
        return Ok((IgnoreRules::default(), None));
    };
    let shown = path.display().to_string();
    let content = std::fs::read_to_string(&path).map_err(|e| IgnoreError {
        file: shown.clone(),
        line: 0,
        message: format!("cannot read: {e}"),
    })?;
    let rules = IgnoreRules::parse(&content, &shown)?;
    Ok((rules, Some(path)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> IgnoreRules {
        IgnoreRules::parse(text, ".dockerignore").unwrap()
    }

    #[test]
    fn clean_path_like_go() {
        assert_eq!(clean_path("a//b/./c/"), "a/b/c");
        assert_eq!(clean_path("a/../../b"), "../b");
        assert_eq!(clean_path("/../a"), "/a");
        assert_eq!(clean_path(""), ".");
        assert_eq!(clean_path("./"), ".");
    }

    #[test]
    fn patterns_are_anchored_at_the_root() {
        let r = rules("*.md\n");
        assert!(r.is_excluded("README.md"));
        assert!(!r.is_excluded("docs/guide.md"));
    }

    #[test]
    fn double_star_spans_directories() {
        let r = rules("**/*.md\n");
        assert!(r.is_excluded("README.md"));
        assert!(r.is_excluded("docs/a/b/guide.md"));
        assert!(!r.is_excluded("docs/guide.txt"));
        let r = rules("docs/**\n");
        assert!(r.is_excluded("docs/a/b"));
        let r = rules("a/**/z\n");
        assert!(r.is_excluded("a/z"));
        assert!(r.is_excluded("a/b/c/z"));
        assert!(!r.is_excluded("a/bz"));
    }

    #[test]
    fn star_does_not_cross_slash() {
        let r = rules("src/*.o\n");
        assert!(r.is_excluded("src/a.o"));
        assert!(!r.is_excluded("src/sub/a.o"));
        let r = rules("?.txt\n");
        assert!(r.is_excluded("a.txt"));
        assert!(!r.is_excluded("ab.txt"));
    }

    #[test]
    fn leading_slash_and_cleaning() {
        let r = rules("/build/\n./tmp//x\n");
        assert!(r.is_excluded("build/out.bin"));
        assert!(r.is_excluded("tmp/x"));
        assert_eq!(r.patterns(), vec!["build", "tmp/x"]);
    }

    #[test]
    fn directory_match_excludes_children() {
        let r = rules("node_modules\n");
        assert!(r.is_excluded("node_modules"));
        assert!(r.is_excluded("node_modules/x/y.js"));
        assert!(!r.is_excluded("src/node_modules"));
    }

    #[test]
    fn exceptions_and_last_match_wins() {
        let r = rules("*.md\n!README.md\n");
        assert!(r.is_excluded("CHANGES.md"));
        assert!(!r.is_excluded("README.md"));
        // Order matters: a later exclusion wins over an earlier exception.
        let r = rules("!README.md\n*.md\n");
        assert!(r.is_excluded("README.md"));
    }

    #[test]
    fn excluded_directory_with_reincluded_file() {
        let r = rules("docs\n!docs/keep.txt\n");
        assert!(r.is_excluded("docs/other.txt"));
        assert!(!r.is_excluded("docs/keep.txt"));
        assert!(r.has_exceptions());
    }

    #[test]
    fn comments_only_in_column_one() {
        let r = rules("# comment\n #notcomment\n");
        assert!(r.is_excluded("#notcomment"));
        assert!(!r.is_excluded("# comment"));
    }

    #[test]
    fn dot_pattern_is_ignored_and_bang_alone_is_an_error() {
        let r = rules(".\n");
        assert!(!r.is_excluded("anything"));
        let e = IgnoreRules::parse("a\n!\n", ".dockerignore").unwrap_err();
        assert_eq!(e.line, 2);
    }

    #[test]
    fn character_classes_and_escapes() {
        let r = rules("file[0-9].txt\nx[^a].y\nlit\\*x?\n");
        assert!(r.is_excluded("file3.txt"));
        assert!(!r.is_excluded("fileA.txt"));
        assert!(r.is_excluded("xb.y"));
        assert!(!r.is_excluded("xa.y"));
        assert!(r.is_excluded("lit*xy"));
        assert!(!r.is_excluded("litaxy"));
        let e = IgnoreRules::parse("bad[\n", ".dockerignore").unwrap_err();
        assert!(e.message.contains("unterminated"), "{}", e.message);
    }

    #[test]
    fn docker_matching_shortcuts() {
        // No wildcard: a literal comparison, backslash included.
        let r = rules("lit\\*\n");
        assert!(r.is_excluded("lit\\*"));
        assert!(!r.is_excluded("lit*"));
        // Leading `**` then plain text: a suffix test.
        let r = rules("**foo\n");
        assert!(r.is_excluded("xfoo"));
        assert!(r.is_excluded("a/bfoo"));
        let r = rules("**/foo\n");
        assert!(r.is_excluded("foo"));
        assert!(r.is_excluded("a/foo"));
        assert!(!r.is_excluded("afoo"));
        // `**` alone matches everything.
        assert!(rules("**\n").is_excluded("any/thing"));
        // Plain prefix then `**`.
        let r = rules("build**\n");
        assert!(r.is_excluded("build-tools/x"));
    }

    #[test]
    fn dockerfile_specific_ignore_takes_precedence() {
        let dir = std::env::temp_dir().join(format!("rt-build-ignore-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join(".dockerignore"), "general\n").unwrap();
        let df = dir.join("sub/app.Dockerfile");
        std::fs::write(&df, "FROM scratch\n").unwrap();
        let (r, used) = load(&dir, &df).unwrap();
        assert_eq!(used, Some(dir.join(".dockerignore")));
        assert!(r.is_excluded("general"));
        std::fs::write(dir.join("sub/app.Dockerfile.dockerignore"), "specific\n").unwrap();
        let (r, used) = load(&dir, &df).unwrap();
        assert_eq!(used, Some(dir.join("sub/app.Dockerfile.dockerignore")));
        assert!(r.is_excluded("specific"));
        assert!(!r.is_excluded("general"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
