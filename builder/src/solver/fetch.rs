//! ADD's http:// and https:// sources, through the same ureq agent as
//! the registry client (`registry::http`): redirects, chunked and
//! Content-Length bodies, timeouts; Last-Modified becomes the file's
//! mtime. TLS is rustls with the system's roots (SSL_CERT_FILE /
//! SSL_CERT_DIR honoured).

use crate::image::registry::http::{self, Transport};
use std::io::Read;

/// Downloads are held in memory; beyond this they are refused.
const MAX_DOWNLOAD: u64 = 2 << 30;

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
    if !is_url(url) {
        return Err(format!("{url}: not an http(s) URL"));
    }
    let host = url.split_once("://").map(|(_, r)| r).unwrap_or("");
    let host = host.split(['/', '?', '#']).next().unwrap_or("");
    let agent = http::agent(Transport {
        // A redirect may lead from http to https: load the roots for both.
        tls: url.starts_with("https://"),
        loopback: crate::image::registry::reference::is_loopback(host),
    })
    .map_err(|e| format!("{url}: {e}"))?;
    let target = url.split('#').next().unwrap_or(url);
    let resp = agent
        .get(target)
        .config()
        .save_redirect_history(true)
        .build()
        .call()
        .map_err(|e| http::describe(url, &e))?;
    let status = resp.status().as_u16();
    if status != 200 {
        return Err(format!("{url}: HTTP status {status}"));
    }
    let final_url = {
        use ureq::ResponseExt;
        resp.get_redirect_history()
            .and_then(|h| h.last())
            .map(|u| u.to_string())
            .unwrap_or_else(|| url.to_string())
    };
    let mtime = http::header(&resp, "last-modified").and_then(|v| parse_http_date(&v));
    let mut data = Vec::new();
    let read = resp
        .into_body()
        .into_with_config()
        .limit(u64::MAX)
        .reader()
        .take(MAX_DOWNLOAD + 1)
        .read_to_end(&mut data);
    match read {
        Ok(_) => {}
        // A TLS peer that closes without close_notify after a body with
        // no length: the body's end is the connection's end.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !data.is_empty() => {}
        Err(e) => return Err(format!("{url}: body: {e}")),
    }
    if data.len() as u64 > MAX_DOWNLOAD {
        return Err(format!("{url}: larger than {MAX_DOWNLOAD} bytes"));
    }
    Ok(Download {
        data,
        mtime,
        url: final_url,
    })
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
}
