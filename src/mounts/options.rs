//! Mount options as runc accepts them: flags for mount(2), propagation
//! changes applied afterwards, recursive attributes for mount_setattr(2),
//! and everything else passed to the filesystem as data.

use libc::c_ulong;

#[derive(Default, Debug, PartialEq)]
pub struct MountOptions {
    pub flags: c_ulong,
    pub propagation: Vec<c_ulong>,
    pub attr_set: u64,
    pub attr_clr: u64,
    pub data: Vec<String>,
    /// `tmpcopyup`: copy the image's content into a new tmpfs.
    pub copy_up: bool,
    /// `idmap` / `ridmap`: an idmapped bind mount.
    pub idmap: Option<Idmap>,
}

/// Which mounts of an idmapped bind get the id mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Idmap {
    /// `idmap`: the bind's top mount only.
    Top,
    /// `ridmap`: the top mount and every submount of an `rbind`.
    Recursive,
}

pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;
pub const MOUNT_ATTR__ATIME: u64 = 0x70;
pub const MOUNT_ATTR_RELATIME: u64 = 0x0;
pub const MOUNT_ATTR_NOATIME: u64 = 0x10;
pub const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
pub const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
pub const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x200000;

impl MountOptions {
    pub fn is_bind(&self) -> bool {
        self.flags & libc::MS_BIND != 0
    }

    pub fn parse(options: &[String]) -> MountOptions {
        let mut o = MountOptions::default();
        for opt in options {
            let (set, clear): (c_ulong, c_ulong) = match opt.as_str() {
                "defaults" => (0, 0),
                "ro" => (libc::MS_RDONLY, 0),
                "rw" => (0, libc::MS_RDONLY),
                "suid" => (0, libc::MS_NOSUID),
                "nosuid" => (libc::MS_NOSUID, 0),
                "dev" => (0, libc::MS_NODEV),
                "nodev" => (libc::MS_NODEV, 0),
                "exec" => (0, libc::MS_NOEXEC),
                "noexec" => (libc::MS_NOEXEC, 0),
                "sync" => (libc::MS_SYNCHRONOUS, 0),
                "async" => (0, libc::MS_SYNCHRONOUS),
                "dirsync" => (libc::MS_DIRSYNC, 0),
                "remount" => (libc::MS_REMOUNT, 0),
                "mand" => (libc::MS_MANDLOCK, 0),
                "nomand" => (0, libc::MS_MANDLOCK),
                "atime" => (0, libc::MS_NOATIME),
                "noatime" => (libc::MS_NOATIME, 0),
                "diratime" => (0, libc::MS_NODIRATIME),
                "nodiratime" => (libc::MS_NODIRATIME, 0),
                "bind" => (libc::MS_BIND, 0),
                "rbind" => (libc::MS_BIND | libc::MS_REC, 0),
                "relatime" => (libc::MS_RELATIME, 0),
                "norelatime" => (0, libc::MS_RELATIME),
                "strictatime" => (libc::MS_STRICTATIME, 0),
                "nostrictatime" => (0, libc::MS_STRICTATIME),
                "silent" => (libc::MS_SILENT, 0),
                "loud" => (0, libc::MS_SILENT),
                _ => {
                    if let Some(p) = propagation(opt) {
                        o.propagation.push(p);
                    } else if let Some((set, clr)) = recursive_attr(opt) {
                        o.attr_set |= set;
                        o.attr_clr |= clr;
                    } else if opt == "tmpcopyup" {
                        o.copy_up = true;
                    } else if opt == "idmap" {
                        o.idmap = Some(Idmap::Top);
                    } else if opt == "ridmap" {
                        o.idmap = Some(Idmap::Recursive);
                    } else {
                        o.data.push(opt.clone());
                    }
                    continue;
                }
            };
            o.flags = (o.flags | set) & !clear;
        }
        o
    }
}

pub fn propagation(opt: &str) -> Option<c_ulong> {
    Some(match opt {
        "private" => libc::MS_PRIVATE,
        "rprivate" => libc::MS_PRIVATE | libc::MS_REC,
        "shared" => libc::MS_SHARED,
        "rshared" => libc::MS_SHARED | libc::MS_REC,
        "slave" => libc::MS_SLAVE,
        "rslave" => libc::MS_SLAVE | libc::MS_REC,
        "unbindable" => libc::MS_UNBINDABLE,
        "runbindable" => libc::MS_UNBINDABLE | libc::MS_REC,
        _ => return None,
    })
}

/// The recursive `r*` options (runc ≥ 1.1): (attributes to set, to clear).
fn recursive_attr(opt: &str) -> Option<(u64, u64)> {
    Some(match opt {
        "rro" => (MOUNT_ATTR_RDONLY, 0),
        "rrw" => (0, MOUNT_ATTR_RDONLY),
        "rnosuid" => (MOUNT_ATTR_NOSUID, 0),
        "rsuid" => (0, MOUNT_ATTR_NOSUID),
        "rnodev" => (MOUNT_ATTR_NODEV, 0),
        "rdev" => (0, MOUNT_ATTR_NODEV),
        "rnoexec" => (MOUNT_ATTR_NOEXEC, 0),
        "rexec" => (0, MOUNT_ATTR_NOEXEC),
        "rnodiratime" => (MOUNT_ATTR_NODIRATIME, 0),
        "rdiratime" => (0, MOUNT_ATTR_NODIRATIME),
        "rrelatime" => (MOUNT_ATTR_RELATIME, MOUNT_ATTR__ATIME),
        "rnorelatime" => (0, MOUNT_ATTR__ATIME),
        "rnoatime" => (MOUNT_ATTR_NOATIME, MOUNT_ATTR__ATIME),
        "ratime" => (0, MOUNT_ATTR__ATIME),
        "rstrictatime" => (MOUNT_ATTR_STRICTATIME, MOUNT_ATTR__ATIME),
        "rnostrictatime" => (0, MOUNT_ATTR__ATIME),
        "rnosymfollow" => (MOUNT_ATTR_NOSYMFOLLOW, 0),
        "rsymfollow" => (0, MOUNT_ATTR_NOSYMFOLLOW),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(opts: &[&str]) -> MountOptions {
        MountOptions::parse(&opts.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn flags_data_propagation_and_recursive() {
        let o = p(&[
            "rbind", "ro", "nosuid", "rslave", "rro", "size=64k", "mode=755",
        ]);
        assert_eq!(
            o.flags,
            libc::MS_BIND | libc::MS_REC | libc::MS_RDONLY | libc::MS_NOSUID
        );
        assert_eq!(o.propagation, vec![libc::MS_SLAVE | libc::MS_REC]);
        assert_eq!(o.attr_set, MOUNT_ATTR_RDONLY);
        assert_eq!(o.data, vec!["size=64k", "mode=755"]);
        assert!(o.is_bind());
        assert_eq!(o.idmap, None);
    }

    #[test]
    fn idmap_options_are_not_filesystem_data() {
        let o = p(&["rbind", "ridmap"]);
        assert_eq!(o.idmap, Some(Idmap::Recursive));
        assert!(o.data.is_empty());
        assert_eq!(p(&["bind", "idmap"]).idmap, Some(Idmap::Top));
    }

    #[test]
    fn later_option_wins() {
        assert_eq!(p(&["ro", "rw"]).flags & libc::MS_RDONLY, 0);
        assert_eq!(p(&["noexec", "exec"]).flags, 0);
    }
}
