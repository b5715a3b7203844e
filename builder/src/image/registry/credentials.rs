//! Credentials in Docker's `config.json` (`$DOCKER_CONFIG/config.json`,
//! default `~/.docker/config.json`): `auths` maps a registry (written as
//! `host[:port]`, or as a URL like `https://index.docker.io/v1/`) to
//! `{"auth": base64("user:pass")}`. We read what `docker login` wrote and
//! write the same form, keeping every other field of the file. Credential
//! helpers (`credHelpers`, `credsStore`: `docker-credential-NAME get`) are
//! asked first when configured; `login` still writes to `auths`.

use super::reference::{DOCKER_HUB, DOCKER_HUB_AUTH_KEY};
use base64::Engine;
use serde_json::{Map, Value};
use std::path::PathBuf;

/// config.json larger than this is not a Docker client config.
const MAX_CONFIG: u64 = 4 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

/// `$DOCKER_CONFIG/config.json`, or `$HOME/.docker/config.json`.
pub fn config_path() -> PathBuf {
    if let Some(d) = std::env::var_os("DOCKER_CONFIG").filter(|v| !v.is_empty()) {
        return PathBuf::from(d).join("config.json");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".docker/config.json")
}

/// The `auths` key for a registry: Docker Hub keeps its historical URL.
fn key_for(registry: &str) -> String {
    if registry == DOCKER_HUB {
        DOCKER_HUB_AUTH_KEY.to_string()
    } else {
        registry.to_string()
    }
}

/// `https://host:port/v2/` → `host:port`, so keys in any form match.
fn normalize_key(key: &str) -> String {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let k = k.split('/').next().unwrap_or(k);
    match k {
        "index.docker.io" | "registry-1.docker.io" | "docker.io" => DOCKER_HUB.to_string(),
        other => other.to_string(),
    }
}

fn read_config() -> Result<Map<String, Value>, String> {
    let path = config_path();
    let meta = match std::fs::metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Map::new()),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    if meta.len() > MAX_CONFIG {
        return Err(format!(
            "{}: larger than {MAX_CONFIG} bytes",
            path.display()
        ));
    }
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(format!("{}: not a JSON object", path.display())),
        Err(e) => Err(format!("{}: invalid JSON: {e}", path.display())),
    }
}

/// The credentials for `registry`, if any: from its credential helper
/// (`credHelpers`, else `credsStore`) when one is configured, else (or
/// when the helper has none) from `auths`.
pub fn lookup(registry: &str) -> Result<Option<Credentials>, String> {
    let config = read_config()?;
    let want = normalize_key(&key_for(registry));
    let helper = config
        .get("credHelpers")
        .and_then(Value::as_object)
        .and_then(|m| {
            m.iter()
                .find(|(k, _)| normalize_key(k) == want)
                .and_then(|(_, v)| v.as_str())
        })
        .or_else(|| config.get("credsStore").and_then(Value::as_str))
        .filter(|h| !h.is_empty());
    if let Some(h) = helper
        && let Some(c) = from_helper(h, &key_for(registry))?
    {
        return Ok(Some(c));
    }
    let Some(Value::Object(auths)) = config.get("auths") else {
        return Ok(None);
    };
    for (k, v) in auths {
        if normalize_key(k) != want {
            continue;
        }
        if let Some(a) = v
            .get("auth")
            .and_then(Value::as_str)
            .filter(|a| !a.is_empty())
        {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(a.trim())
                .map_err(|e| {
                    format!(
                        "{}: auths[{k:?}].auth: not base64: {e}",
                        config_path().display()
                    )
                })?;
            let text = String::from_utf8(raw).map_err(|_| {
                format!("{}: auths[{k:?}].auth: not UTF-8", config_path().display())
            })?;
            let (user, password) = text.split_once(':').ok_or_else(|| {
                format!(
                    "{}: auths[{k:?}].auth: expected base64(user:password)",
                    config_path().display()
                )
            })?;
            return Ok(Some(Credentials {
                user: user.to_string(),
                password: password.to_string(),
            }));
        }
        if let (Some(u), Some(p)) = (
            v.get("username").and_then(Value::as_str),
            v.get("password").and_then(Value::as_str),
        ) {
            return Ok(Some(Credentials {
                user: u.to_string(),
                password: p.to_string(),
            }));
        }
    }
    Ok(None)
}

