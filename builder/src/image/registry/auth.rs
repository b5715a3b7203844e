//! Registry authentication: the `WWW-Authenticate` challenge of a 401
//! (RFC 7235 syntax), and the Bearer token dance of the distribution
//! token spec (GET realm?service=..&scope=.., with Basic credentials when
//! we have some, answer `{"token"|"access_token": ...}`).

use std::collections::BTreeMap;

/// A parsed challenge: the scheme (lowercase) and its parameters (names
/// lowercase, values unquoted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub scheme: String,
    pub params: BTreeMap<String, String>,
}

/// Parses the first challenge of a `WWW-Authenticate` value, e.g.
/// `Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"`.
/// Quoted values may hold commas and `\"`; a second challenge (`, Basic
/// realm=...`) ends the first.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let s = header.trim_start();
    let end = s.find(|c: char| c.is_whitespace()).unwrap_or(s.len());
    let scheme = &s[..end];
    if scheme.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return None;
    }
    let mut params = BTreeMap::new();
    let mut rest = s[end..].chars().peekable();
    loop {
        // Skip separators.
        while rest.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            rest.next();
        }
        let mut name = String::new();
        while let Some(&c) = rest.peek() {
            if c == '=' || c == ',' || c.is_whitespace() {
                break;
            }
            name.push(c);
            rest.next();
        }
        if name.is_empty() {
            break;
        }
        while rest.peek().is_some_and(|c| c.is_whitespace()) {
            rest.next();
        }
        if rest.peek() != Some(&'=') {
            // A token without `=`: the next challenge's scheme (or a
            // token68 we do not use). Stop here.
            break;
        }
        rest.next();
        while rest.peek().is_some_and(|c| c.is_whitespace()) {
            rest.next();
        }
        let mut value = String::new();
        if rest.peek() == Some(&'"') {
            rest.next();
            let mut closed = false;
            while let Some(c) = rest.next() {
                match c {
                    '\\' => {
                        if let Some(n) = rest.next() {
                            value.push(n);
                        }
                    }
                    '"' => {
                        closed = true;
                        break;
                    }
                    c => value.push(c),
                }
            }
            if !closed {
                return None;
            }
        } else {
            while let Some(&c) = rest.peek() {
                if c == ',' || c.is_whitespace() {
                    break;
                }
                value.push(c);
                rest.next();
            }
        }
        params.insert(name.to_ascii_lowercase(), value);
    }
    Some(Challenge {
        scheme: scheme.to_ascii_lowercase(),
        params,
    })
}

/// `Authorization: Basic base64(user:pass)`.
pub fn basic_header(user: &str, pass: &str) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    format!("Basic {b64}")
}

/// The token URL for a Bearer challenge, with `scopes` (the challenge's
/// own scope when none given).
pub fn token_url(ch: &Challenge, scopes: &[String]) -> Result<String, String> {
    let realm = ch
        .params
        .get("realm")
        .filter(|r| r.starts_with("https://") || r.starts_with("http://"))
        .ok_or_else(|| format!("Bearer challenge without an http(s) realm: {:?}", ch.params))?;
    let mut query = Vec::new();
    if let Some(svc) = ch.params.get("service") {
        query.push(format!("service={}", encode(svc)));
    }
    let mut all: Vec<&str> = scopes.iter().map(String::as_str).collect();
    if let Some(sc) = ch.params.get("scope") {
        // A challenge may list several scopes separated by spaces.
        for one in sc.split(' ').filter(|x| !x.is_empty()) {
            if !all.contains(&one) {
                all.push(one);
            }
        }
    }
    for sc in all {
        query.push(format!("scope={}", encode(sc)));
    }
    let sep = if realm.contains('?') { '&' } else { '?' };
    Ok(if query.is_empty() {
        realm.clone()
    } else {
        format!("{realm}{sep}{}", query.join("&"))
    })
}

/// Percent-encodes a query value (RFC 3986 unreserved characters kept).
pub fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The token in a token-server answer (`token`, or OAuth2's
/// `access_token`).
pub fn token_from_json(body: &[u8]) -> Result<String, String> {
    #[derive(serde::Deserialize)]
    struct Answer {
        token: Option<String>,
        access_token: Option<String>,
    }
    let a: Answer =
        serde_json::from_slice(body).map_err(|e| format!("token answer: invalid JSON: {e}"))?;
    a.token
        .filter(|t| !t.is_empty())
        .or(a.access_token.filter(|t| !t.is_empty()))
        .filter(|t| t.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| "token answer holds no usable token".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_bearer_challenge() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#,
        )
        .unwrap();
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.params["realm"], "https://auth.docker.io/token");
        assert_eq!(c.params["service"], "registry.docker.io");
        assert_eq!(c.params["scope"], "repository:library/busybox:pull");
        assert_eq!(
            token_url(&c, &[]).unwrap(),
            "https://auth.docker.io/token?service=registry.docker.io&scope=repository%3Alibrary%2Fbusybox%3Apull"
        );
        // Extra scopes come first, the challenge's is not repeated.
        let u = token_url(
            &c,
            &[
                "repository:a:pull".into(),
                "repository:library/busybox:pull".into(),
            ],
        )
        .unwrap();
        assert_eq!(u.matches("scope=").count(), 2, "{u}");
    }

    #[test]
    fn quoting_spacing_and_other_forms() {
        let c = parse_challenge(r#"Basic realm="Registry Realm, \"x\"""#).unwrap();
        assert_eq!(c.scheme, "basic");
        assert_eq!(c.params["realm"], r#"Registry Realm, "x""#);
        let c = parse_challenge("bearer  Realm = https://a/t , service=s").unwrap();
        assert_eq!(c.params["realm"], "https://a/t");
        assert_eq!(c.params["service"], "s");
        // A second challenge ends the first.
        let c = parse_challenge(r#"Bearer realm="https://a/t", Basic realm="b""#).unwrap();
        assert_eq!(c.params.len(), 1);
        assert_eq!(parse_challenge("Basic").unwrap().params.len(), 0);
        assert!(parse_challenge("").is_none());
        assert!(parse_challenge(r#"Bearer realm="open"#).is_none());
        assert!(parse_challenge("Bé realm=x").is_none());
        // A realm that is not an http(s) URL is refused.
        let c = parse_challenge(r#"Bearer realm="file:///etc/passwd""#).unwrap();
        assert!(token_url(&c, &[]).is_err());
    }

    #[test]
    fn tokens() {
        assert_eq!(token_from_json(br#"{"token":"abc"}"#).unwrap(), "abc");
        assert_eq!(
            token_from_json(br#"{"access_token":"x","expires_in":3}"#).unwrap(),
            "x"
        );
        assert!(token_from_json(br#"{"token":""}"#).is_err());
        assert!(token_from_json(br#"{"token":"a\nb"}"#).is_err());
        assert!(token_from_json(b"nope").is_err());
        assert_eq!(basic_header("user", "pass"), "Basic dXNlcjpwYXNz");
    }
}
