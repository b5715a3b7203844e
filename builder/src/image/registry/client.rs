//! One repository on one registry, spoken to through the distribution
//! API: scheme choice (plain HTTP for loopback, as Docker does; HTTPS
//! otherwise unless `--insecure-registry`), authentication on demand
//! (anonymous first; a 401's challenge is answered with Basic credentials
//! or a Bearer token and the request retried once) and error messages
//! that carry the registry's own error codes.

use super::Settings;
use super::auth::{self, Challenge};
use super::credentials::{self, Credentials};
use super::http::{self, Transport};
use super::reference::{self, Reference};
use std::path::PathBuf;
use std::sync::Mutex;
use ureq::http::{Method, Response};

/// Token answers and error documents are small; more is refused.
const MAX_SMALL_BODY: u64 = 1 << 20;

/// A request body that can be sent again after a 401.
pub enum Body<'a> {
    Empty,
    Bytes(&'a [u8]),
    File(PathBuf),
}

pub struct Client {
    agent: ureq::Agent,
    /// `https://host:port` (no trailing slash).
    base: String,
    pub registry: String,
    pub repository: String,
    creds: Option<Credentials>,
    /// The Authorization header value in use, once the registry asked.
    authorization: Mutex<Option<String>>,
    /// Token scopes: this repository's (pull, or pull,push) and any other
    /// repository we mount blobs from.
    scopes: Mutex<Vec<String>>,
}

impl Client {
    /// A client for `reference`'s repository; `push` asks for push rights
    /// too. Credentials come from Docker's config.json.
    pub fn new(settings: &Settings, reference: &Reference, push: bool) -> Result<Client, String> {
        let creds = credentials::lookup(&reference.registry)?;
        let mut c = Client::with_credentials(
            settings,
            &reference.registry,
            reference.api_host(),
            &reference.repository,
            creds,
        )?;
        let actions = if push { "pull,push" } else { "pull" };
        c.scopes = Mutex::new(vec![format!(
            "repository:{}:{actions}",
            reference.repository
        )]);
        Ok(c)
    }

    pub fn with_credentials(
        settings: &Settings,
        registry: &str,
        api_host: &str,
        repository: &str,
        creds: Option<Credentials>,
    ) -> Result<Client, String> {
        let tls = settings.uses_tls(registry);
        let agent = http::agent_with_cas(
            Transport {
                tls,
                loopback: reference::is_loopback(api_host),
            },
            &if tls {
                settings.ca_files(registry)
            } else {
                Vec::new()
            },
        )
        .map_err(|e| format!("registry {registry}: {e}"))?;
        Ok(Client {
            agent,
            base: format!("{}://{api_host}", if tls { "https" } else { "http" }),
            registry: registry.to_string(),
            repository: repository.to_string(),
            creds,
            authorization: Mutex::new(None),
            scopes: Mutex::new(Vec::new()),
        })
    }

    /// Adds a token scope (pull rights on a repository we mount from).
    pub fn add_scope(&self, scope: String) {
        let mut s = self.scopes.lock().unwrap_or_else(|p| p.into_inner());
        if !s.contains(&scope) {
            s.push(scope);
            // A new scope needs a new token: ask again on the next 401.
        }
    }

    /// `BASE/v2/REPO/rest`.
    pub fn url(&self, rest: &str) -> String {
        format!("{}/v2/{}/{rest}", self.base, self.repository)
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends a request, answering one 401 with the challenge it carries.
    pub fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Body<'_>,
    ) -> Result<Response<ureq::Body>, String> {
        let first = self.send_once(&method, url, headers, &body)?;
        if first.status().as_u16() != 401 {
            return Ok(first);
        }
        let challenge = http::header(&first, "www-authenticate")
            .and_then(|h| auth::parse_challenge(&h))
            .ok_or_else(|| {
                format!("{url}: HTTP 401 without a usable WWW-Authenticate challenge")
            })?;
        drop(first);
        self.authenticate(&challenge, url)?;
        let again = self.send_once(&method, url, headers, &body)?;
        if again.status().as_u16() == 401 {
            return Err(self.unauthorized(url));
        }
        Ok(again)
    }

    fn unauthorized(&self, url: &str) -> String {
        match &self.creds {
            Some(c) => format!(
                "{url}: unauthorized (HTTP 401) with the credentials of user {:?} for {}: wrong user name or password? (rt-build login {})",
                c.user, self.registry, self.registry
            ),
            None => format!(
                "{url}: unauthorized (HTTP 401): {} needs credentials (rt-build login {})",
                self.registry, self.registry
            ),
        }
    }

