//! Image references as Docker reads them: `busybox` is
//! `docker.io/library/busybox:latest`; `host:port/repo:tag`,
//! `repo@sha256:...`. The first path component names a registry only when
//! it contains `.` or `:` or is `localhost` (Docker's rule), so
//! `team/app` stays on Docker Hub.

use std::fmt;

pub const DOCKER_HUB: &str = "docker.io";
/// Where Docker Hub's API really lives.
const DOCKER_HUB_API: &str = "registry-1.docker.io";
/// The key `docker login` writes Docker Hub credentials under.
pub const DOCKER_HUB_AUTH_KEY: &str = "https://index.docker.io/v1/";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `docker.io`, `host`, `host:port`.
    pub registry: String,
    /// `library/busybox`, `team/app`.
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl Reference {
    pub fn parse(s: &str) -> Result<Reference, String> {
        let bad = |why: &str| format!("invalid image reference {s:?}: {why}");
        if s.is_empty() || s.len() > 512 {
            return Err(bad("empty or too long"));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("contains white space"));
        }
        let (name, digest) = match s.split_once('@') {
            Some((n, d)) => {
                crate::image::digest::hex_part(d).map_err(|e| bad(&e))?;
                (n, Some(d.to_string()))
            }
            None => (s, None),
        };
        // A tag follows the last `:` that is after the last `/` (a `:`
        // before it is a registry port).
        let (name, tag) = match name.rsplit_once(':') {
            Some((n, t)) if !t.contains('/') => (n, Some(t.to_string())),
            _ => (name, None),
        };
        if let Some(t) = &tag
            && !valid_tag(t)
        {
            return Err(bad(&format!(
                "tag {t:?} must be 1-128 of [A-Za-z0-9_.-], not starting with . or -"
            )));
        }
        let (registry, path) = match name.split_once('/') {
            Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
                (first.to_string(), rest.to_string())
            }
            _ => (DOCKER_HUB.to_string(), name.to_string()),
        };
        let registry = match registry.as_str() {
            "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB.to_string(),
            _ => registry,
        };
        if !registry
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        {
            return Err(bad(&format!("registry {registry:?} is not a host[:port]")));
        }
        let repository = if registry == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        if repository.is_empty() || !repository.split('/').all(valid_component) {
            return Err(bad(
                "the repository must be lowercase letters, digits and separators (. _ - /)",
            ));
        }
        if repository.len() > 255 {
            return Err(bad("repository name longer than 255 characters"));
        }
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// The host (and port) the HTTP API is reached at.
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    /// What `/v2/<repo>/manifests/<object>` takes: the digest when there is
    /// one (it pins the content), else the tag, else `latest`.
    pub fn object(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }

    /// The name in Docker's short ("familiar") form, as the store keeps
    /// it: `busybox:latest`, `team/app:1`, `127.0.0.1:5000/app:1`.
    pub fn familiar(&self) -> String {
        let repo = if self.registry == DOCKER_HUB {
            self.repository
                .strip_prefix("library/")
                .unwrap_or(&self.repository)
                .to_string()
        } else {
            format!("{}/{}", self.registry, self.repository)
        };
        match (&self.tag, &self.digest) {
            (_, Some(d)) => match &self.tag {
                Some(t) => format!("{repo}:{t}@{d}"),
                None => format!("{repo}@{d}"),
            },
            (Some(t), None) => format!("{repo}:{t}"),
            (None, None) => format!("{repo}:latest"),
        }
    }
}

impl fmt::Display for Reference {
    /// The fully qualified form: `docker.io/library/busybox:latest`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        match (&self.tag, &self.digest) {
            (Some(t), Some(d)) => write!(f, ":{t}@{d}"),
            (None, Some(d)) => write!(f, "@{d}"),
            (Some(t), None) => write!(f, ":{t}"),
            (None, None) => write!(f, ":latest"),
        }
    }
}

