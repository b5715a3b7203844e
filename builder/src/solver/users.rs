//! `USER` / `--chown` names → numeric ids through the image's own
//! /etc/passwd and /etc/group (never the host's), as Docker does.

use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups from /etc/group (only when no group was given).
    pub additional_gids: Vec<u32>,
    /// The passwd home directory, for HOME.
    pub home: Option<String>,
}

struct PasswdEntry {
    name: String,
    uid: u32,
    gid: u32,
    home: String,
}

struct GroupEntry {
    name: String,
    gid: u32,
    members: Vec<String>,
}

fn read(rootfs: &Path, file: &str) -> String {
    // Resolved inside the rootfs: /etc may be a symlink in the image.
    crate::image::layer::paths::resolve_full(rootfs, Path::new(file))
        .ok()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .unwrap_or_default()
}

fn passwd(rootfs: &Path) -> Vec<PasswdEntry> {
    read(rootfs, "etc/passwd")
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 7 {
                return None;
            }
            Some(PasswdEntry {
                name: f[0].to_string(),
                uid: f[2].parse().ok()?,
                gid: f[3].parse().ok()?,
                home: f[5].to_string(),
            })
        })
        .collect()
}

fn groups(rootfs: &Path) -> Vec<GroupEntry> {
    read(rootfs, "etc/group")
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 4 {
                return None;
            }
            Some(GroupEntry {
                name: f[0].to_string(),
                gid: f[2].parse().ok()?,
                members: f[3]
                    .split(',')
                    .filter(|m| !m.is_empty())
                    .map(String::from)
                    .collect(),
            })
        })
        .collect()
}

/// Resolves `user[:group]` (names or numbers). An unknown *name* is an
/// error; an unknown number is used as is (uid with gid = uid's passwd
/// group, or 0... as runc/Docker do).
pub fn resolve(rootfs: &Path, spec: &str) -> Result<ResolvedUser, String> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let user = if user.is_empty() { "0" } else { user };
    let pw = passwd(rootfs);
    let entry = match user.parse::<u32>() {
        Ok(uid) => pw.iter().find(|p| p.uid == uid),
        Err(_) => Some(pw.iter().find(|p| p.name == user).ok_or_else(|| {
            format!("unable to find user {user}: no matching entries in passwd file")
        })?),
    };
    let uid = user
        .parse::<u32>()
        .unwrap_or_else(|_| entry.map(|e| e.uid).unwrap_or(0));
    let home = entry.map(|e| e.home.clone());
    let gr = groups(rootfs);
    let (gid, additional_gids) = match group {
        Some(g) => {
            let gid = match g.parse::<u32>() {
                Ok(n) => n,
                Err(_) => gr
                    .iter()
                    .find(|e| e.name == g)
                    .map(|e| e.gid)
                    .ok_or_else(|| {
                        format!("unable to find group {g}: no matching entries in group file")
                    })?,
            };
            (gid, Vec::new())
        }
        None => {
            let gid = entry.map(|e| e.gid).unwrap_or(0);
            let name = entry.map(|e| e.name.clone()).unwrap_or_default();
            let extra = gr
                .iter()
                .filter(|g| g.members.contains(&name) && g.gid != gid)
                .map(|g| g.gid)
                .collect();
            (gid, extra)
        }
    };
    Ok(ResolvedUser {
        uid,
        gid,
        additional_gids,
        home,
    })
}

/// `--chown=user[:group]`: like `resolve`, but a user alone gives gid =
/// the same number as the uid when numeric (Docker's rule), else the
/// user's primary group.
pub fn resolve_chown(rootfs: &Path, spec: &str) -> Result<(u32, u32), String> {
    let r = resolve(rootfs, spec)?;
    match spec.split_once(':') {
        Some(_) => Ok((r.uid, r.gid)),
        None if spec.parse::<u32>().is_ok() => Ok((r.uid, r.uid)),
        None => Ok((r.uid, r.gid)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_groups_and_numbers() {
        let root = std::env::temp_dir().join(format!("rt-build-users-{}", std::process::id()));
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(
            root.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            root.join("etc/group"),
            "root:x:0:\napp:x:1000:\nwheel:x:10:app\n",
        )
        .unwrap();
        let r = resolve(&root, "app").unwrap();
        assert_eq!(
            (r.uid, r.gid, r.additional_gids.clone(), r.home.as_deref()),
            (1000, 1000, vec![10], Some("/home/app"))
        );
        assert_eq!(resolve(&root, "app:wheel").unwrap().gid, 10);
        assert_eq!(resolve(&root, "1234").unwrap().uid, 1234);
        assert!(
            resolve(&root, "nobody")
                .unwrap_err()
                .contains("unable to find user nobody")
        );
        assert!(resolve(&root, "app:nogroup").is_err());
        assert_eq!(resolve_chown(&root, "55").unwrap(), (55, 55));
        assert_eq!(resolve_chown(&root, "app").unwrap(), (1000, 1000));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
