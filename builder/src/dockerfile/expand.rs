//! Variable substitution in Dockerfile words, with BuildKit's semantics:
//! `$v ${v} ${v:-w} ${v-w} ${v:+w} ${v+w} ${v:?m} ${v?m} ${v#p} ${v##p}
//! ${v%p} ${v%%p} ${v/p/r} ${v//p/r}`, quote removal (single quotes are
//! literal, double quotes allow `$` and escapes), and the escape character.
//!
//! One word in, one string out: the result is never split on whitespace,
//! so `COPY $SRC /dst` with `SRC="a b"` copies one file named `a b`.

use crate::glob::{CharTest, Glob, Piece};

/// Looks a variable up; `None` means unset (which differs from empty for
/// the colon-less operators).
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Substitutes variables in `word` and removes its quoting.
pub fn expand(word: &str, escape: char, lookup: Lookup) -> Result<String, String> {
    let mut lexer = Lexer {
        chars: word.chars().collect(),
        pos: 0,
        escape,
        lookup,
        raw_escapes: false,
        heredoc: false,
    };
    lexer.process(&[], false)
}

/// Substitutes variables in a here-document body (COPY/ADD with an
/// unquoted delimiter). Quotes are ordinary text there, and the escape
/// character only escapes `$` and itself, like in a shell here-document.
pub fn expand_heredoc(body: &str, escape: char, lookup: Lookup) -> Result<String, String> {
    let mut lexer = Lexer {
        chars: body.chars().collect(),
        pos: 0,
        escape,
        lookup,
        raw_escapes: false,
        heredoc: true,
    };
    lexer.process(&[], false)
}

/// Checks the substitution syntax of a word without knowing any values,
/// so `${` mistakes are reported at parse time with their line.
pub fn check_syntax(word: &str, escape: char) -> Result<(), String> {
    // Every variable "set and non-empty" so `${v:?}` does not fire here.
    expand(word, escape, &|_| Some("x".to_string())).map(|_| ())
}

