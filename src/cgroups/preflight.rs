//! Checks made before anything is created for a container: whether its
//! `unified` keys can exist on this host at all, and what the cgroup it is
//! about to use already holds (runc's checks and words).

use super::{Layout, Placement};
use crate::error::{Error, Result};
use oci_spec::runtime::LinuxResources;
use std::path::Path;

/// `linux.resources.unified` keys name cgroup2 files. A key whose
/// controller this host's cgroup2 hierarchy does not have (on a hybrid
/// host: any, they are all v1) can never be written: an invalid
/// configuration, refused before the container exists, as runc refuses
/// unified on cgroup v1.
pub fn check_unified(layout: &Layout, r: &LinuxResources) -> Result<()> {
    let Some(unified) = r.unified().as_ref().filter(|u| !u.is_empty()) else {
        return Ok(());
    };
    let available = layout
        .hierarchies
        .iter()
        .find(|h| h.v2)
        .and_then(|h| crate::sys::read_virtual(h.mount.join("cgroup.controllers")).ok())
        .unwrap_or_default();
    let mut keys: Vec<&String> = unified.keys().collect();
    keys.sort();
    for key in keys {
        crate::spec::validate_unified_key(key)?;
        let controller = key.split('.').next().unwrap_or_default();
        if controller == "cgroup" || available.split_whitespace().any(|c| c == controller) {
            continue;
        }
        let why = if layout.is_pure_v2() {
            "this host's cgroup2 hierarchy has no such controller"
        } else {
            "its hierarchy is cgroup v1 on this host (cannot use unified on cgroup v1)"
        };
        return Err(Error::new(format!(
            "invalid configuration: linux.resources.unified[{key:?}]: the {controller} \
             controller: {why}"
        )));
    }
    Ok(())
}

impl Placement {
    /// runc's checks of a cgroup that already exists: processes in it are
    /// worth a warning; a frozen one is refused, as the init would stop
    /// there and `create` wait for it forever.
    pub fn check_reusable(&self) -> Result<()> {
        let found = self
            .dirs
            .iter()
            .filter_map(|d| std::fs::read_to_string(d.full().join("cgroup.procs")).ok())
            .map(|procs| procs.lines().filter(|l| !l.trim().is_empty()).count())
            .max()
            .unwrap_or(0);
        if found > 0 {
            log::warn!("container's cgroup is not empty: {found} process(es) found");
        }
        if self.frozen_already() {
            return Err(Error::new("container's cgroup unexpectedly frozen"));
        }
        Ok(())
    }

    /// Whether the cgroup, or (while it does not exist yet) its nearest
    /// existing ancestor, is frozen in the v1 freezer or on cgroup2: a
    /// frozen parent freezes what is created below it.
    fn frozen_already(&self) -> bool {
        self.dirs.iter().any(|d| {
            let v1 = d.controllers.iter().any(|c| c == "freezer");
            if !(v1 || d.v2) {
                return false;
            }
            let Some(dir) = nearest_existing(&d.mount, &d.full()) else {
                return false;
            };
            if v1 {
                let state = crate::sys::read_virtual(dir.join("freezer.state")).unwrap_or_default();
                matches!(state.trim(), "FROZEN" | "FREEZING")
            } else {
                crate::sys::read_virtual(dir.join("cgroup.events"))
                    .unwrap_or_default()
                    .lines()
                    .any(|l| l.trim() == "frozen 1")
            }
        })
    }
}

/// `dir`, or its closest ancestor that exists, not above `mount` (whose
/// root cgroup cannot be frozen).
fn nearest_existing(mount: &Path, dir: &Path) -> Option<std::path::PathBuf> {
    let mut cur = dir.to_path_buf();
    while cur.starts_with(mount) && cur != mount {
        if cur.is_dir() {
            return Some(cur);
        }
        cur.pop();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::Hierarchy;
    use std::collections::HashMap;

    fn unified(keys: &[&str]) -> LinuxResources {
        let mut r = LinuxResources::default();
        r.set_unified(Some(
            keys.iter()
                .map(|k| (k.to_string(), "1".to_string()))
                .collect::<HashMap<_, _>>(),
        ));
        r
    }

    #[test]
    fn unified_keys_without_a_v2_controller_are_invalid() {
        // A v1-only layout: no cgroup2 hierarchy at all.
        let v1 = Layout {
            hierarchies: vec![Hierarchy {
                mount: "/nonexistent/memory".into(),
                controllers: vec!["memory".into()],
                own_path: "/".into(),
                v2: false,
            }],
        };
        let e = check_unified(&v1, &unified(&["memory.min"])).unwrap_err();
        assert!(
            e.message()
                .starts_with("invalid configuration: linux.resources.unified[\"memory.min\"]"),
            "{e}"
        );
        assert!(e.message().contains("cgroup v1"), "{e}");
        check_unified(&v1, &unified(&["cgroup.max.depth"])).unwrap();
        check_unified(&v1, &LinuxResources::default()).unwrap();
        let e = check_unified(&v1, &unified(&["../tasks"])).unwrap_err();
        assert!(e.message().contains("../tasks"), "{e}");
    }
}
