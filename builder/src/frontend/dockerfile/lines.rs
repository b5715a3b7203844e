//! Physical lines → logical instruction lines: parser directives at the top,
//! comments, line continuations with the escape character (comment and empty
//! lines inside a continuation are skipped), and here-document bodies.

use super::ast::Warning;
use super::directives::{DirectiveLine, Directives};
use super::error::{DockerfileError, QUOTE_CHARS, quote, shorten};
use super::expand::human_size;
use super::heredoc::{Heredoc, can_contain_heredoc, chomp_tabs, markers_in_line};

/// Longest logical line (an instruction with its continuations) and
/// longest here-document body accepted, in bytes. Far beyond any real
/// Dockerfile; it keeps one hostile line from costing unbounded memory
/// in the steps after scanning.
pub const MAX_LINE: usize = 16 << 20;

/// One instruction's text with its source span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogicalLine {
    pub start_line: usize,
    pub end_line: usize,
    /// Continuations joined, escape characters removed, comments dropped.
    pub text: String,
    pub heredocs: Vec<Heredoc>,
}

#[derive(Debug)]
pub struct Scanned {
    pub directives: Directives,
    pub lines: Vec<LogicalLine>,
    pub warnings: Vec<Warning>,
}

fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// Strips a trailing escape character (optionally followed by spaces or
/// tabs). Returns the text and whether the instruction ends on this line.
fn trim_continuation(line: &str, escape: char) -> (&str, bool) {
    let trimmed = line.trim_end_matches([' ', '\t']);
    match trimmed.strip_suffix(escape) {
        Some(before) => (before, false),
        None => (line, true),
    }
}

