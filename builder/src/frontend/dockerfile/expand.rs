//! Variable substitution in Dockerfile words, with BuildKit's semantics:
//! `$v ${v} ${v:-w} ${v-w} ${v:+w} ${v+w} ${v:?m} ${v?m} ${v#p} ${v##p}
//! ${v%p} ${v%%p} ${v/p/r} ${v//p/r}`, quote removal (single quotes are
//! literal, double quotes allow `$` and escapes), and the escape character.
//!
//! One word in, one string out: the result is never split on whitespace,
//! so `COPY $SRC /dst` with `SRC="a b"` copies one file named `a b`.
//!
//! Hostile input is bounded four ways, each failing with an error rather
//! than a crash or a hang:
//! - `${` nesting is limited ([`MAX_DEPTH`]): the expander recurses once per
//!   level, and 20,000 levels would overflow the stack.
//! - each result is limited ([`Meter::max_word`]), checked *before* every
//!   append, so `ARG a2=${a1}${a1}` doubling 30 times fails at about 1 MiB
//!   instead of allocating gigabytes.
//! - pattern matching (`${v//p/r}` is quadratic in the value's length for
//!   some patterns) draws on a work budget shared by a whole build.
//! - the bytes of all ARG/ENV values, and of everything evaluation
//!   produces, have per-build budgets ([`MAX_STORED`], [`MAX_OUTPUT`]), so
//!   many words each under the word limit cannot add up without bound.

use super::error::quote;
use std::cell::Cell;

/// Deepest `${...}` nesting accepted. BuildKit has no limit, but real
/// Dockerfiles nest a few levels, and 100 levels of recursion fit the
/// 2 MiB stack of a test thread even in a debug build (tested).
pub const MAX_DEPTH: usize = 100;
/// Largest value one word may expand to.
pub const MAX_WORD: usize = 1 << 20;
/// Pattern-matching steps (one step = one pattern position tried against
/// one character) a [`Meter`] allows: a fraction of a second of work.
pub const MAX_MATCH_WORK: u64 = 1 << 27;

/// Bytes of ARG and ENV values one build may hold, all together.
pub const MAX_STORED: usize = 64 << 20;
/// Bytes one build's evaluation may produce: expanded words, the
/// environment copied into every RUN step, the scope each child stage
/// inherits. Without it, one 1 MiB ENV and 100,000 RUN lines would copy
/// 100 GB.
pub const MAX_OUTPUT: usize = 256 << 20;

/// Where variable values come from; `None` means unset (which differs
/// from empty for the colon-less operators). Values are borrowed: a lookup
/// must not copy a (possibly megabyte-sized) value just to test it.
pub trait Vars {
    fn get(&self, name: &str) -> Option<&str>;
}

/// Every variable set to `x`: used to check syntax without values.
struct AllSet;

impl Vars for AllSet {
    fn get(&self, _: &str) -> Option<&str> {
        Some("x")
    }
}

/// Limits and the work counter shared by the expansions of one build, so
/// that many words cannot add up to unbounded work.
#[derive(Debug)]
pub struct Meter {
    /// Largest result of one word, in bytes.
    pub max_word: usize,
    /// Pattern-matching budget, in steps.
    pub max_match_work: u64,
    /// Budget for ARG and ENV values, in bytes.
    pub max_stored: usize,
    /// Budget for everything produced, in bytes.
    pub max_output: usize,
    match_work: Cell<u64>,
    stored: Cell<usize>,
    output: Cell<usize>,
}

impl Default for Meter {
    fn default() -> Self {
        Meter::new(MAX_WORD)
    }
}

impl Meter {
    pub fn new(max_word: usize) -> Meter {
        Meter {
            max_word,
            max_match_work: MAX_MATCH_WORK,
            max_stored: MAX_STORED,
            max_output: MAX_OUTPUT,
            match_work: Cell::new(0),
            stored: Cell::new(0),
            output: Cell::new(0),
        }
    }

    /// No limits at all except the nesting depth: for checking syntax,
    /// where every value is `x` and nothing can grow.
    fn unlimited() -> Meter {
        Meter {
            max_word: usize::MAX,
            max_match_work: u64::MAX,
            max_stored: usize::MAX,
            max_output: usize::MAX,
            ..Meter::default()
        }
    }

