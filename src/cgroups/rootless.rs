//! Rootless cgroups, runc's rules: without a cgroupsPath, a hierarchy in
//! which rt may not make (or join) the container's cgroup is left out, and
//! that is fine as long as the container asks for no limit there; a limit
//! it asks for that cannot be set is an error naming the controller. A
//! cgroupsPath the user may write to (a delegated subtree) is used as
//! usual, and one it may not write to fails as it would for root.

use super::{CgroupDir, Placement};
use crate::error::{Error, Result};
use oci_spec::runtime::LinuxResources;
use std::path::{Path, PathBuf};

/// A hierarchy left out, and why.
#[derive(Clone, Debug)]
pub struct Denied {
    pub dir: CgroupDir,
    /// The directory we could not write to.
    pub at: PathBuf,
}

impl Placement {
    /// Moves each hierarchy whose cgroup we could not make or join into
    /// `denied`. Decided from permissions when the placement is planned,
    /// before anything is made and before the init (which may join its
    /// cgroups itself) is cloned with a copy of it.
    pub fn leave_out_denied(&mut self) {
        let (mut kept, mut denied) = (Vec::new(), Vec::new());
        for d in self.dirs.drain(..) {
            match unwritable(&d) {
                Some(at) => denied.push(Denied { dir: d, at }),
                None => kept.push(d),
            }
        }
        self.dirs = kept;
        self.denied.extend(denied);
    }
}

/// Where making or joining `d` would be refused: the existing cgroup's
/// cgroup.procs, or the nearest existing ancestor we would mkdir in.
fn unwritable(d: &CgroupDir) -> Option<PathBuf> {
    let full = d.full();
    let target = if full.is_dir() {
        full.join("cgroup.procs")
    } else {
        let mut cur = full.clone();
        while !cur.is_dir() && cur != d.mount && cur.starts_with(&d.mount) {
            cur.pop();
        }
        cur
    };
    (!writable(&target)).then_some(target)
}

fn writable(path: &Path) -> bool {
    let Ok(c) = crate::sys::cpath(path) else {
        return false;
    };
    // SAFETY: faccessat on a NUL-terminated path; checks with the
    // effective ids, which are what mkdir and open use.
    unsafe { libc::faccessat(libc::AT_FDCWD, c.as_ptr(), libc::W_OK, libc::AT_EACCESS) == 0 }
}

/// A limit asked for in a hierarchy that was left out cannot be set:
/// runc's errors (per controller on v1, one for cgroup2).
pub fn check_denied(p: &Placement, r: &LinuxResources) -> Result<()> {
    let asked = super::resources::asked_controllers(r);
    for Denied { dir, at } in &p.denied {
        if dir.v2 {
            let wants_unified = r.unified().as_ref().is_some_and(|u| !u.is_empty());
            if p.dirs.is_empty() && (!asked.is_empty() || wants_unified) {
                return Err(Error::new(format!(
                    "rootless needs no limits + no cgrouppath when no permission is granted \
                     for cgroups: cannot create cgroup {}: permission denied (at {})",
                    dir.full().display(),
                    at.display()
                )));
            }
            continue;
        }
        if let Some(c) = asked
            .iter()
            .find(|c| dir.controllers.iter().any(|x| x == *c))
        {
            return Err(Error::new(format!(
                "cannot set {c} limit: container could not join or create cgroup"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(mount: &Path, path: &str, controllers: &[&str], v2: bool) -> CgroupDir {
        CgroupDir {
            mount: mount.to_path_buf(),
            path: path.into(),
            controllers: controllers.iter().map(|c| c.to_string()).collect(),
            v2,
        }
    }

    fn resources(json: serde_json::Value) -> LinuxResources {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn limits_in_a_left_out_hierarchy_are_refused_naming_the_controller() {
        let m = Path::new("/nonexistent-mount");
        let p = Placement {
            denied: vec![
                Denied {
                    dir: dir(m, "/c", &["memory"], false),
                    at: m.into(),
                },
                Denied {
                    dir: dir(m, "/c", &["devices"], false),
                    at: m.into(),
                },
            ],
            ..Placement::default()
        };
        // Device rules (always there) and other controllers' limits are fine.
        check_denied(
            &p,
            &resources(serde_json::json!({"devices": [{"allow": false}]})),
        )
        .unwrap();
        check_denied(&p, &resources(serde_json::json!({"pids": {"limit": 10}}))).unwrap();
        // Zero means unset, as everywhere else.
        check_denied(&p, &resources(serde_json::json!({"memory": {"limit": 0}}))).unwrap();
        let e = check_denied(
            &p,
            &resources(serde_json::json!({"memory": {"limit": 1048576}})),
        );
        assert_eq!(
            e.unwrap_err().to_string(),
            "cannot set memory limit: container could not join or create cgroup"
        );
    }

    #[test]
    fn pure_v2_left_out_refuses_any_limit() {
        let m = Path::new("/nonexistent-mount");
        let p = Placement {
            denied: vec![Denied {
                dir: dir(m, "/c", &[], true),
                at: m.into(),
            }],
            ..Placement::default()
        };
        check_denied(&p, &resources(serde_json::json!({}))).unwrap();
        let e = check_denied(&p, &resources(serde_json::json!({"pids": {"limit": 10}})));
        assert!(
            e.unwrap_err()
                .to_string()
                .starts_with("rootless needs no limits + no cgrouppath")
        );
    }
}