    fn send_once(
        &self,
        method: &Method,
        url: &str,
        headers: &[(&str, &str)],
        body: &Body<'_>,
    ) -> Result<Response<ureq::Body>, String> {
        let mut b = ureq::http::Request::builder()
            .method(method.clone())
            .uri(url);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        // Credentials go only to the registry itself, never to another
        // host a Location pointed at.
        if url.starts_with(&format!("{}/", self.base))
            && let Some(a) = self
                .authorization
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
        {
            b = b.header("Authorization", a);
        }
        let result = match body {
            Body::Empty => {
                let req = b.body(()).map_err(|e| format!("{url}: {e}"))?;
                self.agent.run(req)
            }
            Body::Bytes(data) => {
                let req = b.body(*data).map_err(|e| format!("{url}: {e}"))?;
                self.agent.run(req)
            }
            Body::File(path) => {
                let f =
                    std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
                let req = b.body(f).map_err(|e| format!("{url}: {e}"))?;
                self.agent.run(req)
            }
        };
        result.map_err(|e| http::describe(url, &e))
    }

    /// Answers a challenge: Basic with the stored credentials, Bearer by
    /// fetching a token for our scopes (with the credentials, if any).
    fn authenticate(&self, ch: &Challenge, url: &str) -> Result<(), String> {
        let value = match ch.scheme.as_str() {
            "basic" => {
                let c = self.creds.as_ref().ok_or_else(|| self.unauthorized(url))?;
                auth::basic_header(&c.user, &c.password)
            }
            "bearer" => {
                let scopes = self
                    .scopes
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone();
                let token = self.fetch_token(ch, &scopes)?;
                format!("Bearer {token}")
            }
            other => {
                return Err(format!(
                    "{url}: the registry asks for {other:?} authentication (Basic and Bearer are supported)"
                ));
            }
        };
        *self.authorization.lock().unwrap_or_else(|p| p.into_inner()) = Some(value);
        Ok(())
    }

    fn fetch_token(&self, ch: &Challenge, scopes: &[String]) -> Result<String, String> {
        let url =
            auth::token_url(ch, scopes).map_err(|e| format!("registry {}: {e}", self.registry))?;
        let mut b = ureq::http::Request::builder().method(Method::GET).uri(&url);
        if let Some(c) = &self.creds {
            b = b.header("Authorization", auth::basic_header(&c.user, &c.password));
        }
        let req = b.body(()).map_err(|e| format!("{url}: {e}"))?;
        let resp = self.agent.run(req).map_err(|e| http::describe(&url, &e))?;
        let status = resp.status().as_u16();
        if status == 401 || status == 403 {
            return Err(self.unauthorized(&url));
        }
        if status != 200 {
            return Err(status_error(resp, &format!("token from {url}")));
        }
        let body = http::read_limited(
            resp.into_body(),
            MAX_SMALL_BODY,
            &format!("token from {url}"),
        )?;
        auth::token_from_json(&body).map_err(|e| format!("{url}: {e}"))
    }

    /// `GET /v2/`: reachability, and whatever authentication the registry
    /// wants, settled before the real requests (so uploads are not sent
    /// twice). With credentials, a 200 here proves them good.
    pub fn ping(&self) -> Result<(), String> {
        let url = format!("{}/v2/", self.base);
        let resp = self.send(Method::GET, &url, &[], Body::Empty)?;
        match resp.status().as_u16() {
            200 => Ok(()),
            404 => Err(format!(
                "{url}: HTTP 404: not an OCI distribution (v2) registry"
            )),
            _ => Err(status_error(resp, &format!("registry {}", self.registry))),
        }
    }
}

/// An unexpected status as a message: the status, and the registry's
/// error codes and messages when it sent an error document.
pub fn status_error(resp: Response<ureq::Body>, what: &str) -> String {
    let status = resp.status();
    let body = http::read_limited(resp.into_body(), 64 << 10, what).unwrap_or_default();
    #[derive(serde::Deserialize)]
    struct Doc {
        #[serde(default)]
        errors: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    let detail = match serde_json::from_slice::<Doc>(&body) {
        Ok(d) if !d.errors.is_empty() => d
            .errors
            .iter()
            .map(|e| format!("{}: {}", e.code, e.message))
            .collect::<Vec<_>>()
            .join("; "),
        _ => String::from_utf8_lossy(&body[..body.len().min(200)])
            .trim()
            .to_string(),
    };
    if detail.is_empty() {
        format!("{what}: HTTP status {status}")
    } else {
        format!("{what}: HTTP status {status}: {detail}")
    }
}
