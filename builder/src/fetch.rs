//! ADD's http:// and https:// sources: a small HTTP/1.1 GET client
//! (redirects, chunked and Content-Length bodies, Last-Modified as the
//! file's mtime). TLS is rustls with the system's roots (SSL_CERT_FILE /
//! SSL_CERT_DIR honoured, see `tls`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A plain or TLS connection.
trait Stream: Read + Write {}
impl<T: Read + Write> Stream for T {}

/// `host:port` split, brackets of an IPv6 literal removed.
fn host_and_port(hostport: &str, default_port: u16) -> (String, String) {
    if let Some(rest) = hostport.strip_prefix('[')
        && let Some((h, p)) = rest.split_once(']')
    {
        let port = p.strip_prefix(':').unwrap_or("");
        let port = if port.is_empty() {
            default_port.to_string()
        } else {
            port.to_string()
        };
        return (h.to_string(), port);
    }
    match hostport.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.to_string()),
        None => (hostport.to_string(), default_port.to_string()),
    }
}

fn connect(url: &str, https: bool, hostport: &str) -> Result<Box<dyn Stream>, String> {
    let (host, port) = host_and_port(hostport, if https { 443 } else { 80 });
    let addr = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let tcp = TcpStream::connect(&addr).map_err(|e| format!("{url}: connect {addr}: {e}"))?;
    tcp.set_read_timeout(Some(Duration::from_secs(60))).ok();
    if !https {
        return Ok(Box::new(tcp));
    }
    Ok(Box::new(tls::handshake(url, &host, tcp)?))
}

#[derive(Debug)]
pub struct Download {
    pub data: Vec<u8>,
    /// Unix time from Last-Modified.
    pub mtime: Option<i64>,
    /// The final URL after redirects (for the file name).
    pub url: String,
}

pub fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

/// The file name ADD gives a download: the last path segment.
pub fn file_name(url: &str) -> Option<String> {
    let no_query = url.split(['?', '#']).next()?;
    let path = no_query.splitn(4, '/').nth(3)?;
    let name = path.rsplit('/').next()?;
    (!name.is_empty()).then(|| name.to_string())
}

pub fn get(url: &str) -> Result<Download, String> {
    let mut url = url.to_string();
    for _ in 0..5 {
        let (https, rest) = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
            (Some(r), _) => (true, r.to_string()),
            (None, Some(r)) => (false, r.to_string()),
            _ => return Err(format!("{url}: not an http(s) URL")),
        };
        let (hostport, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest.as_str(), "/"),
        };
        let path = path.split('#').next().unwrap_or("/");
        let mut s = connect(&url, https, hostport)?;
        write!(s, "GET {path} HTTP/1.1\r\nHost: {hostport}\r\nUser-Agent: rt-build\r\nConnection: close\r\n\r\n")
            .map_err(|e| format!("{url}: {e}"))?;
        let mut r = BufReader::new(s);
        let mut status = String::new();
        r.read_line(&mut status)
            .map_err(|e| format!("{url}: {e}"))?;
        let code: u16 = status
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| format!("{url}: bad HTTP status line {status:?}"))?;
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            r.read_line(&mut line).map_err(|e| format!("{url}: {e}"))?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let header = |k: &str| headers.iter().find(|(h, _)| h == k).map(|(_, v)| v.clone());
        if (300..400).contains(&code) {
            let loc =
                header("location").ok_or_else(|| format!("{url}: redirect without Location"))?;
            let scheme = if https { "https" } else { "http" };
            url = if loc.starts_with("http://") || loc.starts_with("https://") {
                loc
            } else {
                format!("{scheme}://{hostport}{loc}")
            };
            continue;
        }
        if code != 200 {
            return Err(format!("{url}: HTTP status {code}"));
        }
        let mut data = Vec::new();
        if header("transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked")) {
            loop {
                let mut size = String::new();
                r.read_line(&mut size).map_err(|e| e.to_string())?;
                let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16)
                    .map_err(|_| format!("{url}: bad chunk size {size:?}"))?;
                if n == 0 {
                    break;
                }
                let mut chunk = vec![0; n + 2];
                r.read_exact(&mut chunk).map_err(|e| e.to_string())?;
                data.extend_from_slice(&chunk[..n]);
            }
        } else if let Some(len) = header("content-length").and_then(|l| l.parse::<usize>().ok()) {
            data.resize(len, 0);
            r.read_exact(&mut data)
                .map_err(|e| format!("{url}: body: {e}"))?;
        } else {
            match r.read_to_end(&mut data) {
                Ok(_) => {}
                // A TLS peer that closes without close_notify: the body
                // had no length, so its end is the connection's end.
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {}
                Err(e) => return Err(format!("{url}: body: {e}")),
            }
        }
        let mtime = header("last-modified").and_then(|v| parse_http_date(&v));
        return Ok(Download { data, mtime, url });
    }
    Err(format!("{url}: too many redirects"))
}

