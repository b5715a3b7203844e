//! RUN's network (as root): by default a namespace of its own with
//! outbound access through slirp4netns, from which the host's loopback
//! services cannot be reached; `--network=host` reaches them and
//! `--network=none` reaches nothing.
//!
//! The outbound target is a test host of our own: busybox httpd in a
//! network namespace made here, behind a veth pair with a /30 of
//! 10.203.x.x; nothing outside this machine is contacted.

mod common;
use common::*;
use std::path::Path;
use std::process::{Child, Command, Stdio};

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn sh(cmd: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .status()
        .is_ok_and(|s| s.success())
}

/// busybox httpd serving `dir` on `addr:port`, inside `netns` if given.
fn httpd(netns: Option<&str>, addr: &str, port: u16, dir: &Path) -> Child {
    let mut c = match netns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, BUSYBOX]);
            c
        }
        None => Command::new(BUSYBOX),
    };
    let child = c
        .args(["httpd", "-f", "-p", &format!("{addr}:{port}"), "-h"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until it listens (in its namespace, so probe with its tools).
    for _ in 0..100 {
        let probe = match netns {
            Some(ns) => format!("ip netns exec {ns} {BUSYBOX} nc -z {addr} {port}"),
            None => format!("{BUSYBOX} nc -z {addr} {port}"),
        };
        if sh(&probe) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child
}

/// A network namespace with a veth peer: host side .1, namespace side .2.
struct TestHost {
    ns: String,
    server: Option<Child>,
}

impl TestHost {
    fn new(ns: &str, host_ip: &str, peer_ip: &str) -> TestHost {
        let host_if = format!("rtbh{}", std::process::id() % 100000);
        let peer_if = format!("rtbp{}", std::process::id() % 100000);
        let t = TestHost {
            ns: ns.into(),
            server: None,
        };
        for cmd in [
            format!("ip netns add {ns}"),
            format!("ip link add {host_if} type veth peer name {peer_if}"),
            format!("ip link set {peer_if} netns {ns}"),
            format!("ip addr add {host_ip}/30 dev {host_if}"),
            format!("ip link set {host_if} up"),
            format!("ip netns exec {ns} ip addr add {peer_ip}/30 dev {peer_if}"),
            format!("ip netns exec {ns} ip link set {peer_if} up"),
            format!("ip netns exec {ns} ip link set lo up"),
        ] {
            assert!(sh(&cmd), "{cmd}");
        }
        t
    }
}

impl Drop for TestHost {
    fn drop(&mut self) {
        if let Some(mut s) = self.server.take() {
            let _ = s.kill();
            let _ = s.wait();
        }
        // Deleting the namespace deletes the veth pair with it.
        sh(&format!("ip netns delete {}", self.ns));
    }
}

struct Server(Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn run_is_sandboxed_from_the_host_loopback_but_reaches_out() {
    if !can_build() || !has_tool("slirp4netns") || !has_tool("ip") {
        eprintln!("skipping: needs root, busybox, slirp4netns and ip");
        return;
    }
    let (dir, store) = store_with_busybox("network");
    let www = dir.join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("file"), "served\n").unwrap();

    let port = free_port();
    let _local = Server(httpd(None, "127.0.0.1", port, &www));
    let ns = format!("rtb-test-{}", std::process::id());
    let mut peer = TestHost::new(&ns, "10.203.77.1", "10.203.77.2");
    peer.server = Some(httpd(Some(&ns), "10.203.77.2", 8080, &www));

    // busybox-static's wget crashes on NSS in a bare rootfs: plain HTTP
    // over nc instead. `/get HOST PORT` prints "reached" or "blocked".
    let get = "#!/bin/sh\nif printf 'GET /file HTTP/1.0\\r\\n\\r\\n' | nc -w 3 \"$1\" \"$2\" | grep -q '^served'; then echo reached; else echo blocked; fi\n";
    let ctx = context(
        &dir,
        &format!(
            "FROM busybox
COPY --chmod=755 get /get
RUN /get 127.0.0.1 {port} > /loopback
RUN /get 10.0.2.2 {port} > /gateway
RUN /get 10.203.77.2 8080 > /outbound
RUN --network=host /get 127.0.0.1 {port} > /host
RUN --network=none /get 10.203.77.2 8080 > /none
RUN grep -q '127.0.0.1.*localhost' /etc/hosts && test -s /etc/resolv.conf && echo ok > /files
"
        ),
        &[("get", get)],
    );
    // A relative --root (the RUN namespace file lives under it, and the
    // runtime spec takes only absolute paths).
    let out = run(bin()
        .current_dir(store.parent().unwrap())
        .arg("--root")
        .arg(store.file_name().unwrap())
        .args(["--progress", "plain", "-t", "net"])
        .arg(&ctx));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let root = dir.join("out");
    unpack_rootfs(&store, "net", &root);
    let read = |p: &str| std::fs::read_to_string(root.join("rootfs").join(p)).unwrap_or_default();
    assert_eq!(
        read("loopback"),
        "blocked\n",
        "the host's 127.0.0.1 was reachable"
    );
    assert_eq!(
        read("gateway"),
        "blocked\n",
        "the gateway forwarded to the host's loopback"
    );
    assert_eq!(
        read("outbound"),
        "reached\n",
        "no outbound access from the sandbox"
    );
    assert_eq!(
        read("host"),
        "reached\n",
        "--network=host did not share the host's network"
    );
    assert_eq!(read("none"), "blocked\n", "--network=none reached a server");
    assert_eq!(
        read("files"),
        "ok\n",
        "/etc/hosts or /etc/resolv.conf missing in RUN"
    );
    // The generated files are mounts, not content.
    let img = inspect(&store, "net");
    for l in img["manifest"]["layers"].as_array().unwrap().iter().skip(2) {
        let names: Vec<String> = layer_entries(&store, l["digest"].as_str().unwrap())
            .into_iter()
            .map(|e| e.0)
            .collect();
        assert!(
            !names
                .iter()
                .any(|n| n == "etc/hosts" || n == "etc/resolv.conf"),
            "{names:?}"
        );
    }
    drop(peer);
    // No namespace file or slirp4netns outlives the build.
    let mine = format!("pgrep -f '[s]lirp4netns.*{}' >/dev/null", store.display());
    assert!(!sh(&mine), "this build's slirp4netns still runs");
}
