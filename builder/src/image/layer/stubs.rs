//! Mount stubs: a RUN container needs a file or directory at every mount
//! target, and the runtime creates the missing ones (with their missing
//! parents) in the rootfs, so they land in the step's upper dir. Like
//! BuildKit, we note before the run which path components did not exist
//! and afterwards drop them from the upper dir when they are still empty,
//! plus the directories overlay only copied up to hold them. What the
//! command itself wrote stays.

use std::path::{Path, PathBuf};

#[derive(Debug, Default)]
pub struct MountStubs {
    /// Components (relative to the rootfs) that did not exist.
    created: Vec<PathBuf>,
    /// Existing directories that received a stub (copied up by overlay).
    hosts: Vec<PathBuf>,
}

impl MountStubs {
    /// Records, for each absolute `target`, what is missing under `rootfs`.
    pub fn record(rootfs: &Path, targets: &[String]) -> MountStubs {
        let mut stubs = MountStubs::default();
        for t in targets {
            let rel = super::paths::clean(Path::new(t));
            let mut cur = PathBuf::new();
            let mut last_existing = PathBuf::new();
            for c in rel.components() {
                cur.push(c);
                match std::fs::symlink_metadata(rootfs.join(&cur)) {
                    Ok(m) if m.is_dir() => last_existing = cur.clone(),
                    // A symlink or file in the way: the runtime resolves
                    // it; we leave whatever happens there alone.
                    Ok(_) => break,
                    Err(_) => {
                        if !stubs.created.contains(&cur) {
                            stubs.created.push(cur.clone());
                        }
                    }
                }
            }
            if !last_existing.as_os_str().is_empty() && !stubs.hosts.contains(&last_existing) {
                stubs.hosts.push(last_existing);
            }
        }
        stubs
    }

    /// Drops the stubs from a finished step's upper dir.
    pub fn clean(&self, upper: &Path) {
        let mut created = self.created.clone();
        created.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        for rel in &created {
            let p = upper.join(rel);
            match std::fs::symlink_metadata(&p) {
                Ok(m) if m.is_dir() => {
                    // Fails (and keeps it) when the command put files there.
                    let _ = std::fs::remove_dir(&p);
                }
                Ok(m) if m.is_file() && m.len() == 0 => {
                    let _ = std::fs::remove_file(&p);
                }
                _ => {}
            }
        }
        // Directories that only hold the stubs' place in the upper dir:
        // empty, not opaque (an opaque dir records a deletion).
        let mut hosts = Vec::new();
        for h in &self.hosts {
            let mut cur = h.clone();
            loop {
                if !hosts.contains(&cur) {
                    hosts.push(cur.clone());
                }
                if !cur.pop() || cur.as_os_str().is_empty() {
                    break;
                }
            }
        }
        hosts.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        for rel in hosts {
            let p = upper.join(&rel);
            let opaque = xattr::get(&p, "trusted.overlay.opaque")
                .ok()
                .flatten()
                .is_some();
            let empty = std::fs::read_dir(&p).is_ok_and(|mut d| d.next().is_none());
            if empty && !opaque {
                let _ = std::fs::remove_dir(&p);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stubs_go_and_written_content_stays() {
        let base = std::env::temp_dir().join(format!("stubs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let rootfs = base.join("rootfs");
        let upper = base.join("upper");
        std::fs::create_dir_all(rootfs.join("root")).unwrap();
        std::fs::create_dir_all(rootfs.join("src")).unwrap();
        let stubs = MountStubs::record(
            &rootfs,
            &[
                "/root/.cache/pip".into(),
                "/run/secrets/tok".into(),
                "/src".into(),
                "/work/out".into(),
            ],
        );
        // What the runtime and the command left in the upper dir.
        std::fs::create_dir_all(upper.join("root/.cache/pip")).unwrap();
        std::fs::create_dir_all(upper.join("run/secrets")).unwrap();
        std::fs::write(upper.join("run/secrets/tok"), b"").unwrap();
        std::fs::create_dir_all(upper.join("work/out")).unwrap();
        std::fs::write(upper.join("work/result"), b"made by RUN").unwrap();
        stubs.clean(&upper);
        assert!(!upper.join("root").exists());
        assert!(!upper.join("run").exists());
        assert!(!upper.join("work/out").exists());
        assert!(upper.join("work/result").exists());
        std::fs::remove_dir_all(&base).unwrap();
    }
}
