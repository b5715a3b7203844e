//! Here-documents (`RUN <<EOF`, `COPY <<-"EOF" /file`): recognising the
//! `<<NAME` markers on an instruction line. The bodies are collected by the
//! line scanner, which owns the physical lines.

use super::words::{extract_flags, split_keyword};
use serde::Serialize;

/// A `<<NAME` marker found on an instruction line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeredocMarker {
    /// The delimiter with quotes removed.
    pub name: String,
    /// False when any part of the delimiter was quoted or escaped
    /// (`<<"EOF"`, `<<'EOF'`, `<<\EOF`): the body is then taken literally.
    pub expand: bool,
    /// `<<-`: leading tabs are stripped from the body and the terminator.
    pub chomp: bool,
    /// `3<<EOF` redirects to file descriptor 3.
    pub fd: Option<u32>,
}

/// A here-document with its body, as stored in the AST.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Heredoc {
    pub name: String,
    /// Body lines, each ending in `\n`; tabs already stripped for `<<-`.
    pub content: String,
    pub expand: bool,
    pub chomp: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fd: Option<u32>,
}

/// Removes quotes and backslash escapes from a delimiter word, reporting
/// whether anything was quoted.
fn unquote(word: &str) -> (String, bool) {
    let mut out = String::new();
    let mut quoted = false;
    let mut chars = word.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                quoted = true;
                for n in chars.by_ref() {
                    if n == '\'' {
                        break;
                    }
                    out.push(n);
                }
            }
            '"' => {
                quoted = true;
                while let Some(n) = chars.next() {
                    match n {
                        '"' => break,
                        '\\' => {
                            if let Some(e) = chars.next() {
                                if !matches!(e, '"' | '\\' | '$') {
                                    out.push('\\');
                                }
                                out.push(e);
                            }
                        }
                        _ => out.push(n),
                    }
                }
            }
            '\\' => {
                quoted = true;
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            _ => out.push(c),
        }
    }
    (out, quoted)
}

/// Parses one word as a heredoc marker: `[fd]<<[-]NAME`.
pub fn parse_marker(word: &str) -> Option<HeredocMarker> {
    let digits = word.chars().take_while(|c| c.is_ascii_digit()).count();
    let rest = word[digits..].strip_prefix("<<")?;
    let (chomp, rest) = match rest.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    // `<<<word` is a here-string, not a heredoc.
    if rest.is_empty() || rest.contains('<') {
        return None;
    }
    let (name, quoted) = unquote(rest);
    if name.is_empty() {
        return None;
    }
    let fd = if digits > 0 {
        word[..digits].parse().ok()
    } else {
        None
    };
    Some(HeredocMarker {
        name,
        expand: !quoted,
        chomp,
        fd,
    })
}

/// Splits a line into raw shell-like words (quotes and escapes kept), so a
/// quoted `"<<EOF"` is not mistaken for a marker.
fn raw_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                word.push(c);
                if c == q {
                    quote = None;
                } else if c == '\\'
                    && q == '"'
                    && let Some(n) = chars.next()
                {
                    word.push(n);
                }
            }
            None if c.is_whitespace() => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            None => {
                word.push(c);
                if c == '"' || c == '\'' {
                    quote = Some(c);
                } else if c == '\\'
                    && let Some(n) = chars.next()
                {
                    word.push(n);
                }
            }
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// All heredoc markers of a line, in order.
pub fn markers_in_line(line: &str) -> Vec<HeredocMarker> {
    raw_words(line)
        .iter()
        .filter_map(|w| parse_marker(w))
        .collect()
}

/// Only RUN, COPY and ADD (also behind ONBUILD) take heredocs, and only in
/// their shell/whitespace form, not when the arguments are a JSON array.
pub fn can_contain_heredoc(line: &str) -> bool {
    let (mut keyword, mut rest) = split_keyword(line);
    if keyword.eq_ignore_ascii_case("onbuild") {
        (keyword, rest) = split_keyword(rest);
    }
    let keyword = keyword.to_ascii_lowercase();
    if !matches!(keyword.as_str(), "run" | "copy" | "add") {
        return false;
    }
    let (_, args) = extract_flags(rest);
    !matches!(
        serde_json::from_str::<serde_json::Value>(args),
        Ok(serde_json::Value::Array(_))
    )
}

/// `<<-` strips leading tabs from every body line.
pub fn chomp_tabs(content: &str) -> String {
    content
        .split_inclusive('\n')
        .map(|l| l.trim_start_matches('\t'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_marker() {
        let m = parse_marker("<<EOF").unwrap();
        assert_eq!(m.name, "EOF");
        assert!(m.expand);
        assert!(!m.chomp);
        assert_eq!(m.fd, None);
    }

    #[test]
    fn chomp_and_fd() {
        let m = parse_marker("3<<-END").unwrap();
        assert_eq!((m.name.as_str(), m.chomp, m.fd), ("END", true, Some(3)));
    }

    #[test]
    fn quoted_delimiters_disable_expansion() {
        for w in ["<<\"EOF\"", "<<'EOF'", "<<E\"O\"F", "<<\\EOF"] {
            let m = parse_marker(w).unwrap();
            assert_eq!(m.name, "EOF", "{w}");
            assert!(!m.expand, "{w}");
        }
    }

    #[test]
    fn not_markers() {
        assert!(parse_marker("<<").is_none());
        assert!(parse_marker("<<<word").is_none());
        assert!(parse_marker("a<<EOF").is_none());
        assert!(parse_marker("<<-").is_none());
        assert!(parse_marker("<<''").is_none());
    }

    #[test]
    fn markers_skip_quoted_text() {
        let m = markers_in_line(r#"RUN echo "<<NOT" && cat <<A 2<<-B"#);
        let names: Vec<_> = m.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, vec!["A", "B"]);
    }

    #[test]
    fn which_lines_can_have_heredocs() {
        assert!(can_contain_heredoc("RUN <<EOF"));
        assert!(can_contain_heredoc("copy --chmod=755 <<EOF /x"));
        assert!(can_contain_heredoc("ONBUILD RUN <<EOF"));
        assert!(!can_contain_heredoc("CMD <<EOF"));
        assert!(!can_contain_heredoc(r#"RUN ["cat", "<<EOF"]"#));
    }

    #[test]
    fn chomp_strips_leading_tabs_only() {
        assert_eq!(chomp_tabs("\t\ta\n  b\n\tc\td\n"), "a\n  b\nc\td\n");
    }
}
