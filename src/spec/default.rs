//! The config.json `rt spec` writes: `runc spec`'s defaults, in runc's key
//! order and layout (tab-indented, no final newline), so scripts that edit
//! or diff it behave the same. Only `ociVersion` (the version rt
//! implements) and `hostname` differ.

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::Value;

/// Returns runc's default spec for this host, or the rootless variant
/// (`--rootless`).
pub fn default_spec_json(rootless: bool) -> Value {
    spec_for_host(rootless, cgroup2_unified())
}

/// The default spec on a host whose /sys/fs/cgroup is (`cgroup2`) or is not
/// a cgroup2 mount.
fn spec_for_host(rootless: bool, cgroup2: bool) -> Value {
    let caps = serde_json::json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    let mut spec = serde_json::json!({
        "ociVersion": crate::state::OCI_VERSION,
        "process": {
            "terminal": true,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm"
            ],
            "cwd": "/",
            "capabilities": {
                "bounding": caps,
                "effective": caps,
                "permitted": caps,
                "ambient": caps
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "rt",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
        ],
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [
                {"type": "pid"}, {"type": "network"}, {"type": "ipc"},
                {"type": "uts"}, {"type": "mount"}
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
            ]
        }
    });
    // runc adds a cgroup namespace only where /sys/fs/cgroup is cgroup2:
    // on v1 and hybrid hosts a script that adds its own would otherwise get
    // "duplicate namespace".
    if cgroup2 && let Some(ns) = spec["linux"]["namespaces"].as_array_mut() {
        ns.push(serde_json::json!({"type": "cgroup"}));
    }
    if rootless {
        make_rootless(&mut spec);
    }
    spec
}

/// True when /sys/fs/cgroup is a cgroup2 mount (a pure v2 host), the test
/// runc makes.
fn cgroup2_unified() -> bool {
    nix::sys::statfs::statfs("/sys/fs/cgroup")
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
}

/// The spec as `runc spec` prints it: tab indentation, each object's keys
/// in the order of runc's Go structs, no final newline.
pub fn to_runc_text(spec: &Value) -> String {
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    // Serializing a Value into a Vec cannot fail.
    let _ = GoOrder(spec).serialize(&mut ser);
    String::from_utf8_lossy(&out).into_owned()
}

/// Field order of runc's spec structs, for every key the default spec has.
/// One list serves all objects: no two of them order shared keys
/// differently (mounts and rlimits both put `type` after their first key).
const GO_KEY_ORDER: &[&str] = &[
    "ociVersion",
    "process",
    "root",
    "hostname",
    "mounts",
    "linux",
    "terminal",
    "user",
    "uid",
    "gid",
    "args",
    "env",
    "cwd",
    "capabilities",
    "bounding",
    "effective",
    "inheritable",
    "permitted",
    "ambient",
    "rlimits",
    "destination",
    "type",
    "source",
    "options",
    "hard",
    "soft",
    "noNewPrivileges",
    "path",
    "readonly",
    "uidMappings",
    "gidMappings",
    "containerID",
    "hostID",
    "size",
    "resources",
    "devices",
    "allow",
    "access",
    "namespaces",
    "maskedPaths",
    "readonlyPaths",
];

struct GoOrder<'a>(&'a Value);

impl Serialize for GoOrder<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Object(map) => {
                let rank = |k: &str| GO_KEY_ORDER.iter().position(|o| *o == k);
                let mut entries: Vec<_> = map.iter().collect();
                // Unknown keys (none in the default spec) go last, sorted.
                entries.sort_by(|a, b| {
                    (rank(a.0).is_none(), rank(a.0), a.0).cmp(&(
                        rank(b.0).is_none(),
                        rank(b.0),
                        b.0,
                    ))
                });
                let mut m = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    m.serialize_entry(k, &GoOrder(v))?;
                }
                m.end()
            }
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for v in items {
                    seq.serialize_element(&GoOrder(v))?;
                }
                seq.end()
            }
            other => other.serialize(s),
        }
    }
}

/// runc's `spec --rootless`: a user namespace mapping the caller to root,
/// no network namespace, no resources, sysfs bound from the host and no
/// uid=/gid= mount options (an unprivileged user cannot pick the owner).
fn make_rootless(spec: &mut Value) {
    let uid = nix::unistd::geteuid().as_raw();
    let gid = nix::unistd::getegid().as_raw();
    let linux = &mut spec["linux"];
    // The default namespaces without network, then a user namespace.
    if let Some(ns) = linux["namespaces"].as_array_mut() {
        ns.retain(|n| n["type"] != "network" && n["type"] != "user");
        ns.push(serde_json::json!({"type": "user"}));
    }
    linux["uidMappings"] = serde_json::json!([{"containerID": 0, "hostID": uid, "size": 1}]);
    linux["gidMappings"] = serde_json::json!([{"containerID": 0, "hostID": gid, "size": 1}]);
    if let Some(obj) = linux.as_object_mut() {
        obj.remove("resources");
    }
    for m in spec["mounts"].as_array_mut().into_iter().flatten() {
        if m["destination"] == "/sys" {
            *m = serde_json::json!({"destination": "/sys", "type": "none", "source": "/sys",
                "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]});
        }
        if let Some(opts) = m.get_mut("options").and_then(Value::as_array_mut) {
            opts.retain(|o| {
                o.as_str()
                    .is_none_or(|o| !o.starts_with("uid=") && !o.starts_with("gid="))
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_spec_parses_and_validates() {
        for rootless in [false, true] {
            let text = serde_json::to_vec(&default_spec_json(rootless)).unwrap();
            let spec = crate::spec::parse(&text).unwrap();
            crate::spec::validate(&spec).unwrap();
        }
    }

    fn namespace_types(spec: &Value) -> Vec<&str> {
        spec["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn rootless_has_user_namespace_and_no_network() {
        for cgroup2 in [false, true] {
            let spec = spec_for_host(true, cgroup2);
            let types = namespace_types(&spec);
            assert_eq!(types.last(), Some(&"user"));
            assert!(!types.contains(&"network"));
            assert_eq!(types.contains(&"cgroup"), cgroup2);
            assert!(spec["linux"].get("resources").is_none());
            let text = to_runc_text(&spec);
            assert!(!text.contains("gid=5") && !text.contains("null"), "{text}");
        }
    }

    #[test]
    fn cgroup_namespace_only_on_cgroup2_hosts() {
        assert_eq!(
            namespace_types(&spec_for_host(false, false)),
            ["pid", "network", "ipc", "uts", "mount"]
        );
        assert_eq!(
            namespace_types(&spec_for_host(false, true)),
            ["pid", "network", "ipc", "uts", "mount", "cgroup"]
        );
    }

    #[test]
    fn runc_text_keeps_go_field_order_and_tabs() {
        let text = to_runc_text(&spec_for_host(false, false));
        assert!(text.starts_with("{\n\t\"ociVersion\": "), "{text}");
        assert!(!text.ends_with('\n'));
        let pos = |k: &str| text.find(&format!("\"{k}\"")).unwrap();
        assert!(pos("ociVersion") < pos("process"));
        assert!(pos("process") < pos("root") && pos("root") < pos("hostname"));
        assert!(pos("hostname") < pos("mounts") && pos("mounts") < pos("linux"));
        assert!(pos("terminal") < pos("user") && pos("cwd") < pos("capabilities"));
        assert!(pos("permitted") < pos("ambient"));
        assert!(text.contains("\"destination\": \"/proc\",\n\t\t\t\"type\": \"proc\""));
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v, spec_for_host(false, false));
    }
}
