//! The configuration snippets README.md gives users ("Using rt in place of
//! runc"): tests read them from the README itself, so the documented
//! configuration is the one CI runs.

use std::path::Path;

/// The path the snippets install rt at; tests put the binary under test there.
pub const INSTALLED_RT: &str = "/usr/local/bin/rt";

/// The fenced block that follows `<!-- snippet: NAME -->` in README.md,
/// with [`INSTALLED_RT`] replaced by the runtime under test.
pub fn snippet(name: &str) -> String {
    let body = snippet_raw(name);
    assert!(
        body.contains(INSTALLED_RT),
        "snippet {name} does not name {INSTALLED_RT}"
    );
    body.replace(INSTALLED_RT, &super::rt_bin().to_string_lossy())
}

/// The fenced block that follows `<!-- snippet: NAME -->` in README.md, as is.
pub fn snippet_raw(name: &str) -> String {
    let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let text = std::fs::read_to_string(&readme).expect("read README.md");
    let marker = format!("<!-- snippet: {name} -->");
    let start = text
        .find(&marker)
        .unwrap_or_else(|| panic!("README.md has no snippet {name}"));
    let mut lines = text[start + marker.len()..]
        .lines()
        .skip_while(|l| l.trim().is_empty());
    let fence = lines.next().unwrap_or_default();
    assert!(
        fence.starts_with("```"),
        "snippet {name}: no code block after the marker"
    );
    let mut body = String::new();
    for line in lines.by_ref() {
        if line.starts_with("```") {
            return body;
        }
        body.push_str(line);
        body.push('\n');
    }
    panic!("snippet {name}: code block is not closed");
}
