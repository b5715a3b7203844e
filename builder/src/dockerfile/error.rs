//! The one error type of the Dockerfile front end: always a file, a line and
//! the offending source text, so a user can jump straight to the mistake.

use std::fmt;

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
        DockerfileError {
            file: file.to_string(),
            line,
            message: message.into(),
            excerpt: None,
        }
    }

    pub fn with_excerpt(mut self, excerpt: &str) -> Self {
        let trimmed = excerpt.trim();
        if !trimmed.is_empty() {
            self.excerpt = Some(trimmed.to_string());
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
            // Long instructions are cut so the error stays readable.
            let shown: String = excerpt.chars().take(200).collect();
            let ellipsis = if shown.len() < excerpt.len() {
                "..."
            } else {
                ""
            };
            write!(f, "\n  {:>4} | {}{}", self.line, shown, ellipsis)?;
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
