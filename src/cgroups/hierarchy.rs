//! Discovering the host's cgroup hierarchies and our place in them.

use crate::error::{Context, Result};
use std::path::PathBuf;

#[derive(Clone, Debug)]
pub struct Hierarchy {
    pub mount: PathBuf,
    /// v1 controllers (and `name=...`) of this hierarchy; empty for cgroup2.
    pub controllers: Vec<String>,
    /// rt's own cgroup in this hierarchy.
    pub own_path: String,
    pub v2: bool,
}

#[derive(Clone, Debug, Default)]
pub struct Layout {
    pub hierarchies: Vec<Hierarchy>,
}

impl Layout {
    pub fn is_pure_v2(&self) -> bool {
        self.hierarchies.len() == 1 && self.hierarchies[0].v2
    }
}

/// Reads /proc/self/mountinfo and /proc/self/cgroup.
pub fn detect() -> Result<Layout> {
    let mountinfo =
        crate::sys::read_virtual("/proc/self/mountinfo").ctx("read /proc/self/mountinfo")?;
    let own = crate::sys::read_virtual("/proc/self/cgroup").ctx("read /proc/self/cgroup")?;
    Ok(parse(&mountinfo, &own))
}

pub fn parse(mountinfo: &str, own: &str) -> Layout {
    // /proc/self/cgroup: "4:memory:/path", "0::/path" for cgroup2.
    let own_entries: Vec<(Vec<String>, String)> = own
        .lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, ':');
            let _id = it.next()?;
            let ctrls = it.next()?;
            let path = it.next()?;
            let ctrls = ctrls
                .split(',')
                .filter(|c| !c.is_empty())
                .map(String::from)
                .collect();
            Some((ctrls, path.to_string()))
        })
        .collect();
    let mut hierarchies = Vec::new();
    for line in mountinfo.lines() {
        // id parent maj:min root mountpoint opts [optional...] - fstype source superopts
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let left: Vec<&str> = left.split(' ').collect();
        let right: Vec<&str> = right.split(' ').collect();
        if left.len() < 5 || right.len() < 3 {
            continue;
        }
        let (root, mount, fstype) = (left[3], unescape(left[4]), right[0]);
        if root != "/" {
            continue; // a bind of a sub-cgroup (e.g. inside a container)
        }
        match fstype {
            "cgroup2" => {
                let own_path = own_entries
                    .iter()
                    .find(|(c, _)| c.is_empty())
                    .map(|(_, p)| p.clone())
                    .unwrap_or_else(|| "/".into());
                hierarchies.push(Hierarchy {
                    mount: mount.into(),
                    controllers: vec![],
                    own_path,
                    v2: true,
                });
            }
            "cgroup" => {
                let opts: Vec<&str> = right[2].split(',').collect();
                let Some((ctrls, path)) = own_entries
                    .iter()
                    .find(|(c, _)| !c.is_empty() && c.iter().all(|c| opts.contains(&c.as_str())))
                else {
                    continue;
                };
                if hierarchies
                    .iter()
                    .any(|h: &Hierarchy| &h.controllers == ctrls)
                {
                    continue; // the same hierarchy mounted twice
                }
                hierarchies.push(Hierarchy {
                    mount: mount.into(),
                    controllers: ctrls.clone(),
                    own_path: path.clone(),
                    v2: false,
                });
            }
            _ => {}
        }
    }
    Layout { hierarchies }
}

/// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len() + 0
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
30 25 0:26 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755
31 30 0:27 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
32 30 0:28 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
33 30 0:29 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
34 30 0:30 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    const OWN: &str = "9:name=systemd:/\n4:memory:/agent/abc\n1:cpu:/\n0::/\n";

    #[test]
    fn hybrid_layout() {
        let l = parse(HYBRID, OWN);
        let names: Vec<_> = l
            .hierarchies
            .iter()
            .map(|h| h.mount.display().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "/sys/fs/cgroup/cpu",
                "/sys/fs/cgroup/memory",
                "/sys/fs/cgroup/systemd",
                "/sys/fs/cgroup/unified"
            ]
        );
        assert_eq!(l.hierarchies[1].own_path, "/agent/abc");
        assert!(l.hierarchies[3].v2);
        assert!(!l.is_pure_v2());
    }

    #[test]
    fn pure_v2_layout() {
        let l = parse(
            "40 1 0:30 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n",
            "0::/user.slice\n",
        );
        assert!(l.is_pure_v2());
        assert_eq!(l.hierarchies[0].own_path, "/user.slice");
    }

    #[test]
    fn unescapes_octal() {
        assert_eq!(unescape("/a\\040b"), "/a b");
    }
}