struct Lexer<'a> {
    chars: Vec<char>,
    pos: usize,
    escape: char,
    lookup: Lookup<'a>,
    /// Keep escape characters in the output (patterns need them).
    raw_escapes: bool,
    /// Here-document mode: no quote removal, escapes only before `$`.
    heredoc: bool,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    fn lookup(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
    }

    /// Processes until one of `stops` (consumed) or the end of the word.
    fn process(&mut self, stops: &[char], raw_escapes: bool) -> Result<String, String> {
        let saved = self.raw_escapes;
        self.raw_escapes = saved || raw_escapes;
        let result = self.process_inner(stops);
        self.raw_escapes = saved;
        result
    }

    fn process_inner(&mut self, stops: &[char]) -> Result<String, String> {
        let mut out = String::new();
        while let Some(c) = self.peek() {
            if stops.contains(&c) {
                self.next();
                return Ok(out);
            }
            match c {
                '\'' if !self.heredoc => out.push_str(&self.single_quote()?),
                '"' if !self.heredoc => out.push_str(&self.double_quote()?),
                '$' => out.push_str(&self.dollar()?),
                _ if self.heredoc && c == self.escape => {
                    self.next();
                    match self.peek() {
                        Some(n) if n == '$' || n == self.escape => {
                            self.next();
                            out.push(n);
                        }
                        _ => out.push(c),
                    }
                }
                _ => {
                    self.next();
                    if c == self.escape {
                        if self.raw_escapes {
                            out.push(c);
                        }
                        match self.next() {
                            Some(n) => out.push(n),
                            None => break,
                        }
                    } else {
                        out.push(c);
                    }
                }
            }
        }
        match stops.first() {
            Some(s) => Err(format!(
                "unexpected end of statement while looking for matching {s}"
            )),
            None => Ok(out),
        }
    }

    fn single_quote(&mut self) -> Result<String, String> {
        self.next();
        let mut out = String::new();
        loop {
            match self.next() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching single-quote"
                            .into(),
                    );
                }
                Some('\'') => return Ok(out),
                Some(c) => out.push(c),
            }
        }
    }

    fn double_quote(&mut self) -> Result<String, String> {
        self.next();
        let mut out = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching double-quote"
                            .into(),
                    );
                }
                Some('"') => {
                    self.next();
                    return Ok(out);
                }
                Some('$') => out.push_str(&self.dollar()?),
                Some(c) => {
                    self.next();
                    if c != self.escape {
                        out.push(c);
                        continue;
                    }
                    // Inside double quotes the escape only escapes `"`, `$`
                    // and itself; elsewhere it stays literal.
                    let escapable =
                        matches!(self.peek(), Some(n) if n == '"' || n == '$' || n == self.escape);
                    if self.raw_escapes || !escapable {
                        out.push(c);
                    }
                    if escapable {
                        out.push(self.next().expect("peeked"));
                    }
                }
            }
        }
    }

    /// A variable name: letters/digits/`_`, or all digits (`$1`), or one
    /// special parameter character (`$@`, `$#`, ...).
    fn name(&mut self) -> String {
        let mut name = String::new();
        match self.peek() {
            Some(c) if c.is_ascii_digit() => {
                while let Some(d) = self.peek().filter(char::is_ascii_digit) {
                    self.next();
                    name.push(d);
                }
                return name;
            }
            Some(c) if "@*#?-$!".contains(c) => {
                self.next();
                name.push(c);
                return name;
            }
            _ => {}
        }
        while let Some(c) = self.peek().filter(|c| c.is_alphanumeric() || *c == '_') {
            self.next();
            name.push(c);
        }
        name
    }

    fn dollar(&mut self) -> Result<String, String> {
        self.next();
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".into());
            }
            return Ok(self.lookup(&name).unwrap_or_default());
        }
        self.next();
        match self.peek() {
            None => return Err("syntax error: missing '}'".into()),
            Some('{' | '}' | ':') => return Err("syntax error: bad substitution".into()),
            _ => {}
        }
        let name = self.name();
        if name.is_empty() {
            return Err("syntax error: bad substitution".into());
        }
        let missing_brace = || "syntax error: missing '}'".to_string();
        let mut op = self.next().ok_or_else(missing_brace)?;
        if op == '}' {
            return Ok(self.lookup(&name).unwrap_or_default());
        }
        let colon = op == ':';
        if colon {
            op = self.next().ok_or_else(missing_brace)?;
            if !matches!(op, '-' | '+' | '?') {
                return Err(format!("unsupported modifier (:{op}) in substitution"));
            }
        }
        match op {
            '-' | '+' | '?' | '#' | '%' => {
                let pattern_like = op == '#' || op == '%';
                let word = self.nested(&['}'], pattern_like)?;
                let value = self.lookup(&name);
                let set = value.is_some();
                let value = value.unwrap_or_default();
                let present = set && !(colon && value.is_empty());
                match op {
                    '-' => Ok(if present { value } else { word }),
                    '+' => Ok(if present { word } else { String::new() }),
                    '?' => {
                        if present {
                            return Ok(value);
                        }
                        let default = if set {
                            "is not allowed to be empty"
                        } else {
                            "is not allowed to be unset"
                        };
                        let message = if word.is_empty() { default } else { &word };
                        Err(format!("{name}: {message}"))
                    }
                    _ => {
                        let (greedy, pattern) = match word.strip_prefix(op) {
                            Some(rest) => (true, rest),
                            None => (false, word.as_str()),
                        };
                        let pieces = self.pattern(pattern)?;
                        Ok(if op == '#' {
                            trim_prefix(&pieces, &value, greedy)
                        } else {
                            trim_suffix(&pieces, &value, greedy)
                        })
                    }
                }
            }
            '/' => {
                let all = self.peek() == Some('/');
                if all {
                    self.next();
                }
                let pattern = self.nested(&['/'], true).map_err(|e| {
                    if self.peek().is_none() {
                        "syntax error: missing '/' in ${}".into()
                    } else {
                        e
                    }
                })?;
                let replacement = self.nested(&['}'], false)?;
                let pieces = self.pattern(&pattern)?;
                let value = self.lookup(&name).unwrap_or_default();
                Ok(replace(&pieces, &value, &replacement, all))
            }
            other => Err(format!("unsupported modifier ({other}) in substitution")),
        }
    }

    /// The word inside `${name<op>...}`, up to the closing stop character.
    fn nested(&mut self, stops: &[char], raw_escapes: bool) -> Result<String, String> {
        self.process(stops, raw_escapes).map_err(|e| {
            if self.peek().is_none()
                && e.starts_with("unexpected end of statement while looking for matching }")
            {
                "syntax error: missing '}'".into()
            } else {
                e
            }
        })
    }

    /// Shell pattern → glob pieces: `*`, `?`, escapes of `*`, `?`, the
    /// escape character, `}` and `/`; every other character is literal.
    fn pattern(&self, pattern: &str) -> Result<Vec<Piece>, String> {
        let mut pieces = Vec::new();
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '*' => pieces.push(Piece::Many(CharTest::Any)),
                '?' => pieces.push(Piece::One(CharTest::Any)),
                _ if c == self.escape => match chars.next() {
                    Some(n) if n == '*' || n == '?' || n == '}' || n == '/' || n == self.escape => {
                        pieces.push(Piece::One(CharTest::Literal(n)))
                    }
                    Some(n) => {
                        return Err(format!("invalid escape '{c}{n}' in pattern {pattern:?}"));
                    }
                    None => return Err(format!("invalid escape at end of pattern {pattern:?}")),
                },
                _ => pieces.push(Piece::One(CharTest::Literal(c))),
            }
        }
        Ok(pieces)
    }
}