    /// Counts `bytes` of ARG or ENV value against the build's budget.
    pub fn charge_stored(&self, bytes: usize) -> Result<(), String> {
        let total = self.stored.get().saturating_add(bytes);
        self.stored.set(total);
        if total > self.max_stored {
            return Err(format!(
                "ARG and ENV values add up to more than {} (the limit for one build)",
                human_size(self.max_stored)
            ));
        }
        Ok(())
    }

    /// Counts `bytes` of evaluation output against the build's budget.
    pub fn charge_output(&self, bytes: usize) -> Result<(), String> {
        let total = self.output.get().saturating_add(bytes);
        self.output.set(total);
        if total > self.max_output {
            return Err(format!(
                "the evaluated instructions add up to more than {} (the limit for one build; large ARG or ENV values are copied into every RUN step and child stage)",
                human_size(self.max_output)
            ));
        }
        Ok(())
    }

    /// Bytes charged so far: (ARG/ENV values, all output).
    pub fn charged(&self) -> (usize, usize) {
        (self.stored.get(), self.output.get())
    }

    /// Pattern-matching steps spent so far.
    pub fn match_work(&self) -> u64 {
        self.match_work.get()
    }

    fn spend(&self, steps: u64, var: &str) -> Result<(), String> {
        let total = self.match_work.get().saturating_add(steps);
        self.match_work.set(total);
        if total > self.max_match_work {
            return Err(format!(
                "pattern matching on ${{{var}}} takes too long: the build's budget of {} matching steps is spent (use shorter values or simpler patterns)",
                self.max_match_work
            ));
        }
        Ok(())
    }
}

/// `1 MiB` rather than `1048576 bytes` for the round limits.
pub fn human_size(bytes: usize) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes.is_multiple_of(1 << 10) {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} bytes")
    }
}

/// Substitutes variables in `word` and removes its quoting, with the
/// default limits.
pub fn expand(word: &str, escape: char, vars: &dyn Vars) -> Result<String, String> {
    expand_metered(word, escape, vars, &Meter::default())
}

/// [`expand`] drawing on a build's shared [`Meter`].
pub fn expand_metered(
    word: &str,
    escape: char,
    vars: &dyn Vars,
    meter: &Meter,
) -> Result<String, String> {
    let out = if is_plain(word, escape, false) {
        // Nothing to substitute or unquote: most words, so skip the lexer.
        if word.len() > meter.max_word {
            return Err(format!(
                "value too long: longer than {} (the limit for one value)",
                human_size(meter.max_word)
            ));
        }
        word.to_string()
    } else {
        Lexer::new(word, escape, vars, meter, false, meter.max_word).process(&[], false)?
    };
    meter.charge_output(out.len())?;
    Ok(out)
}

/// True when `text` has nothing the lexer would change: no `$`, no escape
/// character and (outside here-documents) no quotes.
fn is_plain(text: &str, escape: char, heredoc: bool) -> bool {
    !text.contains(|c: char| c == '$' || c == escape || (!heredoc && (c == '\'' || c == '"')))
}

/// Substitutes variables in a here-document body (COPY/ADD with an
/// unquoted delimiter). Quotes are ordinary text there, and the escape
/// character only escapes `$` and itself, like in a shell here-document.
/// A body is a file, not a word: it may grow up to `max_len`.
pub fn expand_heredoc(
    body: &str,
    escape: char,
    vars: &dyn Vars,
    meter: &Meter,
    max_len: usize,
) -> Result<String, String> {
    let out = Lexer::new(body, escape, vars, meter, true, max_len).process(&[], false)?;
    meter.charge_output(out.len())?;
    Ok(out)
}

/// Checks the substitution syntax of a word without knowing any values,
/// so `${` mistakes are reported at parse time with their line.
pub fn check_syntax(word: &str, escape: char) -> Result<(), String> {
    // Every variable "set and non-empty" so `${v:?}` does not fire here.
    // No size limit: with one-byte values nothing outgrows the line.
    if is_plain(word, escape, false) {
        return Ok(());
    }
    expand_metered(word, escape, &AllSet, &Meter::unlimited()).map(|_| ())
}

