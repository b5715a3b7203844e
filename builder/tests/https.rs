//! ADD https:// against a local TLS server whose CA is made here with the
//! openssl CLI and trusted through SSL_CERT_FILE; an untrusted server
//! fails naming the URL; ADD --checksum is checked.

mod common;
use common::*;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA (`NAME-ca.pem`) and a server cert for 127.0.0.1 it signed.
fn make_pki(dir: &Path, name: &str) {
    let ca_key = format!("{name}-ca.key");
    let ca = format!("{name}-ca.pem");
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &ca_key,
            "-out",
            &ca,
            "-days",
            "2",
            "-subj",
            &format!("/CN=rt-build test CA {name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    let key = format!("{name}-srv.key");
    let csr = format!("{name}-srv.csr");
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    let ext = format!("{name}-ext.cnf");
    std::fs::write(
        dir.join(&ext),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-out",
            &format!("{name}-srv.pem"),
            "-days",
            "2",
            "-extfile",
            &ext,
        ],
    );
}

/// Serves `body` for any GET over TLS with the `name` server cert.
fn serve(dir: &Path, name: &str, body: &'static [u8]) -> u16 {
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(dir.join(format!("{name}-srv.pem")))
            .unwrap()
            .map(|c| c.unwrap())
            .collect();
    let key = PrivateKeyDer::from_pem_file(dir.join(format!("{name}-srv.key"))).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(tcp) = tcp else { continue };
            let conn = rustls::ServerConnection::new(cfg.clone()).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, tcp);
            let mut req = Vec::new();
            let mut buf = [0u8; 1024];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match tls.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            if req.is_empty() {
                continue; // the client refused our certificate
            }
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nLast-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = tls.write_all(head.as_bytes());
            let _ = tls.write_all(body);
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    });
    port
}

fn build_with_ca(store: &Path, ctx: &Path, ca: &Path, tag: &str) -> Ran {
    run(bin()
        .env("SSL_CERT_FILE", ca)
        .env_remove("SSL_CERT_DIR")
        .arg("--root")
        .arg(store)
        .arg("--progress")
        .arg("plain")
        .args(["-t", tag])
        .arg(ctx))
}

#[test]
fn add_https_with_a_trusted_ca_and_checksums() {
    if !can_build() || !has_tool("openssl") {
        return;
    }
    let (dir, store) = store_with_busybox("https");
    make_pki(&dir, "good");
    make_pki(&dir, "other");
    const BODY: &[u8] = b"served over TLS\n";
    let port = serve(&dir, "good", BODY);
    let url = format!("https://127.0.0.1:{port}/files/data.txt");
    let sum = {
        use sha2::Digest;
        let h = sha2::Sha256::digest(BODY);
        h.iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    let ctx = context(
        &dir.join("ok"),
        &format!(
            "FROM busybox\nADD {url} /dl/\nADD --checksum=sha256:{sum} {url} /checked.txt\nRUN cmp /dl/data.txt /checked.txt\n"
        ),
        &[],
    );
    let out = build_with_ca(&store, &ctx, &dir.join("good-ca.pem"), "tls");
    assert_eq!(out.code, 0, "{}", out.stderr);
    let img = inspect(&store, "tls");
    let add_layer = img["manifest"]["layers"][1]["digest"].as_str().unwrap();
    let f = std::fs::File::open(store.join("blobs/sha256").join(&add_layer[7..])).unwrap();
    let mut a = tar::Archive::new(flate2::read::GzDecoder::new(f));
    let mut found = false;
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        if e.path().unwrap().to_string_lossy() == "dl/data.txt" {
            assert_eq!(e.header().mode().unwrap() & 0o777, 0o600);
            assert_eq!(e.header().mtime().unwrap(), 784111777);
            let mut got = Vec::new();
            e.read_to_end(&mut got).unwrap();
            assert_eq!(got, BODY);
            found = true;
        }
    }
    assert!(found, "dl/data.txt not in the ADD layer");

    // A wrong checksum fails the ADD, naming both sums.
    let bad = context(
        &dir.join("badsum"),
        &format!(
            "FROM busybox\nADD --checksum=sha256:{} {url} /x\n",
            "0".repeat(64)
        ),
        &[],
    );
    let out = build_with_ca(&store, &bad, &dir.join("good-ca.pem"), "badsum");
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("Dockerfile:2:"), "{}", out.stderr);
    assert!(out.stderr.contains("checksum mismatch"), "{}", out.stderr);
    assert!(out.stderr.contains(&sum), "{}", out.stderr);

    // --checksum on a local source is refused.
    let local = context(
        &dir.join("local"),
        &format!("FROM busybox\nADD --checksum=sha256:{sum} f.txt /f\n"),
        &[("f.txt", "x")],
    );
    let out = build_with_ca(&store, &local, &dir.join("good-ca.pem"), "local");
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("only supported for http(s) sources"),
        "{}",
        out.stderr
    );

    // Trusting another CA only: the handshake fails, naming the URL.
    let untrusted = context(
        &dir.join("untrusted"),
        &format!("FROM busybox\nADD {url} /y\n"),
        &[],
    );
    let out = build_with_ca(&store, &untrusted, &dir.join("other-ca.pem"), "untrusted");
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("{url}: TLS handshake with 127.0.0.1 failed")),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("certificate"), "{}", out.stderr);
}
