//! The default `config.json`, mirroring what `runc spec` (1.1.5) prints, written
//! as data so the suite never shells out to a runtime to build its bundles.

use serde_json::{Value, json};

/// `runc spec` output, field for field (ociVersion 1.0.2-dev, readonly root,
/// terminal on, the five default namespaces, default masked/readonly paths).
pub fn runc_spec_defaults() -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    json!({
        "ociVersion": "1.0.2-dev",
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
        "hostname": "runc",
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
    })
}

/// Sets `value` at a JSON pointer (`/process/args`), creating missing
/// intermediate objects, so tests can add fields the defaults lack.
pub fn set_pointer(doc: &mut Value, pointer: &str, value: Value) {
    assert!(
        pointer.starts_with('/'),
        "JSON pointer must start with '/': {pointer}"
    );
    let mut cur = doc;
    let parts: Vec<&str> = pointer[1..].split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        let last = i == parts.len() - 1;
        match cur {
            Value::Object(map) => {
                if last {
                    map.insert(part.to_string(), value);
                    return;
                }
                cur = map.entry(part.to_string()).or_insert_with(|| json!({}));
            }
            Value::Array(items) => {
                let idx: usize = part
                    .parse()
                    .unwrap_or_else(|_| panic!("bad index {part} in {pointer}"));
                if last {
                    if idx == items.len() {
                        items.push(value);
                    } else {
                        items[idx] = value;
                    }
                    return;
                }
                cur = &mut items[idx];
            }
            other => panic!("cannot descend into {other} at {part} of {pointer}"),
        }
    }
}

/// Removes the field at a JSON pointer if present.
pub fn remove_pointer(doc: &mut Value, pointer: &str) {
    let (parent, key) = pointer.rsplit_once('/').expect("pointer has a '/'");
    let target = if parent.is_empty() {
        Some(doc)
    } else {
        doc.pointer_mut(parent)
    };
    match target {
        Some(Value::Object(map)) => {
            map.remove(key);
        }
        Some(Value::Array(items)) => {
            let idx: usize = key.parse().expect("array index");
            if idx < items.len() {
                items.remove(idx);
            }
        }
        _ => {}
    }
}