/// `ADD --checksum=sha256:<hex>` (or sha512): the download must match.
pub fn verify_checksum(url: &str, expected: &str, data: &[u8]) -> Result<(), String> {
    use sha2::Digest;
    let (algo, want) = expected
        .split_once(':')
        .ok_or_else(|| format!("--checksum={expected}: expected ALGORITHM:HEX (sha256:...)"))?;
    let got = match algo {
        "sha256" => hex(&sha2::Sha256::digest(data)),
        "sha384" => hex(&sha2::Sha384::digest(data)),
        "sha512" => hex(&sha2::Sha512::digest(data)),
        _ => {
            return Err(format!(
                "--checksum={expected}: unsupported algorithm {algo:?} (sha256, sha384, sha512)"
            ));
        }
    };
    if !got.eq_ignore_ascii_case(want) {
        return Err(format!(
            "{url}: checksum mismatch: expected {expected}, got {algo}:{got}"
        ));
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// TLS through rustls (ring provider) with the system's trusted roots.
mod tls {
    use rustls::pki_types::ServerName;
    use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
    use std::net::TcpStream;
    use std::sync::{Arc, OnceLock};

    /// Loaded once per process: /etc/ssl/certs (via openssl-probe), or
    /// SSL_CERT_FILE / SSL_CERT_DIR when set.
    fn config() -> Result<Arc<ClientConfig>, String> {
        static CONFIG: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();
        CONFIG
            .get_or_init(|| {
                let found = rustls_native_certs::load_native_certs();
                let mut roots = RootCertStore::empty();
                let (added, _) = roots.add_parsable_certificates(found.certs);
                if added == 0 {
                    let why: Vec<String> = found.errors.iter().map(|e| e.to_string()).collect();
                    return Err(format!(
                        "no trusted CA certificates found (/etc/ssl/certs, SSL_CERT_FILE, SSL_CERT_DIR){}",
                        if why.is_empty() { String::new() } else { format!(": {}", why.join("; ")) }
                    ));
                }
                let provider = Arc::new(rustls::crypto::ring::default_provider());
                let cfg = ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .map_err(|e| format!("TLS setup: {e}"))?
                    .with_root_certificates(roots)
                    .with_no_client_auth();
                Ok(Arc::new(cfg))
            })
            .clone()
    }

    /// Connects and completes the handshake now, so certificate errors
    /// are reported as such (naming the URL), not as a failed write.
    pub fn handshake(
        url: &str,
        host: &str,
        mut tcp: TcpStream,
    ) -> Result<StreamOwned<ClientConnection, TcpStream>, String> {
        let cfg = config().map_err(|e| format!("{url}: {e}"))?;
        let name = ServerName::try_from(host.to_string())
            .map_err(|e| format!("{url}: {host:?} is not a valid TLS server name: {e}"))?;
        let mut conn = ClientConnection::new(cfg, name).map_err(|e| format!("{url}: TLS: {e}"))?;
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp)
                .map_err(|e| format!("{url}: TLS handshake with {host} failed: {e}"))?;
        }
        Ok(StreamOwned::new(conn, tcp))
    }
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` → Unix time.
pub fn parse_http_date(s: &str) -> Option<i64> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    if parts.len() != 6 {
        return None;
    }
    let day: i64 = parts[1].parse().ok()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == parts[2])? as i64
        + 1;
    let year: i64 = parts[3].parse().ok()?;
    let hms: Vec<i64> = parts[4].split(':').filter_map(|x| x.parse().ok()).collect();
    if hms.len() != 3 {
        return None;
    }
    // Days from civil (Howard Hinnant).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    Some(days * 86400 + hms[0] * 3600 + hms[1] * 60 + hms[2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_names() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784111777)
        );
        assert_eq!(
            file_name("http://h:1/a/b.tar.gz?x=1").as_deref(),
            Some("b.tar.gz")
        );
        assert_eq!(file_name("http://h/"), None);
        assert!(get("ftp://h/x").unwrap_err().contains("not an http(s) URL"));
    }

    #[test]
    fn checksums() {
        let sum = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
        assert!(verify_checksum("u", sum, b"hello").is_ok());
        assert!(
            verify_checksum("u", sum, b"hellO")
                .unwrap_err()
                .contains("checksum mismatch")
        );
        assert!(
            verify_checksum("u", "md5:x", b"")
                .unwrap_err()
                .contains("unsupported")
        );
    }

    #[test]
    fn host_port_forms() {
        assert_eq!(host_and_port("h", 443), ("h".into(), "443".into()));
        assert_eq!(host_and_port("h:8443", 443), ("h".into(), "8443".into()));
        assert_eq!(host_and_port("[::1]:8", 80), ("::1".into(), "8".into()));
        assert_eq!(host_and_port("[::1]", 80), ("::1".into(), "80".into()));
    }
}
