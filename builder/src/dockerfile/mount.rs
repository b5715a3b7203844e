//! `RUN --mount=type=cache,target=/root/.cache,sharing=locked`: parsed into
//! its type and fields now so typos fail at parse time, long before a RUN.

use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mount {
    /// bind (default), cache, tmpfs, secret or ssh.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// A stage name/index or an image: a build-graph dependency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Every other key (id, sharing, mode, uid, gid, size, required, env,
    /// readonly/rw), value-less keys stored as "true".
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
}

const TYPES: &[&str] = &["bind", "cache", "tmpfs", "secret", "ssh"];

/// Keys each mount type accepts besides type/target/source/from.
fn allowed_options(kind: &str) -> &'static [&'static str] {
    match kind {
        "bind" => &["readonly", "ro", "readwrite", "rw"],
        "cache" => &[
            "id",
            "sharing",
            "mode",
            "uid",
            "gid",
            "readonly",
            "ro",
            "readwrite",
            "rw",
        ],
        "tmpfs" => &["size"],
        "secret" => &["id", "env", "required", "mode", "uid", "gid"],
        _ => &["id", "required", "mode", "uid", "gid"],
    }
}

/// Splits on commas outside double quotes, removing the quotes (CSV-like,
/// as Docker reads the flag value).
fn split_fields(spec: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    for c in spec.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    if quoted {
        return Err(format!("unterminated quote in --mount={spec}"));
    }
    fields.push(field);
    Ok(fields)
}

pub fn parse_mount(spec: &str) -> Result<Mount, String> {
    let mut kind = "bind".to_string();
    let mut target = None;
    let mut source = None;
    let mut from = None;
    let mut pending: Vec<(String, String)> = Vec::new();
    for field in split_fields(spec)? {
        let field = field.trim();
        if field.is_empty() {
            continue;
        }
        let (key, value) = match field.split_once('=') {
            Some((k, v)) => (k.to_ascii_lowercase(), Some(v.to_string())),
            None => (field.to_ascii_lowercase(), None),
        };
        let need =
            |v: Option<String>| v.ok_or_else(|| format!("--mount key {key:?} needs a value"));
        match key.as_str() {
            "type" => {
                let v = need(value)?;
                if !TYPES.contains(&v.as_str()) {
                    return Err(format!(
                        "unsupported mount type {v:?} (expected one of {})",
                        TYPES.join(", ")
                    ));
                }
                kind = v;
            }
            "target" | "dst" | "destination" => target = Some(need(value)?),
            "source" | "src" => source = Some(need(value)?),
            "from" => from = Some(need(value)?),
            _ => pending.push((key, value.unwrap_or_else(|| "true".to_string()))),
        }
    }
    let allowed = allowed_options(&kind);
    let mut options = BTreeMap::new();
    for (key, value) in pending {
        if !allowed.contains(&key.as_str()) {
            return Err(format!("unexpected key {key:?} for --mount type={kind}"));
        }
        options.insert(key, value);
    }
    if target.is_none() && matches!(kind.as_str(), "bind" | "cache" | "tmpfs") {
        return Err(format!("--mount type={kind} requires a target"));
    }
    if let Some(s) = options.get("sharing")
        && !matches!(s.as_str(), "shared" | "private" | "locked")
    {
        return Err(format!(
            "invalid sharing mode {s:?} (shared, private or locked)"
        ));
    }
    Ok(Mount {
        kind,
        target,
        source,
        from,
        options,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_type_is_bind() {
        let m = parse_mount("target=/src,from=build,source=/out,ro").unwrap();
        assert_eq!(m.kind, "bind");
        assert_eq!(m.target.as_deref(), Some("/src"));
        assert_eq!(m.from.as_deref(), Some("build"));
        assert_eq!(m.source.as_deref(), Some("/out"));
        assert_eq!(m.options.get("ro").map(String::as_str), Some("true"));
    }

    #[test]
    fn cache_with_options() {
        let m = parse_mount("type=cache,target=/root/.cache,sharing=locked,id=pip").unwrap();
        assert_eq!(m.kind, "cache");
        assert_eq!(m.options.get("id").map(String::as_str), Some("pip"));
    }

    #[test]
    fn secret_needs_no_target() {
        let m = parse_mount("type=secret,id=tok,env=TOKEN").unwrap();
        assert_eq!(m.target, None);
    }

    #[test]
    fn errors() {
        assert!(
            parse_mount("type=nfs,target=/x")
                .unwrap_err()
                .contains("unsupported mount type")
        );
        assert!(
            parse_mount("type=cache")
                .unwrap_err()
                .contains("requires a target")
        );
        assert!(
            parse_mount("type=tmpfs,target=/t,sharing=x")
                .unwrap_err()
                .contains("unexpected key")
        );
        assert!(
            parse_mount("type=cache,target=/t,sharing=x")
                .unwrap_err()
                .contains("sharing")
        );
        assert!(parse_mount("target").unwrap_err().contains("needs a value"));
    }
}
