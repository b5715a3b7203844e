//! Splitting an instruction's text into words, the way Docker does before any
//! variable expansion: quotes and escapes are *kept* in the words (the
//! expander removes them later), only the word boundaries are decided here.

/// Splits `RUN  --mount=x echo` into (`RUN`, `--mount=x echo`).
pub fn split_keyword(line: &str) -> (&str, &str) {
    let line = line.trim();
    match line.find(char::is_whitespace) {
        Some(i) => (&line[..i], line[i..].trim_start()),
        None => (line, ""),
    }
}

/// Plain whitespace split, no quote handling (FROM, EXPOSE, COPY sources).
pub fn split_whitespace(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_string).collect()
}

/// Leading `--flag[=value]` words, then the rest of the line untouched.
/// A bare `--` ends the flags. Quotes inside a flag are removed
/// (`--chown="a b"` gives `--chown=a b`), backslash escapes one character.
pub fn extract_flags(text: &str) -> (Vec<String>, &str) {
    let mut flags = Vec::new();
    let mut rest = text.trim_start();
    loop {
        if !rest.starts_with("--") {
            return (flags, rest);
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        let mut chars = rest.char_indices();
        let mut end = rest.len();
        while let Some((i, c)) = chars.next() {
            match quote {
                Some(q) if c == q => quote = None,
                Some(_) if c == '\\' => {
                    if let Some((_, n)) = chars.next() {
                        word.push(n);
                    }
                }
                Some(_) => word.push(c),
                None if c.is_whitespace() => {
                    end = i;
                    break;
                }
                None if c == '"' || c == '\'' => quote = Some(c),
                None if c == '\\' => {
                    if let Some((_, n)) = chars.next() {
                        word.push(n);
                    }
                }
                None => word.push(c),
            }
        }
        rest = rest[end..].trim_start();
        if word == "--" {
            return (flags, rest);
        }
        flags.push(word);
    }
}

/// Docker's word splitter for ENV, LABEL and ARG: whitespace separates words
/// except inside quotes or after the escape character; quotes and escapes
/// stay in the word.
pub fn parse_words(text: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    // Set when a quote was seen, so `""` still yields an (empty) word.
    let mut blank_ok = false;
    let mut quote: Option<char> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
                word.push(c);
            } else if c == escape && q != '\'' {
                match chars.next() {
                    Some(n) => {
                        word.push(c);
                        word.push(n);
                    }
                    None => quote = None,
                }
            } else {
                word.push(c);
            }
            continue;
        }
        if c.is_whitespace() {
            if in_word && (blank_ok || !word.is_empty()) {
                words.push(std::mem::take(&mut word));
            }
            word.clear();
            in_word = false;
            blank_ok = false;
            continue;
        }
        in_word = true;
        if c == '\'' || c == '"' {
            quote = Some(c);
            blank_ok = true;
            word.push(c);
        } else if c == escape {
            if let Some(n) = chars.next() {
                word.push(c);
                word.push(n);
            }
        } else {
            word.push(c);
        }
    }
    if in_word && (blank_ok || !word.is_empty()) {
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyword_split() {
        assert_eq!(split_keyword("  run   echo hi "), ("run", "echo hi"));
        assert_eq!(split_keyword("CMD"), ("CMD", ""));
    }

    #[test]
    fn flags_stop_at_first_plain_word() {
        let (flags, rest) = extract_flags("--from=build --chown=1:1 a b --link");
        assert_eq!(flags, vec!["--from=build", "--chown=1:1"]);
        assert_eq!(rest, "a b --link");
    }

    #[test]
    fn flags_remove_quotes_and_stop_at_double_dash() {
        let (flags, rest) = extract_flags("--chown=\"a b\" -- --weird-file /x");
        assert_eq!(flags, vec!["--chown=a b"]);
        assert_eq!(rest, "--weird-file /x");
    }

    #[test]
    fn words_keep_quotes_and_escapes() {
        assert_eq!(
            parse_words(r#"a="x y" b=c\ d e='f g'"#, '\\'),
            vec![r#"a="x y""#, r"b=c\ d", "e='f g'"]
        );
    }

    #[test]
    fn words_with_backtick_escape() {
        assert_eq!(parse_words("a=b` c d", '`'), vec!["a=b` c", "d"]);
    }

    #[test]
    fn empty_quoted_word_survives() {
        assert_eq!(parse_words(r#"a "" b"#, '\\'), vec!["a", "\"\"", "b"]);
    }
}
