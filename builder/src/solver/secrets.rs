//! Build secrets given on the command line, as `docker buildx build
//! --secret` takes them: `id=X,src=FILE` (or `source=`), `id=X,env=VAR`,
//! `type=file|env`. Without src/env the secret comes from the environment
//! variable named like the id when it is set, else from the file named
//! like the id; without id, the id is the source file's base name.
//! Contents are read when a RUN mounts them and never enter a cache key,
//! a layer or the history.

use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    File(PathBuf),
    Env(String),
}

pub type Secrets = BTreeMap<String, SecretSource>;

/// Parses one `--secret` value.
pub fn parse(spec: &str) -> Result<(String, SecretSource), String> {
    let mut id = None;
    let mut kind = None;
    let mut src = None;
    let mut env = None;
    for field in spec.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        let (k, v) = field
            .split_once('=')
            .ok_or_else(|| format!("--secret {spec:?}: {field:?} is not key=value"))?;
        match k.to_ascii_lowercase().as_str() {
            "id" => id = Some(v.to_string()),
            "type" => match v {
                "file" | "env" => kind = Some(v.to_string()),
                _ => return Err(format!("--secret {spec:?}: type must be file or env")),
            },
            "src" | "source" => src = Some(v.to_string()),
            "env" => env = Some(v.to_string()),
            _ => {
                return Err(format!(
                    "--secret {spec:?}: unexpected key {k:?} (id, type, src, env)"
                ));
            }
        }
    }
    let id = match (id, &src) {
        (Some(i), _) if !i.is_empty() => i,
        (_, Some(s)) => std::path::Path::new(s)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| format!("--secret {spec:?}: no id"))?,
        _ => return Err(format!("--secret {spec:?}: id is required")),
    };
    let source = match (kind.as_deref(), src, env) {
        (Some("env"), Some(s), None) | (_, None, Some(s)) => SecretSource::Env(s),
        (Some("env"), None, None) => SecretSource::Env(id.clone()),
        (_, Some(s), None) => SecretSource::File(PathBuf::from(s)),
        (_, Some(_), Some(_)) => {
            return Err(format!("--secret {spec:?}: give src or env, not both"));
        }
        (_, None, None) if std::env::var_os(&id).is_some() && kind.is_none() => {
            SecretSource::Env(id.clone())
        }
        (_, None, None) => SecretSource::File(PathBuf::from(&id)),
    };
    Ok((id, source))
}

pub fn parse_all(specs: &[String]) -> Result<Secrets, String> {
    let mut out = Secrets::new();
    for s in specs {
        let (id, src) = parse(s)?;
        out.insert(id, src);
    }
    Ok(out)
}

/// The secret's bytes; `None` when it was not given.
pub fn read(secrets: &Secrets, id: &str) -> Result<Option<Vec<u8>>, String> {
    match secrets.get(id) {
        None => Ok(None),
        Some(SecretSource::File(p)) => std::fs::read(p)
            .map(Some)
            .map_err(|e| format!("secret {id:?}: reading {}: {e}", p.display())),
        Some(SecretSource::Env(v)) => std::env::var_os(v)
            .map(|s| Some(s.into_encoded_bytes()))
            .ok_or_else(|| format!("secret {id:?}: environment variable {v} is not set")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(
            parse("id=tok,src=/run/t").unwrap(),
            ("tok".into(), SecretSource::File("/run/t".into()))
        );
        assert_eq!(
            parse("source=/a/b.txt").unwrap(),
            ("b.txt".into(), SecretSource::File("/a/b.txt".into()))
        );
        assert_eq!(
            parse("id=k,env=HOME").unwrap(),
            ("k".into(), SecretSource::Env("HOME".into()))
        );
        assert_eq!(
            parse("id=K,type=env").unwrap(),
            ("K".into(), SecretSource::Env("K".into()))
        );
        assert!(parse("src=/a,env=B,id=x").unwrap_err().contains("not both"));
        assert!(
            parse("id=x,color=red")
                .unwrap_err()
                .contains("unexpected key")
        );
        assert!(parse("type=env").unwrap_err().contains("id is required"));
    }
}
