//! Registries: a private Debian `docker-registry` (distribution 2.8) per
//! test on 127.0.0.1 with a free port, its own config and storage in a
//! temp dir, killed and waited for when the test ends (even on failure).
//! Images get in with skopeo (from the busybox layout of `common`), and
//! rt-build pulls, builds FROM, pushes, logs in; skopeo reads back what
//! rt-build pushed. TLS is tested at the library level (loopback
//! registries are plain HTTP on the command line, as with Docker).

mod common;
use common::*;
use rt_build::image::registry::{self, Reference, Settings};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running registry; dropping it kills the process and reaps it.
struct Registry {
    child: Child,
    port: u16,
    storage: PathBuf,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Registry {
    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts `docker-registry serve` with an htpasswd file and/or TLS
    /// (certificate, key) when given; waits until it accepts connections.
    fn start(dir: &Path, htpasswd: Option<&Path>, tls: Option<(&Path, &Path)>) -> Registry {
        std::fs::create_dir_all(dir).unwrap();
        let storage = dir.join("storage");
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            storage.display()
        );
        if let Some((cert, key)) = tls {
            config += &format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                cert.display(),
                key.display()
            );
        }
        if let Some(h) = htpasswd {
            config += &format!(
                "auth:\n  htpasswd:\n    realm: rt-build-test\n    path: {}\n",
                h.display()
            );
        }
        let cfg = dir.join("config.yml");
        std::fs::write(&cfg, config).unwrap();
        let log = std::fs::File::create(dir.join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let reg = Registry {
            child,
            port,
            storage,
        };
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "registry did not start: {}",
                std::fs::read_to_string(dir.join("registry.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        reg
    }

    /// Where the registry keeps a blob's bytes (distribution's layout).
    fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = &digest[7..];
        self.storage
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

fn tools_ok() -> bool {
    for t in ["docker-registry", "skopeo"] {
        if !has_tool(t) {
            eprintln!("skipping: {t} missing (hack/deps.sh installs it)");
            return false;
        }
    }
    true
}

fn skopeo(args: &[&str]) -> String {
    let out = Command::new("skopeo")
        .arg("--insecure-policy")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `rt-build` with its own store and Docker config dir.
fn rtb(store: &Path, docker_config: &Path) -> Command {
    let mut c = bin();
    c.env("DOCKER_CONFIG", docker_config)
        .arg("--root")
        .arg(store);
    c
}

fn sha(data: &[u8]) -> String {
    format!(
        "sha256:{}",
        Sha256::digest(data)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// (digest, manifest JSON) of the image named `name` in a layout.
fn layout_manifest(layout: &Path, name: &str) -> (String, serde_json::Value) {
    let index = read_json(&layout.join("index.json"));
    let d = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == name)
        .unwrap_or_else(|| panic!("{name} not in {}", layout.display()))["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let m = read_json(&layout.join("blobs/sha256").join(&d[7..]));
    (d, m)
}

fn layer_digests(manifest: &serde_json::Value) -> Vec<String> {
    manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_string())
        .collect()
}

fn push_busybox(layout: &Path, dest: &str, creds: Option<&str>) {
    let src = format!("oci:{}:busybox", layout.display());
    let dst = format!("docker://{dest}");
    let mut args = vec!["copy", "--dest-tls-verify=false"];
    if let Some(c) = creds {
        args.extend(["--dest-creds", c]);
    }
    args.extend([src.as_str(), dst.as_str()]);
    skopeo(&args);
}

#[test]
fn from_registry_build_push_and_pull_back() {
    if !can_build() || !tools_ok() {
        return;
    }
    let dir = tmpdir("registry-roundtrip");
    let layout = dir.join("layout");
    busybox_layout(&layout);
    let (_, base) = layout_manifest(&layout, "busybox");
    let reg = Registry::start(&dir.join("registry"), None, None);
    let host = reg.host();
    push_busybox(&layout, &format!("{host}/busybox:1"), None);
    let store = dir.join("store");
    let cfg = dir.join("docker");

    // FROM a registry image that is not in the store: pulled, stored
    // under its name, built upon.
    let app = format!("{host}/app:1");
    let ctx = context(
        &dir.join("a"),
        &format!("FROM {host}/busybox:1\nRUN echo hello > /hello\n"),
        &[],
    );
    let out = run(rtb(&store, &cfg)
        .args(["--progress", "plain", "-t", &app])
        .arg(&ctx));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let pulled = inspect(&store, &format!("{host}/busybox:1"));
    assert_eq!(layer_digests(&pulled["manifest"]), layer_digests(&base));
    let built = inspect(&store, &app);
    let built_layers = layer_digests(&built["manifest"]);
    assert_eq!(built_layers.len(), 2);
    assert_eq!(built_layers[0], layer_digests(&base)[0]);

    // --pull=never takes the stored base.
    let out = run(rtb(&store, &cfg)
        .args(["--progress", "plain", "--pull=never", "-t", "again"])
        .arg(&ctx));
    assert_eq!(out.code, 0, "{}", out.stderr);

    // Push: the base layer is mounted from the busybox repository (it
    // came from there), the new layer and the config are uploaded.
    let out = run(rtb(&store, &cfg).args(["push", &app]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.trim(), built["digest"].as_str().unwrap());
    assert!(
        out.stderr.contains(&format!(
            "blob {} ({} bytes) mounted from busybox",
            built_layers[0], base["layers"][0]["size"]
        )),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&format!("blob {} (", built_layers[1]))
            && out.stderr.matches(") uploaded").count() == 2,
        "{}",
        out.stderr
    );

    // skopeo reads back the same manifest and layers.
    let back = dir.join("back");
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{app}"),
        &format!("oci:{}:app", back.display()),
    ]);
    let (back_digest, back_manifest) = layout_manifest(&back, "app");
    assert_eq!(layer_digests(&back_manifest), built_layers);
    assert_eq!(back_digest, built["digest"].as_str().unwrap());

    // A second push finds every blob there and uploads nothing.
    let out = run(rtb(&store, &cfg).args(["push", &app, &format!("{host}/app:2")]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stderr.matches("already there").count(),
        3,
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("uploaded"), "{}", out.stderr);

    // rt-build pull into a fresh store gives the same manifest.
    let store2 = dir.join("store2");
    let out = run(rtb(&store2, &cfg).args(["pull", &format!("{host}/app:2")]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.trim(), built["digest"].as_str().unwrap());
    let again = inspect(&store2, &format!("{host}/app:2"));
    assert_eq!(again["config"], built["config"]);

    // Build and push in one go: -o type=registry,name=REF.
    let out = run(rtb(&store, &cfg)
        .args([
            "--progress",
            "plain",
            "-o",
            &format!("type=registry,name={host}/out:3"),
        ])
        .arg(&ctx));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let info: serde_json::Value = serde_json::from_str(&skopeo(&[
        "inspect",
        "--tls-verify=false",
        &format!("docker://{host}/out:3"),
    ]))
    .unwrap();
    assert_eq!(info["Digest"].as_str(), Some(out.stdout.trim()));

    // An image the registry does not have: named, with the FROM line.
    let missing = context(
        &dir.join("missing"),
        &format!("FROM {host}/nope:1\nRUN true\n"),
        &[],
    );
    let out = run(rtb(&store, &cfg)
        .args(["--progress", "plain"])
        .arg(&missing));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("Dockerfile:1: FROM"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("pulling {host}/nope:1 failed")),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("MANIFEST_UNKNOWN"), "{}", out.stderr);

    // COPY --from an image only the registry has: pulled and named too.
    let store4 = dir.join("store4");
    let copy = context(
        &dir.join("copy"),
        &format!("FROM scratch\nCOPY --from={host}/app:1 /hello /hello\n"),
        &[],
    );
    let out = run(rtb(&store4, &cfg)
        .args(["--progress", "plain", "-t", "copied"])
        .arg(&copy));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(inspect(&store4, &app)["digest"], built["digest"]);
    let copied = inspect(&store4, "copied");
    assert_eq!(layer_digests(&copied["manifest"]).len(), 1);

    // --pull=never does not go to the registry.
    let store3 = dir.join("store3");
    let out = run(rtb(&store3, &cfg)
        .args(["--progress", "plain", "--pull", "never"])
        .arg(&ctx));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("\"{host}/busybox:1\" not found in the store"))
            && out.stderr.contains("--pull=never"),
        "{}",
        out.stderr
    );
}

#[test]
fn basic_auth_login_and_logout() {
    if !is_root() || !Path::new(BUSYBOX).exists() || !tools_ok() || !has_tool("htpasswd") {
        return;
    }
    let dir = tmpdir("registry-auth");
    let layout = dir.join("layout");
    busybox_layout(&layout);
    let out = Command::new("htpasswd")
        .args(["-Bbn", "user", "pass"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let htpasswd = dir.join("htpasswd");
    std::fs::write(&htpasswd, &out.stdout).unwrap();
    let reg = Registry::start(&dir.join("registry"), Some(&htpasswd), None);
    let host = reg.host();
    let image = format!("{host}/busybox:1");
    push_busybox(&layout, &image, Some("user:pass"));
    let cfg = dir.join("docker");
    std::fs::create_dir_all(&cfg).unwrap();
    // Other settings in config.json must survive login and logout.
    std::fs::write(cfg.join("config.json"), r#"{"psFormat":"table"}"#).unwrap();

    // No credentials: refused, saying how to log in.
    let out = run(rtb(&dir.join("s0"), &cfg).args(["pull", &image]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!("rt-build login {host}")),
        "{}",
        out.stderr
    );

    // A wrong password: login fails and stores nothing.
    let out = run(rtb(&dir.join("s0"), &cfg).args(["login", "-u", "user", "-p", "wrong", &host]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!("login to {host} failed"))
            && out.stderr.contains("wrong user name or password"),
        "{}",
        out.stderr
    );
    assert!(
        !std::fs::read_to_string(cfg.join("config.json"))
            .unwrap()
            .contains("auths\": {\n    \"127")
    );

    // The right one, from stdin.
    let mut child = rtb(&dir.join("s0"), &cfg)
        .args(["login", "-u", "user", "--password-stdin", &host])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"pass\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "Login Succeeded"
    );
    let meta = std::fs::metadata(cfg.join("config.json")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let config = read_json(&cfg.join("config.json"));
    assert_eq!(config["auths"][&host]["auth"], "dXNlcjpwYXNz"); // user:pass
    assert_eq!(config["psFormat"], "table");

    // Now the pull works.
    let store = dir.join("store");
    let out = run(rtb(&store, &cfg).args(["pull", &image]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    inspect(&store, &image);

    // Stored credentials that are wrong: a clear error naming the user.
    let bad_cfg = dir.join("docker-bad");
    std::fs::create_dir_all(&bad_cfg).unwrap();
    std::fs::write(
        bad_cfg.join("config.json"),
        format!(r#"{{"auths":{{"http://{host}/v2/":{{"auth":"dXNlcjpub3Bl"}}}}}}"#), // user:nope
    )
    .unwrap();
    let out = run(rtb(&dir.join("s1"), &bad_cfg).args(["pull", &image]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("\"user\"") && out.stderr.contains("wrong user name or password"),
        "{}",
        out.stderr
    );

    // Logout removes the entry and keeps the rest.
    let out = run(rtb(&store, &cfg).args(["logout", &host]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let config = read_json(&cfg.join("config.json"));
    assert!(config["auths"].get(&host).is_none(), "{config}");
    assert_eq!(config["psFormat"], "table");
    let out = run(rtb(&dir.join("s2"), &cfg).args(["pull", &image]));
    assert_eq!(out.code, 1, "{}", out.stderr);
}

#[test]
fn tampered_blob_is_refused_and_nothing_stored() {
    if !can_build() || !tools_ok() {
        return;
    }
    let dir = tmpdir("registry-tamper");
    let layout = dir.join("layout");
    busybox_layout(&layout);
    let (_, base) = layout_manifest(&layout, "busybox");
    let layer = base["layers"][0]["digest"].as_str().unwrap().to_string();
    let reg = Registry::start(&dir.join("registry"), None, None);
    let host = reg.host();
    push_busybox(&layout, &format!("{host}/busybox:1"), None);

    // Same size, one byte changed: only the digest can tell.
    let file = reg.blob_file(&layer);
    let mut bytes = std::fs::read(&file).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    let tampered = sha(&bytes);
    std::fs::write(&file, &bytes).unwrap();

    let store = dir.join("store");
    let cfg = dir.join("docker");
    let out = run(rtb(&store, &cfg).args(["pull", &format!("{host}/busybox:1")]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!("blob {layer}")) && out.stderr.contains("digest mismatch"),
        "{}",
        out.stderr
    );
    let ctx = context(&dir.join("a"), &format!("FROM {host}/busybox:1\n"), &[]);
    let out = run(rtb(&store, &cfg).args(["--progress", "plain"]).arg(&ctx));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("Dockerfile:1: FROM") && out.stderr.contains("digest mismatch"),
        "{}",
        out.stderr
    );
    // Neither the expected nor the served digest is in the store, no
    // temp file is left, and no name was given.
    let blobs = store.join("blobs/sha256");
    assert!(!blobs.join(&layer[7..]).exists());
    assert!(!blobs.join(&tampered[7..]).exists());
    let tmp: Vec<_> = std::fs::read_dir(store.join("rt-build/tmp"))
        .unwrap()
        .collect();
    assert!(tmp.is_empty(), "{tmp:?}");
    let index = read_json(&store.join("index.json"));
    assert_eq!(index["manifests"].as_array().unwrap().len(), 0, "{index}");
    assert!(
        !blobs
            .join(&base["config"]["digest"].as_str().unwrap()[7..])
            .exists(),
        "the config of a refused image was stored"
    );

    // A config whose diff_id does not match the (intact) layer: the layer
    // would enter the unpacked cache under another layer's identity.
    let liar = dir.join("liar");
    busybox_layout(&liar);
    let (_, m) = layout_manifest(&liar, "busybox");
    let config_path = liar
        .join("blobs/sha256")
        .join(&m["config"]["digest"].as_str().unwrap()[7..]);
    let mut config = read_json(&config_path);
    let claimed = sha(b"some other layer");
    config["rootfs"]["diff_ids"][0] = claimed.clone().into();
    let config_bytes = serde_json::to_vec(&config).unwrap();
    let config_digest = sha(&config_bytes);
    std::fs::write(
        liar.join("blobs/sha256").join(&config_digest[7..]),
        &config_bytes,
    )
    .unwrap();
    let mut m2 = m.clone();
    m2["config"]["digest"] = config_digest.into();
    m2["config"]["size"] = config_bytes.len().into();
    let m2_bytes = serde_json::to_vec(&m2).unwrap();
    let m2_digest = sha(&m2_bytes);
    std::fs::write(liar.join("blobs/sha256").join(&m2_digest[7..]), &m2_bytes).unwrap();
    let mut top = read_json(&liar.join("index.json"));
    top["manifests"][0]["digest"] = m2_digest.into();
    top["manifests"][0]["size"] = m2_bytes.len().into();
    std::fs::write(liar.join("index.json"), serde_json::to_vec(&top).unwrap()).unwrap();
    // Its own registry: the first one now serves the tampered layer.
    let reg2 = Registry::start(&dir.join("registry2"), None, None);
    let host2 = reg2.host();
    push_busybox(&liar, &format!("{host2}/liar:1"), None);
    let out = run(rtb(&store, &cfg).args(["pull", &format!("{host2}/liar:1")]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("diff_id mismatch") && out.stderr.contains(&claimed),
        "{}",
        out.stderr
    );
    assert!(!blobs.join(&layer[7..]).exists());
    assert_eq!(
        read_json(&store.join("index.json"))["manifests"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

#[test]
fn manifest_list_resolves_to_linux_amd64() {
    if !can_build() || !tools_ok() {
        return;
    }
    let dir = tmpdir("registry-index");
    let layout = dir.join("layout");
    busybox_layout(&layout);
    let (amd64_digest, amd64) = layout_manifest(&layout, "busybox");
    let amd64_bytes = std::fs::read(layout.join("blobs/sha256").join(&amd64_digest[7..])).unwrap();
    // An arm64 sibling: same layers, its own config and manifest.
    let put = |data: &[u8]| {
        let d = sha(data);
        std::fs::write(layout.join("blobs/sha256").join(&d[7..]), data).unwrap();
        d
    };
    let config_digest = amd64["config"]["digest"].as_str().unwrap();
    let mut config = read_json(&layout.join("blobs/sha256").join(&config_digest[7..]));
    config["architecture"] = "arm64".into();
    let config_bytes = serde_json::to_vec(&config).unwrap();
    let mut arm = amd64.clone();
    arm["config"]["digest"] = put(&config_bytes).into();
    arm["config"]["size"] = config_bytes.len().into();
    let arm_bytes = serde_json::to_vec(&arm).unwrap();
    let arm_digest = put(&arm_bytes);
    // arm64 first: taking the first entry would be wrong.
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": arm_digest, "size": arm_bytes.len(), "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": amd64_digest, "size": amd64_bytes.len(), "platform": {"os": "linux", "architecture": "amd64"}},
        ]
    });
    let index_bytes = serde_json::to_vec(&index).unwrap();
    let index_digest = put(&index_bytes);
    let mut top = read_json(&layout.join("index.json"));
    top["manifests"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": index_digest,
            "size": index_bytes.len(),
            "annotations": {"org.opencontainers.image.ref.name": "multi"},
        }));
    std::fs::write(layout.join("index.json"), serde_json::to_vec(&top).unwrap()).unwrap();

    let reg = Registry::start(&dir.join("registry"), None, None);
    let host = reg.host();
    skopeo(&[
        "copy",
        "--all",
        "--dest-tls-verify=false",
        &format!("oci:{}:multi", layout.display()),
        &format!("docker://{host}/multi:1"),
    ]);
    let store = dir.join("store");
    let out = run(rtb(&store, &dir.join("docker")).args(["pull", &format!("{host}/multi:1")]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.trim(), amd64_digest);
    let img = inspect(&store, &format!("{host}/multi:1"));
    assert_eq!(img["config"]["architecture"], "amd64");
    assert!(!store.join("blobs/sha256").join(&arm_digest[7..]).exists());
}

/// A CA and a server certificate for 127.0.0.1 and localhost, made with
/// the openssl CLI (as tests/https.rs does).
fn make_pki(dir: &Path) {
    let run_ssl = |args: &[&str]| {
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
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut a = vec!["req", "-x509"];
    a.extend(ec);
    a.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=rt-build registry test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    run_ssl(&a);
    let mut a = vec!["req"];
    a.extend(ec);
    a.extend([
        "-keyout",
        "srv.key",
        "-out",
        "srv.csr",
        "-subj",
        "/CN=localhost",
    ]);
    run_ssl(&a);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run_ssl(&[
        "x509",
        "-req",
        "-in",
        "srv.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "srv.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
}

#[test]
fn tls_registry_with_its_ca_in_certs_d() {
    if !is_root() || !Path::new(BUSYBOX).exists() || !tools_ok() || !has_tool("openssl") {
        return;
    }
    let dir = tmpdir("registry-tls");
    let layout = dir.join("layout");
    busybox_layout(&layout);
    let (_, base) = layout_manifest(&layout, "busybox");
    let pki = dir.join("pki");
    std::fs::create_dir_all(&pki).unwrap();
    make_pki(&pki);
    let reg = Registry::start(
        &dir.join("registry"),
        None,
        Some((&pki.join("srv.pem"), &pki.join("srv.key"))),
    );
    let host = reg.host();
    push_busybox(&layout, &format!("{host}/busybox:1"), None);
    let store = rt_build::image::store::Store::open(&dir.join("store")).unwrap();
    let r = Reference::parse(&format!("{host}/busybox:1")).unwrap();
    let certs_d = dir.join("certs.d");
    std::fs::create_dir_all(&certs_d).unwrap();
    let settings = Settings {
        insecure: Vec::new(),
        // Loopback means plain HTTP by default: ask for TLS explicitly.
        tls_always: vec![host.clone()],
        certs_dir: Some(certs_d.clone()),
    };

    // The CA is not trusted yet: the handshake fails, naming the host.
    let e = registry::pull::pull(&store, &settings, &r, true).unwrap_err();
    assert!(e.contains("TLS handshake with 127.0.0.1 failed"), "{e}");
    assert!(store.index().unwrap().manifests.is_empty());

    // Docker's way to trust a registry's CA: certs.d/HOST:PORT/ca.crt.
    std::fs::create_dir_all(certs_d.join(&host)).unwrap();
    std::fs::copy(pki.join("ca.pem"), certs_d.join(&host).join("ca.crt")).unwrap();
    let img = registry::pull::pull(&store, &settings, &r, true).unwrap();
    let got: Vec<String> = img
        .manifest
        .layers
        .iter()
        .map(|l| l.digest.clone())
        .collect();
    assert_eq!(got, layer_digests(&base));

    // Pushing to another repository mounts every blob from busybox.
    let dest = Reference::parse(&format!("{host}/copy:1")).unwrap();
    let report = registry::push::push(&store, &settings, &img, &dest, true).unwrap();
    assert_eq!((report.mounted, report.uploaded, report.existed), (2, 0, 0));
    assert_eq!(report.manifest_digest, img.manifest_desc.digest);

    // Without the TLS rule, a loopback registry is spoken to in plain
    // HTTP, which a TLS server does not answer.
    let plain = Settings {
        tls_always: Vec::new(),
        ..settings
    };
    assert!(registry::pull::pull(&store, &plain, &dest, true).is_err());
}

/// A fake registry for the Bearer token flow (Docker Hub's scheme, which
/// docker-registry only offers with a JWT-signing token server): every
/// /v2/ request needs `Bearer tok-123`; /token hands it out for Basic
/// `user:pass`. It serves the busybox layout as `busybox:1`, and a manifest
/// over the size cap as `busybox:huge`. Returns the port and a log of
/// the requests (`METHOD target | authorization`).
fn fake_token_registry(layout: PathBuf) -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log2 = log.clone();
    std::thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(mut tcp) = tcp else { continue };
            let mut r = BufReader::new(tcp.try_clone().unwrap());
            let mut line = String::new();
            if r.read_line(&mut line).is_err() {
                continue;
            }
            let mut parts = line.split_whitespace();
            let method = parts.next().unwrap_or("").to_string();
            let target = parts.next().unwrap_or("").to_string();
            let mut auth = String::new();
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':')
                    && k.eq_ignore_ascii_case("authorization")
                {
                    auth = v.trim().to_string();
                }
            }
            log2.lock()
                .unwrap()
                .push(format!("{method} {target} | {auth}"));
            let (status, headers, body): (&str, String, Vec<u8>) = if target.starts_with("/token") {
                if auth == "Basic dXNlcjpwYXNz" {
                    ("200 OK", String::new(), br#"{"token":"tok-123"}"#.to_vec())
                } else {
                    ("401 Unauthorized", String::new(), Vec::new())
                }
            } else if auth != "Bearer tok-123" {
                let scope = if target == "/v2/" {
                    String::new()
                } else {
                    ",scope=\"repository:busybox:pull\"".to_string()
                };
                (
                    "401 Unauthorized",
                    format!(
                        "WWW-Authenticate: Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"fake-registry\"{scope}\r\n"
                    ),
                    br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#
                        .to_vec(),
                )
            } else if target == "/v2/" {
                ("200 OK", String::new(), b"{}".to_vec())
            } else if target == "/v2/busybox/manifests/1"
                || target.starts_with("/v2/busybox/manifests/sha256:")
            {
                let (d, _) = layout_manifest(&layout, "busybox");
                (
                    "200 OK",
                    "Content-Type: application/vnd.oci.image.manifest.v1+json\r\n".to_string(),
                    std::fs::read(layout.join("blobs/sha256").join(&d[7..])).unwrap(),
                )
            } else if target == "/v2/busybox/manifests/lying" {
                // The right bytes under a digest header that disagrees.
                let (d, _) = layout_manifest(&layout, "busybox");
                (
                    "200 OK",
                    format!(
                        "Content-Type: application/vnd.oci.image.manifest.v1+json\r\nDocker-Content-Digest: sha256:{}\r\n",
                        "0".repeat(64)
                    ),
                    std::fs::read(layout.join("blobs/sha256").join(&d[7..])).unwrap(),
                )
            } else if target == "/v2/busybox/manifests/huge" {
                (
                    "200 OK",
                    "Content-Type: application/vnd.oci.image.manifest.v1+json\r\n".to_string(),
                    vec![b' '; (4 << 20) + 10],
                )
            } else if let Some(d) = target.strip_prefix("/v2/busybox/blobs/sha256:") {
                match std::fs::read(layout.join("blobs/sha256").join(d)) {
                    Ok(b) => ("200 OK", String::new(), b),
                    Err(_) => ("404 Not Found", String::new(), Vec::new()),
                }
            } else {
                ("404 Not Found", String::new(), Vec::new())
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n",
                body.len()
            );
            let _ = tcp.write_all(head.as_bytes());
            if method != "HEAD" {
                let _ = tcp.write_all(&body);
            }
        }
    });
    (port, log)
}

#[test]
fn bearer_tokens_fetched_with_basic_credentials() {
    if !Path::new(BUSYBOX).exists() {
        eprintln!("skipping: needs {BUSYBOX}");
        return;
    }
    let dir = tmpdir("registry-bearer");
    let layout = dir.join("layout");
    busybox_layout(&layout);
    let (digest, manifest) = layout_manifest(&layout, "busybox");
    let (port, log) = fake_token_registry(layout.clone());
    let image = format!("127.0.0.1:{port}/busybox:1");

    // Without credentials the token server says no: named as such.
    let anon = dir.join("anon");
    let out = run(rtb(&dir.join("s0"), &anon).args(["pull", &image]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("needs credentials")
            && out
                .stderr
                .contains(&format!("rt-build login 127.0.0.1:{port}")),
        "{}",
        out.stderr
    );

    // With them (from config.json), the token comes and the pull works.
    let cfg = dir.join("docker");
    std::fs::create_dir_all(&cfg).unwrap();
    std::fs::write(
        cfg.join("config.json"),
        format!(r#"{{"auths":{{"127.0.0.1:{port}":{{"auth":"dXNlcjpwYXNz"}}}}}}"#),
    )
    .unwrap();
    let store = dir.join("store");
    log.lock().unwrap().clear();
    let out = run(rtb(&store, &cfg).args(["pull", &image]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.trim(), digest);
    for l in layer_digests(&manifest) {
        assert!(store.join("blobs/sha256").join(&l[7..]).exists());
    }
    let log = log.lock().unwrap().clone();
    // The token request: scope of the repository, the service, Basic auth.
    assert!(
        log.iter().any(|l| l.starts_with("GET /token?")
            && l.contains("service=fake-registry")
            && l.contains("scope=repository%3Abusybox%3Apull")
            && l.ends_with("| Basic dXNlcjpwYXNz")),
        "{log:#?}"
    );
    // Manifest and blobs were fetched with the token.
    let with_token = |p: &str| {
        log.iter()
            .any(|l| l.starts_with(&format!("GET {p}")) && l.ends_with("| Bearer tok-123"))
    };
    assert!(with_token("/v2/busybox/manifests/1"), "{log:#?}");
    assert!(with_token("/v2/busybox/blobs/sha256:"), "{log:#?}");
    assert!(
        !log.iter()
            .any(|l| l.starts_with("GET /token") && l.contains("tok-123"))
    );

    // The same credentials from a credential helper (credHelpers).
    let bin_dir = dir.join("helper-bin");
    std::fs::create_dir_all(&bin_dir).unwrap();
    let helper = bin_dir.join("docker-credential-rtfake");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread -r server\nif [ \"$server\" = 127.0.0.1:{port} ]; then\n  echo '{{\"ServerURL\":\"x\",\"Username\":\"user\",\"Secret\":\"pass\"}}'\nelse\n  echo 'credentials not found in native keychain'; exit 1\nfi\n"
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let helper_cfg = dir.join("docker-helper");
    std::fs::create_dir_all(&helper_cfg).unwrap();
    std::fs::write(
        helper_cfg.join("config.json"),
        format!(r#"{{"credHelpers":{{"127.0.0.1:{port}":"rtfake"}}}}"#),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = run(rtb(&dir.join("s-helper"), &helper_cfg)
        .env("PATH", &path)
        .args(["pull", &image]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.trim(), digest);

    // A manifest whose digest is not what the registry (or the
    // reference) says is refused; nothing gets a name.
    let store2 = dir.join("store2");
    let out = run(rtb(&store2, &cfg).args(["pull", &format!("127.0.0.1:{port}/busybox:lying")]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("manifest digest mismatch")
            && out.stderr.contains(&format!("sha256:{}", "0".repeat(64)))
            && out.stderr.contains(&digest),
        "{}",
        out.stderr
    );
    let wrong = format!("127.0.0.1:{port}/busybox@sha256:{}", "1".repeat(64));
    let out = run(rtb(&store2, &cfg).args(["pull", &wrong]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("manifest digest mismatch")
            && out
                .stderr
                .contains(&format!("expected sha256:{}", "1".repeat(64))),
        "{}",
        out.stderr
    );
    let index = read_json(&store2.join("index.json"));
    assert_eq!(index["manifests"].as_array().unwrap().len(), 0, "{index}");

    // A manifest over the 4 MiB cap is refused, not read on.
    let out = run(rtb(&store, &cfg).args(["pull", &format!("127.0.0.1:{port}/busybox:huge")]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("larger than 4194304 bytes"),
        "{}",
        out.stderr
    );
}

#[test]
fn docker_schema2_images_are_kept_as_they_are() {
    if !can_build() || !tools_ok() {
        return;
    }
    let dir = tmpdir("registry-schema2");
    let layout = dir.join("layout");
    busybox_layout(&layout);
    let reg = Registry::start(&dir.join("registry"), None, None);
    let host = reg.host();
    // skopeo converts the OCI image to Docker's schema2 on the way.
    skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        "--format",
        "v2s2",
        &format!("oci:{}:busybox", layout.display()),
        &format!("docker://{host}/d2:1"),
    ]);
    let raw: serde_json::Value = serde_json::from_str(&skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{host}/d2:1"),
    ]))
    .unwrap();
    assert_eq!(
        raw["mediaType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    let store = dir.join("store");
    let cfg = dir.join("docker");
    let ctx = context(
        &dir.join("a"),
        &format!("FROM {host}/d2:1\nRUN echo x > /x\n"),
        &[],
    );
    let out = run(rtb(&store, &cfg)
        .args(["--progress", "plain", "-t", "on-d2"])
        .arg(&ctx));
    assert_eq!(out.code, 0, "{}", out.stderr);
    // Stored with its own bytes (so its digest), media types and all.
    let pulled = inspect(&store, &format!("{host}/d2:1"));
    assert_eq!(
        pulled["manifest"]["layers"][0]["mediaType"],
        "application/vnd.docker.image.rootfs.diff.tar.gzip"
    );
    let digest = pulled["digest"].as_str().unwrap();
    let bytes = std::fs::read(store.join("blobs/sha256").join(&digest[7..])).unwrap();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&bytes).unwrap(),
        raw
    );
    // The image built on it has OCI types.
    let built = inspect(&store, "on-d2");
    assert_eq!(
        built["manifest"]["layers"][0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    // The pulled image pushes back unchanged (same manifest digest).
    let out =
        run(rtb(&store, &cfg).args(["push", &format!("{host}/d2:1"), &format!("{host}/d2copy:1")]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.trim(), digest);
    let info: serde_json::Value = serde_json::from_str(&skopeo(&[
        "inspect",
        "--tls-verify=false",
        &format!("docker://{host}/d2copy:1"),
    ]))
    .unwrap();
    assert_eq!(info["Digest"].as_str(), Some(digest));
}
