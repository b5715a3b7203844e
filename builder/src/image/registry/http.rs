//! The HTTP client rt-build uses everywhere (registries, ADD URLs): a ureq
//! agent over rustls with the ring provider and the system's roots
//! (rustls-native-certs: /etc/ssl/certs, or SSL_CERT_FILE / SSL_CERT_DIR),
//! with timeouts on every phase so a silent peer cannot hang a build.

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use ureq::tls::{Certificate, RootCerts, TlsConfig};

/// The trusted roots, loaded once per process.
fn roots() -> Result<Arc<Vec<Certificate<'static>>>, String> {
    static ROOTS: OnceLock<Result<Arc<Vec<Certificate<'static>>>, String>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            let certs: Vec<Certificate<'static>> = found
                .certs
                .iter()
                .map(|c| Certificate::from_der(c.as_ref()).to_owned())
                .collect();
            if certs.is_empty() {
                let why: Vec<String> = found.errors.iter().map(|e| e.to_string()).collect();
                return Err(format!(
                    "no trusted CA certificates found (/etc/ssl/certs, SSL_CERT_FILE, SSL_CERT_DIR){}",
                    if why.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", why.join("; "))
                    }
                ));
            }
            Ok(Arc::new(certs))
        })
        .clone()
}

/// How a request's peer is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transport {
    /// TLS will be used (the roots must load).
    pub tls: bool,
    /// The peer is on this machine: no proxy from the environment.
    pub loopback: bool,
}

/// An agent for `transport`. Status codes are returned, not turned into
/// errors: callers name the URL and what they wanted in their messages.
pub fn agent(transport: Transport) -> Result<ureq::Agent, String> {
    agent_with_cas(transport, &[])
}

/// An agent that also trusts the CA certificates (PEM) in `extra_ca`: a
/// registry's own CA (Docker's certs.d).
pub fn agent_with_cas(transport: Transport, extra_ca: &[PathBuf]) -> Result<ureq::Agent, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = if transport.tls && !extra_ca.is_empty() {
        let mut all: Vec<Certificate<'static>> = roots().map(|r| r.to_vec()).unwrap_or_default();
        for path in extra_ca {
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            for c in certs {
                let c = c.map_err(|e| format!("{}: {e}", path.display()))?;
                all.push(Certificate::from_der(c.as_ref()).to_owned());
            }
        }
        RootCerts::Specific(Arc::new(all))
    } else if transport.tls {
        RootCerts::Specific(roots()?)
    } else {
        // Never used for http://, but ureq wants a TLS config: an empty
        // root set fails closed if a redirect goes to https.
        roots()
            .map(RootCerts::Specific)
            .unwrap_or_else(|_| RootCerts::Specific(Arc::new(Vec::new())))
    };
    let tls = TlsConfig::builder()
        .unversioned_rustls_crypto_provider(provider)
        .root_certs(roots)
        .build();
    let mut cfg = ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .user_agent(concat!("rt-build/", env!("CARGO_PKG_VERSION")))
        .max_redirects(5)
        .timeout_resolve(Some(Duration::from_secs(20)))
        .timeout_connect(Some(Duration::from_secs(20)))
        .timeout_send_request(Some(Duration::from_secs(60)))
        .timeout_recv_response(Some(Duration::from_secs(300)))
        // Bodies (layers) may be large: bound each read and write, not
        // the whole transfer.
        .timeout_per_read(Some(Duration::from_secs(60)))
        .timeout_per_write(Some(Duration::from_secs(60)));
    if transport.loopback {
        cfg = cfg.proxy(None);
    }
    Ok(cfg.build().new_agent())
}

/// A transport error as a message naming the URL; TLS failures say so
/// (and which host), since that is what a user has to fix.
pub fn describe(url: &str, e: &ureq::Error) -> String {
    let host = url
        .split_once("://")
        .map(|(_, r)| r)
        .unwrap_or(url)
        .split(['/', '?', '#'])
        .next()
        .unwrap_or("");
    let host = super::reference::host_of(host);
    let tls_cause = match e {
        ureq::Error::Rustls(_) | ureq::Error::Tls(_) => true,
        ureq::Error::Io(io) => io
            .get_ref()
            .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some()),
        _ => false,
    };
    if tls_cause {
        format!("{url}: TLS handshake with {host} failed: {e}")
    } else {
        match e {
            ureq::Error::Timeout(t) => format!("{url}: timed out ({t})"),
            ureq::Error::HostNotFound => format!("{url}: host {host} not found"),
            _ => format!("{url}: {e}"),
        }
    }
}

/// Reads a whole body of at most `limit` bytes (manifests, tokens, error
/// documents): more is an error, not a truncation.
pub fn read_limited(body: ureq::Body, limit: u64, what: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    body.into_with_config()
        .limit(u64::MAX)
        .reader()
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("{what}: reading the response: {e}"))?;
    if out.len() as u64 > limit {
        return Err(format!("{what}: response larger than {limit} bytes"));
    }
    Ok(out)
}

/// A header's value as text, if present and printable.
pub fn header(resp: &ureq::http::Response<ureq::Body>, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}