struct Lexer<'a> {
    /// The whole word; `pos` is a byte offset into it.
    src: &'a str,
    pos: usize,
    escape: char,
    vars: &'a dyn Vars,
    meter: &'a Meter,
    /// Keep escape characters in the output (patterns need them).
    raw_escapes: bool,
    /// Here-document mode: no quote removal, escapes only before `$`.
    heredoc: bool,
    /// `${` levels open right now.
    depth: usize,
    /// Largest result of any (sub)word, in bytes.
    max_len: usize,
}

impl<'a> Lexer<'a> {
    fn new(
        src: &'a str,
        escape: char,
        vars: &'a dyn Vars,
        meter: &'a Meter,
        heredoc: bool,
        max_len: usize,
    ) -> Lexer<'a> {
        Lexer {
            src,
            pos: 0,
            escape,
            vars,
            meter,
            raw_escapes: false,
            heredoc,
            depth: 0,
            max_len,
        }
    }

    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if let Some(c) = c {
            self.pos += c.len_utf8();
        }
        c
    }

    /// Appends `text` unless that would make `out` too long. `var` names
    /// the variable whose value (or default) is being appended, for the
    /// error.
    fn push_str(&self, out: &mut String, text: &str, var: Option<&str>) -> Result<(), String> {
        if out.len() + text.len() > self.max_len {
            return Err(self.too_long(var));
        }
        out.push_str(text);
        Ok(())
    }

    fn push(&self, out: &mut String, c: char) -> Result<(), String> {
        if out.len() + c.len_utf8() > self.max_len {
            return Err(self.too_long(None));
        }
        out.push(c);
        Ok(())
    }

    fn too_long(&self, var: Option<&str>) -> String {
        let limit = human_size(self.max_len);
        match var {
            Some(name) => format!(
                "value too long: substituting ${{{name}}} makes it longer than {limit} (the limit for one value)"
            ),
            None => format!("value too long: longer than {limit} (the limit for one value)"),
        }
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
                '\'' if !self.heredoc => self.single_quote(&mut out)?,
                '"' if !self.heredoc => self.double_quote(&mut out)?,
                '$' => self.dollar(&mut out)?,
                _ if self.heredoc && c == self.escape => {
                    self.next();
                    match self.peek() {
                        Some(n) if n == '$' || n == self.escape => {
                            self.next();
                            self.push(&mut out, n)?;
                        }
                        _ => self.push(&mut out, c)?,
                    }
                }
                _ => {
                    self.next();
                    if c == self.escape {
                        if self.raw_escapes {
                            self.push(&mut out, c)?;
                        }
                        match self.next() {
                            Some(n) => self.push(&mut out, n)?,
                            None => break,
                        }
                    } else {
                        self.push(&mut out, c)?;
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

    fn single_quote(&mut self, out: &mut String) -> Result<(), String> {
        self.next();
        loop {
            match self.next() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching single-quote"
                            .into(),
                    );
                }
                Some('\'') => return Ok(()),
                Some(c) => self.push(out, c)?,
            }
        }
    }

    fn double_quote(&mut self, out: &mut String) -> Result<(), String> {
        self.next();
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
                    return Ok(());
                }
                Some('$') => self.dollar(out)?,
                Some(c) => {
                    self.next();
                    if c != self.escape {
                        self.push(out, c)?;
                        continue;
                    }
                    // Inside double quotes the escape only escapes `"`, `$`
                    // and itself; elsewhere it stays literal.
                    let escaped = self
                        .peek()
                        .filter(|&n| n == '"' || n == '$' || n == self.escape);
                    if self.raw_escapes || escaped.is_none() {
                        self.push(out, c)?;
                    }
                    if let Some(n) = escaped {
                        self.next();
                        self.push(out, n)?;
                    }
                }
            }
        }
    }

    /// A variable name: letters/digits/`_`, or all digits (`$1`), or one
    /// special parameter character (`$@`, `$#`, ...).
    fn name(&mut self) -> &'a str {
        let start = self.pos;
        match self.peek() {
            Some(c) if c.is_ascii_digit() => {
                while self.peek().is_some_and(|d| d.is_ascii_digit()) {
                    self.next();
                }
            }
            Some(c) if "@*#?-$!".contains(c) => {
                self.next();
            }
            _ => {
                while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    self.next();
                }
            }
        }
        &self.src[start..self.pos]
    }

    fn dollar(&mut self, out: &mut String) -> Result<(), String> {
        self.next();
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return self.push(out, '$');
            }
            let value = self.vars.get(name).unwrap_or_default();
            return self.push_str(out, value, Some(name));
        }
        self.next();
        // Each level below recurses (braced → nested → process → dollar),
        // so the depth is what bounds the stack.
        if self.depth >= MAX_DEPTH {
            return Err(format!(
                "variable substitution nested deeper than {MAX_DEPTH} levels"
            ));
        }
        self.depth += 1;
        let result = self.braced(out);
        self.depth -= 1;
        result
    }

    /// The rest of `${...}` after the brace.
    fn braced(&mut self, out: &mut String) -> Result<(), String> {
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
        let value = self.vars.get(name);
        if op == '}' {
            return self.push_str(out, value.unwrap_or_default(), Some(name));
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
                let set = value.is_some();
                let value = value.unwrap_or_default();
                let present = set && !(colon && value.is_empty());
                match op {
                    '-' if present => self.push_str(out, value, Some(name)),
                    '-' => self.push_str(out, &word, Some(name)),
                    '+' if present => self.push_str(out, &word, Some(name)),
                    '+' => Ok(()),
                    '?' if present => self.push_str(out, value, Some(name)),
                    '?' => {
                        let default = if set {
                            "is not allowed to be empty"
                        } else {
                            "is not allowed to be unset"
                        };
                        let message = if word.is_empty() {
                            default.to_string()
                        } else {
                            super::error::shorten(&word, super::error::QUOTE_CHARS)
                        };
                        Err(format!("{name}: {message}"))
                    }
                    _ => {
                        let (greedy, pattern) = match word.strip_prefix(op) {
                            Some(rest) => (true, rest),
                            None => (false, word.as_str()),
                        };
                        let mut pattern = self.pattern(pattern)?;
                        let kept = if op == '#' {
                            let n = Matcher::new(&pattern, self.meter, name)
                                .longest_or_shortest(forward(value), greedy)?;
                            &value[n.unwrap_or(0)..]
                        } else {
                            // A suffix match is a prefix match of the
                            // reversed value with the reversed pattern.
                            pattern.reverse();
                            let n = Matcher::new(&pattern, self.meter, name)
                                .longest_or_shortest(backward(value), greedy)?;
                            &value[..value.len() - n.unwrap_or(0)]
                        };
                        self.push_str(out, kept, Some(name))
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
                let pattern = self.pattern(&pattern)?;
                let value = value.unwrap_or_default();
                self.replace(out, &pattern, value, &replacement, all, name)
            }
            other => Err(format!("unsupported modifier ({other}) in substitution")),
        }
    }

    /// `${v/p/r}` replaces the leftmost longest non-empty match; `${v//p/r}`
    /// every non-overlapping one, scanning left to right.
    fn replace(
        &self,
        out: &mut String,
        pattern: &[Pat],
        value: &str,
        replacement: &str,
        all: bool,
        name: &str,
    ) -> Result<(), String> {
        let mut matcher = Matcher::new(pattern, self.meter, name);
        let mut i = 0;
        while i < value.len() {
            let rest = &value[i..];
            if let Some(n) = matcher.longest_or_shortest(forward(rest), true)?
                && n > 0
            {
                self.push_str(out, replacement, Some(name))?;
                i += n;
                if !all {
                    break;
                }
                continue;
            }
            let c = rest.chars().next().expect("i < len");
            self.push(out, c)?;
            i += c.len_utf8();
        }
        self.push_str(out, &value[i..], Some(name))
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

    /// Shell pattern: `*`, `?`, escapes of `*`, `?`, the escape character,
    /// `}` and `/`; every other character is literal.
    fn pattern(&self, pattern: &str) -> Result<Vec<Pat>, String> {
        let mut pieces = Vec::new();
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            match c {
                // `**` matches what `*` does: keep one, so the matcher
                // does not carry useless states.
                '*' if pieces.last() == Some(&Pat::AnyRun) => {}
                '*' => pieces.push(Pat::AnyRun),
                '?' => pieces.push(Pat::Any),
                _ if c == self.escape => match chars.next() {
                    Some(n) if n == '*' || n == '?' || n == '}' || n == '/' || n == self.escape => {
                        pieces.push(Pat::Lit(n))
                    }
                    Some(n) => {
                        return Err(format!(
                            "invalid escape '{c}{n}' in pattern {}",
                            quote(pattern)
                        ));
                    }
                    None => {
                        return Err(format!(
                            "invalid escape at end of pattern {}",
                            quote(pattern)
                        ));
                    }
                },
                _ => pieces.push(Pat::Lit(c)),
            }
        }
        Ok(pieces)
    }
}

