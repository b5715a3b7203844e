//! The host's cgroup hierarchies, and removal of the test-owned subtree.

use std::fs;
use std::path::PathBuf;

/// Mount points of every cgroup (v1) and cgroup2 hierarchy on the host, read
/// from mountinfo so hybrid, v1 and pure v2 layouts all work.
pub fn hierarchies() -> Vec<PathBuf> {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mut out = Vec::new();
    for line in info.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let fstype = right.split(' ').next().unwrap_or("");
        if (fstype == "cgroup" || fstype == "cgroup2")
            && let Some(mp) = left.split(' ').nth(4)
        {
            let p = PathBuf::from(mp);
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    out
}

/// Paths `<hierarchy>/<rel>` that exist, for a cgroup path relative to the root.
pub fn existing(rel: &str) -> Vec<PathBuf> {
    let rel = rel.trim_start_matches('/');
    hierarchies()
        .into_iter()
        .map(|h| h.join(rel))
        .filter(|p| p.is_dir())
        .collect()
}

/// Host pids whose cgroup (in any hierarchy) is `parent` or below it.
/// Zombies are left out: an orphaned init is reaped by the host's pid 1 (or
/// by whoever is subreaper), which may take a while and is not the runtime's
/// doing.
pub fn pids_under(parent: &str) -> Vec<i32> {
    let parent = format!("/{}", parent.trim_start_matches('/'));
    let mut pids = Vec::new();
    let Ok(dir) = fs::read_dir("/proc") else {
        return pids;
    };
    for entry in dir.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cg) = fs::read_to_string(format!("/proc/{pid}/cgroup")) else {
            continue;
        };
        let inside = cg.lines().any(|l| {
            let path = l.splitn(3, ':').nth(2).unwrap_or("");
            path == parent || path.starts_with(&format!("{parent}/"))
        });
        if inside && !is_zombie(pid) {
            pids.push(pid);
        }
    }
    pids
}

/// Kills what is left in the subtree and removes its directories, deepest
/// first, in every hierarchy. Touches nothing outside `parent`.
pub fn remove_tree(parent: &str) {
    for pid in pids_under(parent) {
        // SAFETY: kill(2) on a pid we just found inside our own test cgroup.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    let rel = parent.trim_start_matches('/');
    assert!(
        !rel.is_empty() && !rel.contains(".."),
        "refusing to remove cgroup {parent:?}"
    );
    for root in hierarchies() {
        let top = root.join(rel);
        if top.is_dir() {
            remove_dirs_deepest_first(&top);
        }
    }
}

fn remove_dirs_deepest_first(dir: &PathBuf) {
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                remove_dirs_deepest_first(&e.path());
            }
        }
    }
    // A just-killed task may hold the cgroup briefly: retry rmdir.
    for _ in 0..200 {
        if fs::remove_dir(dir).is_ok() || !dir.exists() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    eprintln!("warning: could not remove cgroup {}", dir.display());
}

fn is_zombie(pid: i32) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return true;
    };
    // The state letter follows the parenthesised command name.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .is_none_or(|s| s == "Z" || s == "X")
}
