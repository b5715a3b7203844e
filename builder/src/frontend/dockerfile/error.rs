//! The one error type of the Dockerfile front end: always a file, a line and
//! the offending source text, so a user can jump straight to the mistake.
//!
//! Errors never carry unbounded copies of the input: a 2 MB garbage line
//! must give a short message, not a 2 MB one. Quoted input goes through
//! [`quote`], the excerpt is cut when stored, and [`DockerfileError::new`]
//! cuts any message that still came out too long.

use std::fmt;

/// Characters of input text an error message quotes before cutting it.
pub const QUOTE_CHARS: usize = 80;
/// Characters of the instruction shown under an error.
pub const EXCERPT_CHARS: usize = 200;
/// Longest message kept; longer ones (some input slipped through
/// unquoted) are cut.
pub const MESSAGE_CHARS: usize = 400;

/// The first `max` characters of `text`, and whether anything was cut.
/// Stops after `max` characters, so it is cheap on huge texts.
pub fn prefix_chars(text: &str, max: usize) -> (&str, bool) {
    match text.char_indices().nth(max) {
        Some((i, _)) => (&text[..i], true),
        None => (text, false),
    }
}

/// `text` as a Rust-style quoted string (`"a\tb"`), cut after
/// [`QUOTE_CHARS`] characters with `…` behind the closing quote, so the
/// reader sees both that it was cut and what it started with.
pub fn quote(text: &str) -> String {
    let (shown, cut) = prefix_chars(text, QUOTE_CHARS);
    if cut {
        format!("{shown:?}… ({} bytes)", text.len())
    } else {
        format!("{shown:?}")
    }
}

/// `text` cut after `max` characters with a trailing `…`.
pub fn shorten(text: &str, max: usize) -> String {
    match prefix_chars(text, max) {
        (shown, true) => format!("{shown}…"),
        (shown, false) => shown.to_string(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerfileError {
    /// The Dockerfile as the user named it (`Dockerfile`, `build/app.df`).
    pub file: String,
    /// 1-based line of the instruction (its first line when continued);
    /// 0 when no single line is at fault.
    pub line: usize,
    pub message: String,
    /// The source text of the instruction, when there is one.
    pub excerpt: Option<String>,
}

impl DockerfileError {
    pub fn new(file: &str, line: usize, message: impl Into<String>) -> Self {
        let mut message = message.into();
        // Last line of defence: a message that quotes input without
        // `quote` must still not print megabytes.
        if let (shown, true) = prefix_chars(&message, MESSAGE_CHARS) {
            message = format!("{shown}…");
        }
        DockerfileError {
            file: file.to_string(),
            line,
            message,
            excerpt: None,
        }
    }

    /// The instruction's text, cut to [`EXCERPT_CHARS`] characters (with
    /// `...`) when stored: only that much is ever shown.
    pub fn with_excerpt(mut self, excerpt: &str) -> Self {
        let trimmed = excerpt.trim();
        if !trimmed.is_empty() {
            self.excerpt = Some(match prefix_chars(trimmed, EXCERPT_CHARS) {
                (shown, true) => format!("{shown}..."),
                (shown, false) => shown.to_string(),
            });
        }
        self
    }

    /// `Dockerfile:7: message`, without the excerpt block. Line 0 means
    /// the error concerns the file as a whole (e.g. an unknown --target).
    pub fn headline(&self) -> String {
        if self.line == 0 {
            format!("{}: {}", self.file, self.message)
        } else {
            format!("{}:{}: {}", self.file, self.line, self.message)
        }
    }
}

impl fmt::Display for DockerfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.headline())?;
        if let Some(excerpt) = &self.excerpt {
            // Already cut to EXCERPT_CHARS by `with_excerpt`.
            write!(f, "\n  {:>4} | {}", self.line, excerpt)?;
        }
        Ok(())
    }
}

impl std::error::Error for DockerfileError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_starts_with_file_line_message() {
        let e = DockerfileError::new("Dockerfile", 7, "bad thing").with_excerpt("RUNN x");
        let text = e.to_string();
        assert!(text.starts_with("Dockerfile:7: bad thing\n"), "{text}");
        assert!(text.contains("7 | RUNN x"), "{text}");
    }

    #[test]
    fn line_zero_is_a_whole_file_error() {
        assert_eq!(DockerfileError::new("df", 0, "m").to_string(), "df: m");
    }

    #[test]
    fn empty_excerpt_is_dropped() {
        let e = DockerfileError::new("f", 1, "m").with_excerpt("   ");
        assert_eq!(e.to_string(), "f:1: m");
    }
}
