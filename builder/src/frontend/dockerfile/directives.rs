//! Parser directives: `# escape=`, `# syntax=`, `# check=` at the very top of
//! a Dockerfile. Once any other line (comment, blank line, instruction, or an
//! unknown directive) is seen, later `# key=value` lines are plain comments.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Directives {
    /// The escape character: `\` (default) or `` ` ``.
    pub escape: char,
    /// `# syntax=` names an external frontend image. We have our own
    /// frontend, so it is recorded and otherwise ignored.
    pub syntax: Option<String>,
    /// `# check=skip=...;error=...`, recorded for the future linter.
    pub check: Option<String>,
}

impl Default for Directives {
    fn default() -> Self {
        Directives {
            escape: '\\',
            syntax: None,
            check: None,
        }
    }
}

/// What one physical line means while directives are still accepted.
#[derive(Debug, PartialEq, Eq)]
pub enum DirectiveLine {
    /// A known directive was recorded; the line is consumed.
    Recorded,
    /// Not a directive: the directive section is over.
    End,
}

/// Splits `# name = value` into (lowercased name, value). Whitespace is
/// allowed around `#`, the name and `=`; the value is trimmed.
fn split_directive(line: &str) -> Option<(String, String)> {
    let rest = line.trim_start().strip_prefix('#')?;
    let rest = rest.trim_start();
    let name_len = rest
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())))
        .map(|(i, _)| i)
        .unwrap_or(rest.len());
    if name_len == 0 {
        return None;
    }
    let name = &rest[..name_len];
    let value = rest[name_len..].trim_start().strip_prefix('=')?.trim();
    if value.is_empty() {
        return None;
    }
    Some((name.to_ascii_lowercase(), value.to_string()))
}

impl Directives {
    /// Feeds one physical line from the top of the file.
    /// Errors are messages; the caller adds file and line.
    pub fn accept_line(
        &mut self,
        line: &str,
        seen: &mut Vec<String>,
    ) -> Result<DirectiveLine, String> {
        let Some((name, value)) = split_directive(line) else {
            return Ok(DirectiveLine::End);
        };
        if !matches!(name.as_str(), "escape" | "syntax" | "check") {
            // Unknown directives are comments and end the directive section.
            return Ok(DirectiveLine::End);
        }
        if seen.contains(&name) {
            return Err(format!("only one {name} parser directive can be used"));
        }
        seen.push(name.clone());
        match name.as_str() {
            "escape" => {
                self.escape = match value.as_str() {
                    "\\" => '\\',
                    "`" => '`',
                    other => {
                        return Err(format!(
                            "invalid escape token {}: must be \\ or `",
                            super::error::quote(other)
                        ));
                    }
                }
            }
            "syntax" => self.syntax = Some(value),
            _ => self.check = Some(value),
        }
        Ok(DirectiveLine::Recorded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(lines: &[&str]) -> Result<(Directives, usize), String> {
        let mut d = Directives::default();
        let mut seen = Vec::new();
        let mut consumed = 0;
        for l in lines {
            match d.accept_line(l, &mut seen)? {
                DirectiveLine::Recorded => consumed += 1,
                DirectiveLine::End => break,
            }
        }
        Ok((d, consumed))
    }

    #[test]
    fn escape_backtick_and_syntax_recorded() {
        let (d, n) = feed(&["# escape=`", "#syntax=docker/dockerfile:1", "FROM x"]).unwrap();
        assert_eq!(d.escape, '`');
        assert_eq!(d.syntax.as_deref(), Some("docker/dockerfile:1"));
        assert_eq!(n, 2);
    }

    #[test]
    fn whitespace_and_case_are_tolerated() {
        let (d, _) = feed(&["#  ESCAPE =  `  "]).unwrap();
        assert_eq!(d.escape, '`');
    }

    #[test]
    fn check_directive_recorded() {
        let (d, _) = feed(&["# check=skip=JSONArgsRecommended;error=true"]).unwrap();
        assert_eq!(
            d.check.as_deref(),
            Some("skip=JSONArgsRecommended;error=true")
        );
    }

    #[test]
    fn unknown_directive_ends_section() {
        let (d, n) = feed(&["# foo=bar", "# escape=`"]).unwrap();
        assert_eq!(n, 0);
        assert_eq!(d.escape, '\\');
    }

    #[test]
    fn plain_comment_ends_section() {
        let (d, n) = feed(&["# hello", "# escape=`"]).unwrap();
        assert_eq!(n, 0);
        assert_eq!(d.escape, '\\');
    }

    #[test]
    fn duplicate_directive_is_an_error() {
        let err = feed(&["# escape=`", "# escape=\\"]).unwrap_err();
        assert!(err.contains("only one escape"), "{err}");
    }

    #[test]
    fn bad_escape_value_is_an_error() {
        let err = feed(&["# escape=x"]).unwrap_err();
        assert!(err.contains("invalid escape token"), "{err}");
    }
}
