//! `RUN --mount=type=cache,target=/root/.cache,sharing=locked`: parsed into
//! its type and fields now so typos fail at parse time, long before a RUN.

use super::error::{QUOTE_CHARS, quote, shorten};

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
        return Err(format!(
            "unterminated quote in --mount={}",
            shorten(spec, QUOTE_CHARS)
        ));
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
        let need = |v: Option<String>| {
            v.ok_or_else(|| format!("--mount key {} needs a value", quote(&key)))
        };
        match key.as_str() {
            "type" => {
                let v = need(value)?;
                if !TYPES.contains(&v.as_str()) {
                    return Err(format!(
                        "unsupported mount type {} (expected one of {})",
                        quote(&v),
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
            return Err(format!(
                "unexpected key {} for --mount type={kind}",
                quote(&key)
            ));
        }
        options.insert(key, value);
    }
    if target.is_none() && matches!(kind.as_str(), "bind" | "cache" | "tmpfs") {
        return Err(format!("--mount type={kind} requires a target"));
    }
    for (key, value) in &options {
        validate_option(key, value)?;
    }
    if let Some(s) = options.get("sharing")
        && !matches!(s.as_str(), "shared" | "private" | "locked")
    {
        return Err(format!(
            "invalid sharing mode {} (shared, private or locked)",
            quote(s)
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

fn parse_bool(key: &str, value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(format!(
            "--mount {key}={}: expected true or false",
            shorten(value, QUOTE_CHARS)
        )),
    }
}

/// Values are checked at parse time so a typo fails before any RUN.
fn validate_option(key: &str, value: &str) -> Result<(), String> {
    match key {
        "mode" => parse_mode(value).map(|_| ()),
        "uid" | "gid" => value.parse::<u32>().map(|_| ()).map_err(|_| {
            format!(
                "--mount {key}={}: expected a numeric id",
                shorten(value, QUOTE_CHARS)
            )
        }),
        "size" => parse_size(value).map(|_| ()),
        "required" | "readonly" | "ro" | "readwrite" | "rw" => parse_bool(key, value).map(|_| ()),
        "id" | "env" if value.is_empty() => Err(format!("--mount {key}= needs a value")),
        _ => Ok(()),
    }
}

/// An octal file mode (`0755`, `755`).
pub fn parse_mode(value: &str) -> Result<u32, String> {
    u32::from_str_radix(value, 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| {
            format!(
                "--mount mode={}: expected an octal mode such as 0755",
                shorten(value, QUOTE_CHARS)
            )
        })
}

/// A byte size as Docker reads it: a number with an optional binary unit
/// (`64m`, `1GiB`, `512kb`, `100`).
pub fn parse_size(value: &str) -> Result<u64, String> {
    let bad = || {
        format!(
            "--mount size={}: expected a size such as 64m or 1g",
            shorten(value, QUOTE_CHARS)
        )
    };
    let v = value.trim();
    let split = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let n: f64 = num.parse().map_err(|_| bad())?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => return Err(bad()),
    };
    Ok((n * mult as f64) as u64)
}

impl Mount {
    fn flag(&self, key: &str) -> Option<bool> {
        self.options.get(key).and_then(|v| parse_bool(key, v).ok())
    }

    /// bind mounts are read-only unless rw; cache mounts writable unless ro.
    pub fn readonly(&self) -> bool {
        let ro = self.flag("readonly").or(self.flag("ro"));
        let rw = self.flag("readwrite").or(self.flag("rw"));
        match (ro, rw) {
            (Some(r), _) => r,
            (None, Some(w)) => !w,
            (None, None) => self.kind == "bind",
        }
    }

    pub fn required(&self) -> bool {
        self.flag("required").unwrap_or(false)
    }

    pub fn number(&self, key: &str) -> Option<u32> {
        self.options.get(key).and_then(|v| v.parse().ok())
    }

    pub fn mode(&self) -> Option<u32> {
        self.options.get("mode").and_then(|v| parse_mode(v).ok())
    }
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
        assert!(
            parse_mount("type=cache,target=/t,mode=999")
                .unwrap_err()
                .contains("octal")
        );
        assert!(
            parse_mount("type=cache,target=/t,uid=bob")
                .unwrap_err()
                .contains("numeric")
        );
        assert!(
            parse_mount("type=tmpfs,target=/t,size=lots")
                .unwrap_err()
                .contains("size")
        );
        assert!(
            parse_mount("type=secret,id=a,required=maybe")
                .unwrap_err()
                .contains("true or false")
        );
    }

    #[test]
    fn sizes_and_readonly_defaults() {
        assert_eq!(parse_size("64m").unwrap(), 64 << 20);
        assert_eq!(parse_size("1GiB").unwrap(), 1 << 30);
        assert_eq!(parse_size("100").unwrap(), 100);
        assert!(parse_mount("target=/a").unwrap().readonly());
        assert!(!parse_mount("target=/a,rw").unwrap().readonly());
        assert!(!parse_mount("type=cache,target=/a").unwrap().readonly());
        assert!(parse_mount("type=cache,target=/a,ro").unwrap().readonly());
        assert!(!parse_mount("target=/a,readonly=false").unwrap().readonly());
    }
}
