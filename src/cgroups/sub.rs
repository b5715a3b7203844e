//! `exec --cgroup [<controller>[,<controller>]:]<path>` (runc 1.2): the
//! exec'd process joins an existing sub-cgroup of the container's cgroup
//! instead of the container's cgroup itself.
//!
//! As in runc: one argument without a controller prefix names the
//! sub-cgroup in every hierarchy (cgroup v2's single one, or all of a v1
//! host's); prefixed arguments (repeatable, each controller once) name it
//! per v1 controller, and hierarchies not named keep the container's own
//! cgroup. rt never creates the sub-cgroup.

use super::{CgroupDir, Placement};
use crate::error::{Error, Result};
use std::collections::BTreeMap;

/// Parsed `--cgroup` arguments: sub-path per controller, or for all
/// hierarchies under the key "".
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SubCgroups(BTreeMap<String, String>);

impl SubCgroups {
    /// runc's grammar and its words for the argument errors.
    pub fn parse(args: &[String]) -> Result<SubCgroups> {
        let mut paths = BTreeMap::new();
        for arg in args {
            match arg.split_once(':') {
                Some((controllers, path)) => {
                    for ctrl in controllers.split(',') {
                        if ctrl.is_empty() {
                            return Err(Error::new(format!(
                                "invalid --cgroup argument: {arg} (empty <controller> prefix)"
                            )));
                        }
                        if paths.insert(ctrl.to_string(), path.to_string()).is_some() {
                            return Err(Error::new(format!(
                                "invalid --cgroup argument(s): controller {ctrl} specified multiple times"
                            )));
                        }
                    }
                }
                None => {
                    if args.len() != 1 {
                        return Err(Error::new(format!(
                            "invalid --cgroup argument: {arg} (missing <controller>: prefix)"
                        )));
                    }
                    paths.insert(String::new(), arg.clone());
                }
            }
        }
        Ok(SubCgroups(paths))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// `sub` as path components under the container's cgroup; nothing that
/// climbs out of it ("..") is accepted.
fn relative(sub: &str) -> Result<String> {
    let mut parts = Vec::new();
    for c in sub.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                return Err(Error::new(format!(
                    "--cgroup: {sub} is not a sub cgroup path"
                )));
            }
            c => parts.push(c),
        }
    }
    Ok(parts.join("/"))
}

impl Placement {
    /// The placement of an exec'd process given `--cgroup`: each hierarchy's
    /// directory moved down to the named sub-cgroup, which must exist.
    pub fn with_sub_cgroups(&self, subs: &SubCgroups) -> Result<Placement> {
        let mut out = self.clone();
        if subs.is_empty() {
            return Ok(out);
        }
        let all = subs.0.get("");
        for (ctrl, _) in subs.0.iter().filter(|(c, _)| !c.is_empty()) {
            if self.pure_v2() {
                return Err(Error::new(format!(
                    "invalid --cgroup argument: {ctrl}: controller prefixes need cgroup v1 \
                     (cgroup v2 has one hierarchy)"
                )));
            }
            if !self.dirs.iter().any(|d| d.has(ctrl)) {
                return Err(Error::new(format!(
                    "--cgroup: unknown controller {ctrl} (the container has no cgroup for it)"
                )));
            }
        }
        for d in out.dirs.iter_mut() {
            let sub = match all {
                Some(s) => Some(s),
                None => d.controllers.iter().find_map(|c| subs.0.get(c.as_str())),
            };
            if let Some(sub) = sub {
                descend(d, sub)?;
            }
        }
        // The exec'd process leaves nothing of its own to clean up.
        out.created.clear();
        Ok(out)
    }
}

fn descend(d: &mut CgroupDir, sub: &str) -> Result<()> {
    let rel = relative(sub)?;
    if rel.is_empty() {
        return Ok(());
    }
    d.path = format!("{}/{rel}", d.path.trim_end_matches('/'));
    let full = d.full();
    if !full.is_dir() {
        return Err(Error::new(format!(
            "--cgroup {sub}: cgroup {} does not exist",
            full.display()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn runcs_grammar() {
        let s = SubCgroups::parse(&args(&["cpu,memory:a/b", "pids:c"])).unwrap();
        assert_eq!(s.0.get("cpu").unwrap(), "a/b");
        assert_eq!(s.0.get("memory").unwrap(), "a/b");
        assert_eq!(s.0.get("pids").unwrap(), "c");
        let s = SubCgroups::parse(&args(&["x"])).unwrap();
        assert_eq!(s.0.get("").unwrap(), "x");
        for (bad, says) in [
            (&["a", "b"][..], "missing <controller>: prefix"),
            (&[":x"][..], "empty <controller> prefix"),
            (
                &["cpu:a", "cpu:b"][..],
                "controller cpu specified multiple times",
            ),
        ] {
            let e = SubCgroups::parse(&args(bad)).unwrap_err().to_string();
            assert!(e.contains(says), "{bad:?}: {e}");
        }
    }

    #[test]
    fn sub_paths_stay_inside() {
        assert_eq!(relative("/a//./b/").unwrap(), "a/b");
        assert!(relative("../x").is_err());
        assert!(relative("a/../../x").is_err());
    }
}