/// Length of the shortest (or longest) prefix of `text` the pattern matches.
fn prefix_len(pieces: &[Piece], text: &[char], greedy: bool) -> Option<usize> {
    let hits = Glob::new(pieces).prefix_matches(text);
    let mut lens = hits
        .iter()
        .enumerate()
        .filter(|(_, hit)| **hit)
        .map(|(i, _)| i);
    if greedy {
        lens.next_back()
    } else {
        lens.next()
    }
}

fn trim_prefix(pieces: &[Piece], value: &str, greedy: bool) -> String {
    let chars: Vec<char> = value.chars().collect();
    match prefix_len(pieces, &chars, greedy) {
        Some(n) => chars[n..].iter().collect(),
        None => value.to_string(),
    }
}

/// Suffix trimming is prefix trimming of the reversed text with the
/// reversed pattern.
fn trim_suffix(pieces: &[Piece], value: &str, greedy: bool) -> String {
    let reversed_pattern: Vec<Piece> = pieces.iter().rev().cloned().collect();
    let reversed: Vec<char> = value.chars().rev().collect();
    match prefix_len(&reversed_pattern, &reversed, greedy) {
        Some(n) => {
            let chars: Vec<char> = value.chars().collect();
            chars[..chars.len() - n].iter().collect()
        }
        None => value.to_string(),
    }
}