/// A credential helper's run may not take longer than this.
const HELPER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Asks `docker-credential-HELPER get` (Docker's credential-helper
/// protocol: the server on stdin, `{"Username","Secret"}` on stdout) for
/// `server`'s credentials. "Not found" is `None`.
fn from_helper(helper: &str, server: &str) -> Result<Option<Credentials>, String> {
    use std::io::{Read, Write};
    use std::process::{Command, Stdio};
    if !helper
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(format!(
            "{}: credential helper {helper:?} is not a plain name",
            config_path().display()
        ));
    }
    let program = format!("docker-credential-{helper}");
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("credential helper {program}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that does not read its input is not our failure.
        let _ = stdin.write_all(server.as_bytes());
    }
    // The output is read on a thread so a helper that hangs cannot hang us.
    let mut stdout = child.stdout.take();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut out = Vec::new();
        if let Some(s) = stdout.as_mut() {
            let _ = s.take(64 << 10).read_to_end(&mut out);
        }
        let _ = tx.send(out);
    });
    let deadline = std::time::Instant::now() + HELPER_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "credential helper {program}: no answer in {}s",
                    HELPER_TIMEOUT.as_secs()
                ));
            }
            Err(e) => return Err(format!("credential helper {program}: {e}")),
        }
    };
    // A grandchild may still hold the pipe open: do not wait for it long.
    let out = rx
        .recv_timeout(std::time::Duration::from_secs(2))
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&out);
    if !status.success() {
        if text.contains("credentials not found") {
            return Ok(None);
        }
        return Err(format!(
            "credential helper {program} get {server}: {status}: {}",
            text.trim()
        ));
    }
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(rename = "Username", default)]
        username: String,
        #[serde(rename = "Secret", default)]
        secret: String,
    }
    let a: Answer = serde_json::from_slice(&out)
        .map_err(|e| format!("credential helper {program}: invalid answer: {e}"))?;
    if a.username == "<token>" {
        return Err(format!(
            "credential helper {program} holds an identity token for {server}, which rt-build cannot use"
        ));
    }
    if a.username.is_empty() && a.secret.is_empty() {
        return Ok(None);
    }
    Ok(Some(Credentials {
        user: a.username,
        password: a.secret,
    }))
}

/// Writes (or with `None` removes) `registry`'s entry; returns whether an
/// entry was there before. The file is written atomically, mode 0600: it
/// holds passwords.
pub fn store(registry: &str, creds: Option<&Credentials>) -> Result<bool, String> {
    let path = config_path();
    let mut config = read_config()?;
    let auths = config
        .entry("auths")
        .or_insert_with(|| Value::Object(Map::new()));
    if !auths.is_object() {
        *auths = Value::Object(Map::new());
    }
    let Value::Object(auths) = auths else {
        return Err(format!("{}: auths is not an object", path.display()));
    };
    let want = normalize_key(&key_for(registry));
    let before = auths.len();
    auths.retain(|k, _| normalize_key(k) != want);
    let existed = auths.len() != before;
    if let Some(c) = creds {
        let auth =
            base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", c.user, c.password));
        auths.insert(key_for(registry), serde_json::json!({ "auth": auth }));
    }
    let dir = path
        .parent()
        .ok_or_else(|| format!("{}: no parent directory", path.display()))?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let text = serde_json::to_vec_pretty(&Value::Object(config))
        .map_err(|e| format!("encoding {}: {e}", path.display()))?;
    let tmp = dir.join(format!(".config.json.{}", std::process::id()));
    let result = (|| {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| format!("{}: {e}", tmp.display()))?;
        f.write_all(&text)
            .and_then(|()| f.sync_all())
            .map_err(|e| format!("{}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, &path).map_err(|e| format!("{}: {e}", path.display()))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map(|()| existed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_in_any_form_match() {
        assert_eq!(normalize_key("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(normalize_key("http://h:5000/v2/"), "h:5000");
        assert_eq!(normalize_key("h:5000"), "h:5000");
        assert_eq!(key_for("docker.io"), DOCKER_HUB_AUTH_KEY);
    }
}