fn valid_tag(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 128
        && !t.starts_with(['.', '-'])
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// A path component: lowercase alphanumerics joined by `.`, `_`, `__` or
/// runs of `-` (the distribution spec's grammar, checked loosely on the
/// separators).
fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: &u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    !b.is_empty()
        && b.first().is_some_and(alnum)
        && b.last().is_some_and(alnum)
        && b.iter().all(|x| alnum(x) || b"._-".contains(x))
        && !c.contains("..")
        && !c.contains("___")
}

/// `host[:port]` without the port (brackets of an IPv6 literal removed).
pub fn host_of(registry: &str) -> &str {
    if let Some(rest) = registry.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match registry.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => registry,
    }
}

/// A registry on this machine (127.0.0.0/8, ::1, localhost): Docker talks
/// plain HTTP to these without being told, and so do we.
pub fn is_loopback(registry: &str) -> bool {
    if let Ok(ip) = registry.parse::<std::net::IpAddr>() {
        return ip.is_loopback();
    }
    let host = host_of(registry);
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Reference {
        Reference::parse(s).unwrap()
    }

    #[test]
    fn docker_hub_defaults() {
        let r = p("busybox");
        assert_eq!(r.to_string(), "docker.io/library/busybox:latest");
        assert_eq!(r.api_host(), "registry-1.docker.io");
        assert_eq!(r.familiar(), "busybox:latest");
        assert_eq!(r.object(), "latest");
        let r = p("team/app:1.2");
        assert_eq!(r.to_string(), "docker.io/team/app:1.2");
        assert_eq!(r.familiar(), "team/app:1.2");
        assert_eq!(p("docker.io/library/busybox:1").familiar(), "busybox:1");
        assert_eq!(p("index.docker.io/busybox").registry, "docker.io");
    }

    #[test]
    fn registry_hosts_ports_and_digests() {
        let r = p("127.0.0.1:5000/busybox:1");
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
            ("127.0.0.1:5000", "busybox", Some("1"))
        );
        assert_eq!(r.familiar(), "127.0.0.1:5000/busybox:1");
        let r = p("localhost/a/b");
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str()),
            ("localhost", "a/b")
        );
        let r = p("localhost:5000/app");
        assert_eq!(r.object(), "latest");
        let d = format!("sha256:{}", "a".repeat(64));
        let r = p(&format!("quay.io/x/y@{d}"));
        assert_eq!(r.digest.as_deref(), Some(d.as_str()));
        assert_eq!(r.tag, None);
        assert_eq!(r.object(), d);
        let r = p(&format!("h.example:1/x:t@{d}"));
        assert_eq!((r.tag.as_deref(), r.object()), (Some("t"), d.as_str()));
        // Not a host: no dot, colon, or localhost.
        assert_eq!(p("myhost/app").registry, "docker.io");
        assert_eq!(p("myhost/app").repository, "myhost/app");
    }

    #[test]
    fn bad_references() {
        for bad in [
            "",
            "Busybox",
            "a b",
            "busybox:",
            "busybox:-x",
            "busybox@sha256:123",
            "busybox@md5:abc",
            "h.io/",
            "h.io//x",
            "x/-y",
            "x..y",
            "h.io/a$b",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(
            Reference::parse("Busybox")
                .unwrap_err()
                .contains("\"Busybox\"")
        );
    }

    #[test]
    fn loopback_hosts() {
        for l in [
            "127.0.0.1:5000",
            "127.9.9.9",
            "localhost",
            "localhost:1",
            "[::1]:5000",
            "::1",
        ] {
            assert!(is_loopback(l), "{l}");
        }
        for n in [
            "10.0.0.1:5000",
            "example.com",
            "localhost.example.com",
            "[::2]:1",
        ] {
            assert!(!is_loopback(n), "{n}");
        }
        assert_eq!(host_of("h:5000"), "h");
        assert_eq!(host_of("[::1]:5000"), "::1");
    }
}