/// `${v/p/r}` replaces the leftmost longest non-empty match; `${v//p/r}`
/// every non-overlapping one, scanning left to right.
fn replace(pieces: &[Piece], value: &str, replacement: &str, all: bool) -> String {
    let chars: Vec<char> = value.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let mut replaced = false;
    while i < chars.len() {
        if (!replaced || all)
            && let Some(n) = prefix_len(pieces, &chars[i..], true).filter(|n| *n > 0)
        {
            out.push_str(replacement);
            i += n;
            replaced = true;
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    fn x(word: &str) -> Result<String, String> {
        let e = env(&[
            ("v", "value"),
            ("empty", ""),
            ("path", "/usr/local/bin/tool.tar.gz"),
            ("sp", "a b"),
        ]);
        expand(word, '\\', &e)
    }

    #[test]
    fn plain_and_braced_variables() {
        assert_eq!(x("$v").unwrap(), "value");
        assert_eq!(x("${v}").unwrap(), "value");
        assert_eq!(x("pre-${v}-post").unwrap(), "pre-value-post");
        assert_eq!(x("$v.txt").unwrap(), "value.txt");
        assert_eq!(x("$unset").unwrap(), "");
        assert_eq!(x("a$").unwrap(), "a$");
        assert_eq!(x("$sp").unwrap(), "a b");
    }

    #[test]
    fn default_values_with_and_without_colon() {
        assert_eq!(x("${unset:-w}").unwrap(), "w");
        assert_eq!(x("${empty:-w}").unwrap(), "w");
        assert_eq!(x("${v:-w}").unwrap(), "value");
        assert_eq!(x("${unset-w}").unwrap(), "w");
        assert_eq!(x("${empty-w}").unwrap(), "");
        assert_eq!(x("${unset:-$v}").unwrap(), "value");
    }

    #[test]
    fn alternative_values() {
        assert_eq!(x("${v:+w}").unwrap(), "w");
        assert_eq!(x("${empty:+w}").unwrap(), "");
        assert_eq!(x("${unset:+w}").unwrap(), "");
        assert_eq!(x("${empty+w}").unwrap(), "w");
        assert_eq!(x("${unset+w}").unwrap(), "");
    }

    #[test]
    fn required_values() {
        assert_eq!(x("${v:?boom}").unwrap(), "value");
        assert_eq!(x("${unset:?need it}").unwrap_err(), "unset: need it");
        assert_eq!(
            x("${unset?}").unwrap_err(),
            "unset: is not allowed to be unset"
        );
        assert_eq!(
            x("${empty:?}").unwrap_err(),
            "empty: is not allowed to be empty"
        );
        assert_eq!(x("${empty?}").unwrap(), "");
    }

    #[test]
    fn prefix_and_suffix_trimming() {
        assert_eq!(x("${path#*/}").unwrap(), "usr/local/bin/tool.tar.gz");
        assert_eq!(x("${path##*/}").unwrap(), "tool.tar.gz");
        assert_eq!(x("${path%.*}").unwrap(), "/usr/local/bin/tool.tar");
        assert_eq!(x("${path%%.*}").unwrap(), "/usr/local/bin/tool");
        assert_eq!(x("${path#nomatch}").unwrap(), "/usr/local/bin/tool.tar.gz");
        assert_eq!(x("${v#?}").unwrap(), "alue");
        assert_eq!(x("${v%\\*}").unwrap(), "value");
    }

    #[test]
    fn replacement() {
        assert_eq!(x("${path/\\//:}").unwrap(), ":usr/local/bin/tool.tar.gz");
        assert_eq!(x("${path//\\//:}").unwrap(), ":usr:local:bin:tool.tar.gz");
        assert_eq!(x("${v/l*/L}").unwrap(), "vaL");
        assert_eq!(x("${v//a/}").unwrap(), "vlue");
        assert_eq!(x("${v//x/y}").unwrap(), "value");
        assert_eq!(x("${unset/a/b}").unwrap(), "");
        assert_eq!(x("${empty//*/y}").unwrap(), "");
    }

    #[test]
    fn quotes() {
        assert_eq!(x("'$v'").unwrap(), "$v");
        assert_eq!(x("\"$v\"").unwrap(), "value");
        assert_eq!(x("\"a  b\"").unwrap(), "a  b");
        assert_eq!(x("\"\\$v\"").unwrap(), "$v");
        assert_eq!(x("\"a\\nb\"").unwrap(), "a\\nb");
        assert_eq!(x("\"q\\\"q\"").unwrap(), "q\"q");
        assert_eq!(x("it's'").unwrap(), "its");
        assert_eq!(x("${unset:-\"a b\"}").unwrap(), "a b");
    }

    #[test]
    fn escapes() {
        assert_eq!(x("\\$v").unwrap(), "$v");
        assert_eq!(x("a\\ b").unwrap(), "a b");
        assert_eq!(x("\\'$v\\'").unwrap(), "'value'");
        assert_eq!(x("end\\").unwrap(), "end");
        let e = env(&[("v", "value")]);
        assert_eq!(expand("`$v", '`', &e).unwrap(), "$v");
        assert_eq!(expand("\\$v", '`', &e).unwrap(), "\\value");
    }

    #[test]
    fn syntax_errors() {
        assert_eq!(x("${v").unwrap_err(), "syntax error: missing '}'");
        assert_eq!(x("${").unwrap_err(), "syntax error: missing '}'");
        assert_eq!(x("${}").unwrap_err(), "syntax error: bad substitution");
        assert_eq!(x("${:-a}").unwrap_err(), "syntax error: bad substitution");
        assert_eq!(x("${v:-abc").unwrap_err(), "syntax error: missing '}'");
        assert!(
            x("${v:#a}")
                .unwrap_err()
                .contains("unsupported modifier (:#)")
        );
        assert!(
            x("${v^^}")
                .unwrap_err()
                .contains("unsupported modifier (^)")
        );
        assert!(x("'abc").unwrap_err().contains("single-quote"));
        assert!(x("\"abc").unwrap_err().contains("double-quote"));
        assert!(x("${v/abc}").unwrap_err().contains("missing '/'"));
        assert!(x("${v#\\a}").unwrap_err().contains("invalid escape"));
    }

    #[test]
    fn heredoc_bodies_keep_quotes_and_most_escapes() {
        let e = env(&[("v", "value")]);
        let out = expand_heredoc("echo \"$v\" '${v}' \\$v a\\nb\n", '\\', &e).unwrap();
        assert_eq!(out, "echo \"value\" 'value' $v a\\nb\n");
    }

    #[test]
    fn special_and_positional_names() {
        assert_eq!(x("$1x").unwrap(), "x");
        assert_eq!(x("${10}").unwrap(), "");
        assert_eq!(x("$@").unwrap(), "");
    }

    #[test]
    fn check_syntax_accepts_required_vars() {
        assert!(check_syntax("${x:?must be set}", '\\').is_ok());
        assert!(check_syntax("${x", '\\').is_err());
    }
}