/// One element of a shell pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pat {
    /// `?`
    Any,
    /// `*`
    AnyRun,
    Lit(char),
}

/// Characters of `text` front to back, each with the byte length of the
/// prefix ending after it.
fn forward(text: &str) -> impl Iterator<Item = (usize, char)> + '_ {
    text.char_indices().map(|(i, c)| (i + c.len_utf8(), c))
}

/// Characters of `text` back to front, each with the byte length of the
/// suffix starting at it.
fn backward(text: &str) -> impl Iterator<Item = (usize, char)> + '_ {
    text.char_indices()
        .rev()
        .map(move |(i, c)| (text.len() - i, c))
}

/// Runs a pattern over a text as the set of live pattern positions (an
/// NFA simulation): pattern-length work per character, no backtracking,
/// and it stops as soon as no position is live. The buffers are reused
/// across the calls of one `${v//p/r}`.
struct Matcher<'p> {
    pattern: &'p [Pat],
    meter: &'p Meter,
    /// The variable being matched, for the budget error.
    var: &'p str,
    live: Vec<bool>,
    next: Vec<bool>,
}

impl<'p> Matcher<'p> {
    fn new(pattern: &'p [Pat], meter: &'p Meter, var: &'p str) -> Matcher<'p> {
        Matcher {
            pattern,
            meter,
            var,
            live: vec![false; pattern.len() + 1],
            next: vec![false; pattern.len() + 1],
        }
    }

    /// A live `*` can also match nothing: its successor is live too.
    fn close(pattern: &[Pat], set: &mut [bool]) {
        for (j, p) in pattern.iter().enumerate() {
            if set[j] && *p == Pat::AnyRun {
                set[j + 1] = true;
            }
        }
    }

    /// Byte length of the longest (or shortest) prefix of `text` the
    /// pattern matches. `text` yields each character with the length
    /// consumed once it is taken (see [`forward`] and [`backward`]).
    fn longest_or_shortest(
        &mut self,
        text: impl Iterator<Item = (usize, char)>,
        longest: bool,
    ) -> Result<Option<usize>, String> {
        let m = self.pattern.len();
        self.live.fill(false);
        self.live[0] = true;
        Self::close(self.pattern, &mut self.live);
        let mut found = self.live[m].then_some(0);
        if found.is_some() && !longest {
            return Ok(found);
        }
        for (consumed, c) in text {
            self.meter.spend(m as u64 + 1, self.var)?;
            self.next.fill(false);
            let mut any = false;
            for (j, p) in self.pattern.iter().enumerate() {
                if !self.live[j] {
                    continue;
                }
                let to = match p {
                    Pat::AnyRun => j,
                    Pat::Any => j + 1,
                    Pat::Lit(l) if *l == c => j + 1,
                    Pat::Lit(_) => continue,
                };
                self.next[to] = true;
                any = true;
            }
            if !any {
                break;
            }
            Self::close(self.pattern, &mut self.next);
            std::mem::swap(&mut self.live, &mut self.next);
            if self.live[m] {
                found = Some(consumed);
                if !longest {
                    break;
                }
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Env(Vec<(String, String)>);

    impl Vars for Env {
        fn get(&self, name: &str) -> Option<&str> {
            self.0
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        }
    }

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env(pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect())
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
        let out = expand_heredoc(
            "echo \"$v\" '${v}' \\$v a\\nb\n",
            '\\',
            &e,
            &Meter::default(),
            1 << 20,
        )
        .unwrap();
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
