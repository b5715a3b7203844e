//! Rootless mode: what changes when rt runs without root on the host.
//!
//! Two separate questions, as in runc:
//! - the caller is not root (euid != 0): the container needs a user
//!   namespace with maps (`check_spec`), the id maps go through
//!   newuidmap/newgidmap unless they map only the caller
//!   (process::idmap), and no additional groups can be set;
//! - rootless cgroups (`--rootless`, default auto): a cgroup rt may not
//!   create is skipped when the container asks for no limits and names no
//!   cgroupsPath (cgroups::Placement::create_dirs).

use crate::error::{Error, Result};
use oci_spec::runtime::{LinuxNamespaceType, Spec};

/// `--rootless`: true, false, or auto (None). runc takes Go's ParseBool
/// spellings and words its error the same way.
pub fn parse_flag(value: Option<&str>) -> Result<Option<bool>> {
    match value {
        None | Some("") | Some("auto") => Ok(None),
        Some("1" | "t" | "T" | "TRUE" | "true" | "True") => Ok(Some(true)),
        Some("0" | "f" | "F" | "FALSE" | "false" | "False") => Ok(Some(false)),
        Some(other) => Err(Error::new(format!(
            "strconv.ParseBool: parsing {other:?}: invalid syntax"
        ))),
    }
}

pub fn euid_is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Whether we run in a user namespace other than the initial one, whose
/// uid_map is the identity over the whole range. Read once per process
/// (create asks it, and its init, cloned after, inherits the answer): it
/// is about where rt was started, not where a process later moved.
pub fn in_user_namespace() -> bool {
    static IN_USERNS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *IN_USERNS.get_or_init(|| match crate::sys::read_virtual("/proc/self/uid_map") {
        Ok(map) => !is_initial_uid_map(&map),
        Err(_) => false,
    })
}

fn is_initial_uid_map(map: &str) -> bool {
    let fields: Vec<&str> = map.split_whitespace().collect();
    fields == ["0", "0", "4294967295"]
}

/// Rootless cgroups: the flag if given, else (auto) when not root or when
/// root of a user namespace (runc decides the same for its cgroupfs
/// driver; for the systemd driver see `systemd_owner_is_root`).
pub fn cgroups_rootless(flag: Option<bool>) -> bool {
    flag.unwrap_or_else(|| !euid_is_root() || in_user_namespace())
}

/// The state root under $XDG_RUNTIME_DIR is used when not root, or root
/// of a user namespace whose $USER is not "root" (runc's rule: real root
/// keeps /run/runc even with XDG_RUNTIME_DIR=/run/user/0).
pub fn honor_xdg_runtime_dir() -> bool {
    if std::env::var_os("XDG_RUNTIME_DIR").is_none_or(|v| v.is_empty()) {
        return false;
    }
    if !euid_is_root() {
        return true;
    }
    if !in_user_namespace() {
        return false;
    }
    std::env::var("USER").map_or(true, |u| u != "root")
}

/// What a container needs when its creator is not root (runc's checks and
/// words): a new user namespace with uid and gid maps, no additional
/// groups, and no uid=/gid= mount option naming an unmapped id.
pub fn check_spec(spec: &Spec) -> Result<()> {
    let linux = spec.linux().as_ref();
    let new_userns = linux
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| ns.iter().any(|n| n.typ() == LinuxNamespaceType::User));
    if !new_userns {
        return Err(Error::new("rootless container requires user namespaces"));
    }
    let uid_maps = linux
        .and_then(|l| l.uid_mappings().clone())
        .unwrap_or_default();
    let gid_maps = linux
        .and_then(|l| l.gid_mappings().clone())
        .unwrap_or_default();
    if uid_maps.is_empty() {
        return Err(Error::new(
            "rootless containers requires at least one UID mapping",
        ));
    }
    if gid_maps.is_empty() {
        return Err(Error::new(
            "rootless containers requires at least one GID mapping",
        ));
    }
    let mapped = |maps: &[oci_spec::runtime::LinuxIdMapping], id: u32| {
        maps.iter()
            .any(|m| id >= m.container_id() && id - m.container_id() < m.size())
    };
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        for opt in m.options().iter().flatten() {
            for (key, maps, word, kind) in [
                ("uid=", &uid_maps, "uid", "user"),
                ("gid=", &gid_maps, "gid", "group"),
            ] {
                let Some(id) = opt.strip_prefix(key).and_then(|v| v.parse::<u32>().ok()) else {
                    continue;
                };
                if !mapped(maps, id) {
                    return Err(Error::new(format!(
                        "mounts[{i}]: cannot specify {word}={id} mount option for rootless \
                         container: User namespaces enabled, but no {kind} mapping found."
                    )));
                }
            }
        }
    }
    if spec
        .process()
        .as_ref()
        .and_then(|p| p.user().additional_gids().as_ref())
        .is_some_and(|g| !g.is_empty())
    {
        return Err(Error::new(
            "cannot set any additional groups in a rootless container",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_values_as_runc_parses_them() {
        assert_eq!(parse_flag(None).unwrap(), None);
        assert_eq!(parse_flag(Some("auto")).unwrap(), None);
        assert_eq!(parse_flag(Some("true")).unwrap(), Some(true));
        assert_eq!(parse_flag(Some("1")).unwrap(), Some(true));
        assert_eq!(parse_flag(Some("False")).unwrap(), Some(false));
        let e = parse_flag(Some("bogus")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "strconv.ParseBool: parsing \"bogus\": invalid syntax"
        );
    }

    #[test]
    fn initial_namespace_is_the_identity_map() {
        assert!(is_initial_uid_map("         0          0 4294967295\n"));
        assert!(!is_initial_uid_map("         0       1000          1\n"));
        assert!(!is_initial_uid_map(""));
    }

    fn merge(base: &mut serde_json::Value, over: serde_json::Value) {
        match (base, over) {
            (serde_json::Value::Object(b), serde_json::Value::Object(o)) => {
                for (k, v) in o {
                    merge(b.entry(k).or_insert(serde_json::Value::Null), v);
                }
            }
            (b, o) => *b = o,
        }
    }

    fn spec(json: serde_json::Value) -> Spec {
        let mut base = serde_json::json!({
            "ociVersion": "1.0.2",
            "root": {"path": "rootfs"},
            "process": {"user": {"uid": 0, "gid": 0}, "args": ["sh"], "cwd": "/"},
            "linux": {
                "namespaces": [{"type": "user"}, {"type": "mount"}],
                "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
                "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]
            }
        });
        merge(&mut base, json);
        serde_json::from_value(base).unwrap()
    }

    #[test]
    fn rootless_spec_checks() {
        check_spec(&spec(serde_json::json!({}))).unwrap();
        let e = check_spec(&spec(
            serde_json::json!({"linux": {"namespaces": [{"type": "mount"}]}}),
        ));
        assert_eq!(
            e.unwrap_err().to_string(),
            "rootless container requires user namespaces"
        );
        let e = check_spec(&spec(serde_json::json!({"linux": {"gidMappings": []}})));
        assert!(e.unwrap_err().to_string().contains("GID mapping"));
        let e = check_spec(&spec(serde_json::json!({"mounts": [
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["gid=5"]}
        ]})));
        assert!(
            e.unwrap_err()
                .to_string()
                .contains("cannot specify gid=5 mount option for rootless container")
        );
        let e = check_spec(&spec(
            serde_json::json!({"process": {"user": {"additionalGids": [5]}}}),
        ));
        assert_eq!(
            e.unwrap_err().to_string(),
            "cannot set any additional groups in a rootless container"
        );
    }
}
