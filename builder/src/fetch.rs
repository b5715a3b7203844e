//! ADD's http:// sources: a small HTTP/1.1 GET client (redirects, chunked
//! and Content-Length bodies, Last-Modified as the file's mtime). https is
//! refused with a clear message: no TLS stack is linked yet.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

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
        if url.starts_with("https://") {
            return Err(format!(
                "{url}: https sources are not supported yet (no TLS in rt-build)"
            ));
        }
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("{url}: not an http URL"))?;
        let (hostport, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let addr = if hostport.contains(':') {
            hostport.to_string()
        } else {
            format!("{hostport}:80")
        };
        let mut s = TcpStream::connect(&addr).map_err(|e| format!("{url}: connect {addr}: {e}"))?;
        s.set_read_timeout(Some(Duration::from_secs(60))).ok();
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
            url = if loc.starts_with("http") {
                loc
            } else {
                format!("http://{hostport}{loc}")
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
            r.read_to_end(&mut data)
                .map_err(|e| format!("{url}: body: {e}"))?;
        }
        let mtime = header("last-modified").and_then(|v| parse_http_date(&v));
        return Ok(Download { data, mtime, url });
    }
    Err(format!("{url}: too many redirects"))
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
        assert!(
            get("https://example.invalid/x")
                .unwrap_err()
                .contains("https")
        );
    }
}