pub fn scan(source: &str, file: &str) -> Result<Scanned, DockerfileError> {
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    let physical: Vec<&str> = source
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();

    let mut directives = Directives::default();
    let mut seen_directives = Vec::new();
    let mut in_directives = true;
    let mut lines = Vec::new();
    let mut warnings = Vec::new();
    let mut i = 0;

    while i < physical.len() {
        let line_no = i + 1;
        let raw = physical[i];
        i += 1;

        if in_directives {
            match directives.accept_line(raw, &mut seen_directives) {
                Ok(DirectiveLine::Recorded) => continue,
                Ok(DirectiveLine::End) => in_directives = false,
                Err(msg) => {
                    return Err(DockerfileError::new(file, line_no, msg).with_excerpt(raw));
                }
            }
        }
        let escape = directives.escape;
        if is_comment(raw) {
            continue;
        }
        let first = raw.trim_start();
        let (part, mut ended) = trim_continuation(first, escape);
        if ended && part.trim().is_empty() {
            continue;
        }
        let too_long = |what: &str| {
            DockerfileError::new(
                file,
                line_no,
                format!("{what} longer than {} (the limit)", human_size(MAX_LINE)),
            )
            .with_excerpt(first)
        };
        if part.len() > MAX_LINE {
            return Err(too_long("instruction"));
        }
        let mut text = part.to_string();
        let mut empty_continuation = false;
        while !ended && i < physical.len() {
            let next = physical[i];
            i += 1;
            if is_comment(next) {
                continue;
            }
            if next.trim().is_empty() {
                empty_continuation = true;
                continue;
            }
            let (part, done) = trim_continuation(next, escape);
            if text.len() + part.len() > MAX_LINE {
                return Err(too_long("instruction with its continuation lines"));
            }
            text.push_str(part);
            ended = done;
        }
        if text.trim().is_empty() {
            // Only escape characters and blank lines: nothing to parse.
            continue;
        }
        if empty_continuation {
            warnings.push(Warning {
                line: line_no,
                message:
                    "empty continuation line found; it will become an error in a future release"
                        .to_string(),
            });
        }

        let mut heredocs = Vec::new();
        if text.contains("<<") && can_contain_heredoc(&text) {
            for marker in markers_in_line(&text) {
                let mut content = String::new();
                let mut terminated = false;
                while i < physical.len() {
                    let body = physical[i];
                    i += 1;
                    let candidate = if marker.chomp {
                        body.trim_start_matches('\t')
                    } else {
                        body
                    };
                    if candidate == marker.name {
                        terminated = true;
                        break;
                    }
                    if content.len() + body.len() + 1 > MAX_LINE {
                        return Err(too_long(&format!(
                            "here-document <<{}",
                            shorten(&marker.name, QUOTE_CHARS)
                        )));
                    }
                    content.push_str(body);
                    content.push('\n');
                }
                if !terminated {
                    return Err(DockerfileError::new(
                        file,
                        line_no,
                        format!(
                            "unterminated heredoc <<{}: no line {} before end of file",
                            shorten(&marker.name, QUOTE_CHARS),
                            quote(&marker.name)
                        ),
                    )
                    .with_excerpt(&text));
                }
                if marker.chomp {
                    content = chomp_tabs(&content);
                }
                heredocs.push(Heredoc {
                    name: marker.name,
                    content,
                    expand: marker.expand,
                    chomp: marker.chomp,
                    fd: marker.fd,
                });
            }
        }

        lines.push(LogicalLine {
            start_line: line_no,
            end_line: i.min(physical.len()).max(line_no),
            text,
            heredocs,
        });
    }

    Ok(Scanned {
        directives,
        lines,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(src: &str) -> Vec<(usize, String)> {
        scan(src, "Dockerfile")
            .unwrap()
            .lines
            .into_iter()
            .map(|l| (l.start_line, l.text))
            .collect()
    }

    #[test]
    fn comments_and_blank_lines_are_skipped() {
        let t = texts("# c\n\nFROM a\n  # indented comment\nRUN x\n");
        assert_eq!(t, vec![(3, "FROM a".into()), (5, "RUN x".into())]);
    }

    #[test]
    fn continuation_joins_and_keeps_positions() {
        let src = "FROM a\nRUN echo a \\\n    b \\  \n    c\nUSER x\n";
        let s = scan(src, "Dockerfile").unwrap();
        assert_eq!(
            s.lines[1].text,
            "echo a     b     c".replace("echo", "RUN echo")
        );
        assert_eq!((s.lines[1].start_line, s.lines[1].end_line), (2, 4));
        assert_eq!(s.lines[2].start_line, 5);
    }

    #[test]
    fn comments_inside_continuation_are_dropped() {
        let t = texts("RUN a \\\n# comment\n  && b\n");
        assert_eq!(t, vec![(1, "RUN a   && b".into())]);
    }

    #[test]
    fn empty_continuation_line_warns_but_joins() {
        let s = scan("RUN a \\\n\n  b\n", "Dockerfile").unwrap();
        assert_eq!(s.lines[0].text, "RUN a   b");
        assert_eq!(s.warnings.len(), 1);
        assert_eq!(s.warnings[0].line, 1);
    }

    #[test]
    fn backtick_escape_changes_continuation() {
        let t = texts("# escape=`\nRUN a `\n b \\\nUSER c\n");
        assert_eq!(t, vec![(2, "RUN a  b \\".into()), (4, "USER c".into())]);
    }

    #[test]
    fn directive_after_instruction_is_a_comment() {
        let s = scan("FROM a\n# escape=`\nRUN a `\nUSER b\n", "Dockerfile").unwrap();
        assert_eq!(s.directives.escape, '\\');
        // the backtick is not a continuation, so USER is its own line
        assert_eq!(s.lines.len(), 3);
    }

    #[test]
    fn crlf_and_bom_are_handled() {
        let t = texts("\u{feff}FROM a\r\nRUN b \\\r\n c\r\n");
        assert_eq!(t, vec![(1, "FROM a".into()), (2, "RUN b  c".into())]);
    }

    #[test]
    fn heredoc_body_is_collected_verbatim() {
        let src = "RUN <<EOF\n# not a comment\necho $HOME \\\nEOF\nUSER x\n";
        let s = scan(src, "Dockerfile").unwrap();
        assert_eq!(
            s.lines[0].heredocs[0].content,
            "# not a comment\necho $HOME \\\n"
        );
        assert_eq!((s.lines[0].start_line, s.lines[0].end_line), (1, 4));
        assert_eq!(
            (s.lines[1].start_line, s.lines[1].text.as_str()),
            (5, "USER x")
        );
    }

    #[test]
    fn two_heredocs_follow_each_other() {
        let src = "COPY <<A <<B /dst/\na1\nA\nb1\nb2\nB\n";
        let s = scan(src, "Dockerfile").unwrap();
        let h = &s.lines[0].heredocs;
        assert_eq!((h[0].name.as_str(), h[0].content.as_str()), ("A", "a1\n"));
        assert_eq!(
            (h[1].name.as_str(), h[1].content.as_str()),
            ("B", "b1\nb2\n")
        );
    }

    #[test]
    fn chomp_heredoc_strips_tabs_and_accepts_tabbed_terminator() {
        let src = "RUN <<-EOF\n\techo hi\n\t\tEOF\n";
        let s = scan(src, "Dockerfile").unwrap();
        assert_eq!(s.lines[0].heredocs[0].content, "echo hi\n");
    }

    #[test]
    fn unterminated_heredoc_reports_its_line() {
        let e = scan("FROM a\nRUN <<EOF\necho\n", "Dockerfile").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(
            e.message.contains("unterminated heredoc <<EOF"),
            "{}",
            e.message
        );
    }

    #[test]
    fn heredoc_ignored_for_other_instructions_and_json() {
        let s = scan("CMD cat <<EOF\nRUN [\"a\", \"<<EOF\"]\n", "Dockerfile").unwrap();
        assert_eq!(s.lines.len(), 2);
        assert!(s.lines.iter().all(|l| l.heredocs.is_empty()));
    }
}
