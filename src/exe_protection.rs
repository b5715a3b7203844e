//! Keeps rt's own binary out of a container's reach (CVE-2019-5736).
//!
//! rt never re-executes itself to become the container's init: the init is
//! a clone of the `create` process, and `exec` clones a helper the same way.
//! Until they execve the container's program, /proc/<pid>/exe of those
//! processes is rt's binary. A container that makes its entrypoint a script
//! with `#!/proc/self/exe` (or a symlink to it) gets the kernel to run that
//! binary inside the container, dumpable, where the container's root can
//! open it through /proc/<pid>/exe and rewrite it once rt has exited.
//!
//! The defence: the process that clones into a container runs from a file
//! that cannot be written through any path the container can reach. Before
//! `create`, `run` and `exec` (and rt-build's RUN steps) do anything, rt
//! checks /proc/self/exe; when it is a writable file, rt makes a detached
//! read-only bind mount of the same file (open_tree + mount_setattr, no
//! copy, page cache shared) and moves its running image onto it without
//! executing anything (`reseat`: the mappings, then PR_SET_MM_MAP's
//! exe_fd). Where that is not allowed (no CAP_SYS_ADMIN or
//! CAP_CHECKPOINT_RESTORE), rt executes itself once more from the clone,
//! or, where the kernel cannot make one, from a write-sealed memfd copy.
//! An rt installed on a read-only mount, or started from a sealed memfd,
//! pays nothing.

use crate::error::{Context, Error, Result};
use crate::sys;
use std::ffi::{CStr, CString};
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

mod release;
mod reseat;

pub use release::settle;

const MOUNT_ATTR_RDONLY: u64 = 0x1;
const WRITE_SEALS: i32 =
    libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;

/// How the running binary is kept from being rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection {
    ReadOnlyMount,
    SealedMemfd,
}

/// What protects the file `exe` (an open binary), if anything.
pub fn protection_of(exe: &File) -> Option<Protection> {
    if sys::on_read_only_mount(exe.as_raw_fd()).unwrap_or(false) {
        return Some(Protection::ReadOnlyMount);
    }
    match sys::get_seals(exe.as_raw_fd()) {
        Ok(seals) if seals & libc::F_SEAL_WRITE != 0 => Some(Protection::SealedMemfd),
        _ => None,
    }
}

/// Returns when the running binary is protected, if need be after moving
/// the running image onto a read-only clone; otherwise executes the binary
/// again from a protected file and never returns, or fails.
pub fn ensure() -> Result<()> {
    ensure_then(Release::Now)
}

/// `ensure` for `create` or `run` of the bundle in `bundle_dir`, unless
/// none of the container's processes could open rt's binary for writing
/// whatever rt does: a new user namespace that maps neither the binary's
/// owner nor lets group or others write it. Its root then acts on the
/// file as an unmapped stranger (capabilities in a user namespace do not
/// cover inodes whose owner it does not map), so the open fails with
/// EACCES before any defence is needed, and rt saves the move (about
/// 0.5 ms).
///
/// Called first thing, as `ensure` is: everything rt touches before the
/// move is mapped twice for a while (about 450 KiB more peak RSS when the
/// whole spec was parsed first), so only the few fields this needs are
/// read here; anything unexpected (no file, bad JSON) means protect.
pub fn ensure_for_bundle(bundle_dir: &std::path::Path) -> Result<()> {
    // The spec's own reader: a FIFO or device there must not block us.
    let view = crate::spec::read_config(&bundle_dir.join("config.json"))
        .ok()
        .and_then(|text| serde_json::from_slice::<UsernsView>(&text).ok());
    match view.as_ref().and_then(unwritable_from) {
        Some(why) => {
            log::debug!("exe protection: not needed, {why}");
            Ok(())
        }
        None => ensure_then(Release::InBackground),
    }
}

/// `ensure` for `exec` into container `id` under `root`, unless, by the
/// same rule as `ensure_for_bundle`, its processes cannot open rt's binary
/// for writing: the user namespace its init lives in, whose uid map the
/// kernel shows in /proc/PID/uid_map, maps neither the binary's owner nor
/// do group or others have write. exec joins exactly that namespace (by
/// the init's /proc/PID/ns/user, after checking the init is the
/// container's); a namespace the init made since is nested in it and maps
/// no more. Only the record's pid is read here; anything unexpected (bad
/// id, no record, no such process) means protect.
pub fn ensure_for_container(root: &std::path::Path, id: &str) -> Result<()> {
    #[derive(serde::Deserialize)]
    struct PidView {
        pid: i32,
    }
    let maps = crate::state::validate_id(id)
        .ok()
        .and_then(|()| crate::spec::read_config(&root.join(id).join(crate::state::STATE_FILE)).ok())
        .and_then(|text| serde_json::from_slice::<PidView>(&text).ok())
        .filter(|v| v.pid > 0)
        .and_then(|v| std::fs::read_to_string(format!("/proc/{}/uid_map", v.pid)).ok())
        .map(|text| uid_map_lines(&text));
    match maps.as_deref().and_then(unwritable_through) {
        Some(why) => {
            log::debug!("exe protection: not needed, {why}");
            Ok(())
        }
        None => ensure_then(Release::InBackground),
    }
}

/// /proc/PID/uid_map: "inside outside count" per line.
fn uid_map_lines(text: &str) -> Vec<IdMapView> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace().skip(1).map(str::parse::<u32>);
            match (f.next(), f.next()) {
                (Some(Ok(host_id)), Some(Ok(size))) => Some(IdMapView { host_id, size }),
                _ => None,
            }
        })
        .collect()
}

/// The fields of config.json that tell a new user namespace and its uid
/// map; serde skips the rest.
#[derive(serde::Deserialize)]
struct UsernsView {
    linux: Option<LinuxView>,
}

#[derive(serde::Deserialize)]
struct LinuxView {
    #[serde(default)]
    namespaces: Vec<NamespaceView>,
    #[serde(rename = "uidMappings", default)]
    uid_mappings: Vec<IdMapView>,
}

#[derive(serde::Deserialize)]
struct NamespaceView {
    #[serde(rename = "type")]
    typ: String,
    path: Option<String>,
}

#[derive(serde::Deserialize)]
struct IdMapView {
    #[serde(rename = "hostID")]
    host_id: u32,
    size: u32,
}

/// Why the container of `view` cannot write rt's binary, or None if it
/// might. Only a new user namespace whose map the spec gives counts: a
/// joined one is not known before the clone. Group write is refused
/// whatever the group: with POSIX ACLs those bits are the mask, which
/// bounds what any named user or group may do.
fn unwritable_from(view: &UsernsView) -> Option<String> {
    let linux = view.linux.as_ref()?;
    let userns = linux.namespaces.iter().find(|n| n.typ == "user")?;
    if userns.path.as_deref().is_some_and(|p| !p.is_empty()) {
        return None;
    }
    unwritable_through(&linux.uid_mappings)
}

/// Why processes in a user namespace with this uid map cannot write rt's
/// binary, or None if they might (an empty map included: no namespace of
/// its own, or nothing known).
fn unwritable_through(uid_mappings: &[IdMapView]) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    if uid_mappings.is_empty() {
        return None;
    }
    let meta = std::fs::metadata("/proc/self/exe").ok()?;
    let owner_mapped = uid_mappings.iter().any(|m| {
        let first = u64::from(m.host_id);
        (first..first + u64::from(m.size)).contains(&u64::from(meta.uid()))
    });
    let writable_by_others = meta.mode() & 0o022 != 0;
    (!owner_mapped && !writable_by_others).then(|| {
        format!(
            "the user namespace does not map its owner (uid {}) and mode {:o} lets only the owner write",
            meta.uid(),
            meta.mode() & 0o7777
        )
    })
}

/// When the fd of the read-only clone is closed once the running image
/// has moved onto it (see release.rs: closing it waits for an RCU grace
/// period).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// Before `ensure_then` returns.
    Now,
    /// On a short-lived thread of its own: rt is multi-threaded until it
    /// ends, so what needs a single thread must call `settle` first.
    InBackground,
}

/// `ensure`, choosing when the clone's fd is closed.
pub fn ensure_then(release: Release) -> Result<()> {
    let exe = File::open("/proc/self/exe").ctx("open /proc/self/exe")?;
    if protection_of(&exe).is_some() {
        return Ok(());
    }
    let clone = match read_only_clone(c"/proc/self/exe") {
        Ok(clone) => match move_onto(&clone) {
            Ok(()) => {
                if release == Release::InBackground {
                    release::in_background(clone);
                }
                return Ok(());
            }
            Err(e) => {
                log::debug!("exe protection: {e}; executing the read-only clone instead");
                Ok(clone)
            }
        },
        Err(e) => Err(e),
    };
    let protected = clone
        .or_else(|clone_err| {
            sealed_copy(&exe).map_err(|copy_err| {
                Error::new(format!(
                    "read-only bind: {clone_err}; sealed memfd copy: {copy_err}"
                ))
            })
        })
        .ctx("protecting the rt binary from the container (CVE-2019-5736)")?;
    drop(exe);
    let argv = to_cstrings(std::env::args_os().map(|a| a.as_bytes().to_vec()))?;
    let envp = to_cstrings(std::env::vars_os().map(|(k, v)| {
        let mut kv = k.as_bytes().to_vec();
        kv.push(b'=');
        kv.extend_from_slice(v.as_bytes());
        kv
    }))?;
    let err = sys::execveat_fd(protected.as_raw_fd(), &argv, &envp);
    Err(Error::errno("re-executing rt from its protected copy", err))
}

/// Moves the running image onto `clone` (see reseat.rs) and checks that
/// /proc/self/exe is the read-only clone afterwards.
fn move_onto(clone: &OwnedFd) -> Result<()> {
    let file = File::open(sys::fd_path(clone)).ctx("reopen the read-only clone")?;
    reseat::reseat_on(&file).ctx("moving the running image onto the read-only clone")?;
    let exe = File::open("/proc/self/exe").ctx("open /proc/self/exe")?;
    match protection_of(&exe) {
        Some(Protection::ReadOnlyMount) => Ok(()),
        _ => Err(Error::new(
            "/proc/self/exe is still writable after the move",
        )),
    }
}

/// A detached bind mount of `file` (the running binary), made read-only.
/// Checked before use, so the new image cannot find itself unprotected and
/// loop.
fn read_only_clone(file: &CStr) -> Result<OwnedFd> {
    let clone = sys::open_tree_clone(file).ctx("open_tree")?;
    sys::mount_setattr_fd(clone.as_raw_fd(), MOUNT_ATTR_RDONLY).ctx("mount_setattr")?;
    if !sys::on_read_only_mount(clone.as_raw_fd()).ctx("fstatvfs")? {
        return Err(Error::new("the clone is still writable"));
    }
    Ok(clone)
}

/// A memfd holding a copy of the binary, sealed against every change.
fn sealed_copy(exe: &File) -> Result<OwnedFd> {
    let memfd = sys::memfd_create_sealable(c"rt").ctx("memfd_create")?;
    let mut src = exe;
    let mut dst = File::from(memfd);
    std::io::copy(&mut src, &mut dst).ctx("copy")?;
    let memfd = OwnedFd::from(dst);
    sys::add_seals(memfd.as_raw_fd(), WRITE_SEALS).ctx("seal")?;
    Ok(memfd)
}

fn to_cstrings(items: impl Iterator<Item = Vec<u8>>) -> Result<Vec<CString>> {
    items
        .map(|b| CString::new(b).map_err(|_| Error::new("argument contains a NUL byte")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn view(json: &str) -> UsernsView {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn only_a_new_user_namespace_that_does_not_map_the_owner_skips_protection() {
        use std::os::unix::fs::MetadataExt;
        let exe = std::fs::metadata("/proc/self/exe").unwrap();
        let owner = exe.uid();
        let others_may_write = exe.mode() & 0o022 != 0;
        let elsewhere = if owner < 100_000 { 100_000 } else { 0 };
        let userns = |maps: &str| {
            format!(
                r#"{{"linux": {{"namespaces": [{{"type": "pid"}}, {{"type": "user"}}], "uidMappings": {maps}}}}}"#
            )
        };
        let unmapped = userns(&format!(
            r#"[{{"containerID": 0, "hostID": {elsewhere}, "size": 65536}}]"#
        ));
        assert_eq!(
            unwritable_from(&view(&unmapped)).is_some(),
            !others_may_write
        );
        let mapped = userns(&format!(
            r#"[{{"containerID": 0, "hostID": {owner}, "size": 1}}]"#
        ));
        assert!(
            unwritable_from(&view(&mapped)).is_none(),
            "owner {owner} is mapped"
        );
        let in_range = userns(&format!(
            r#"[{{"containerID": 0, "hostID": {elsewhere}, "size": 1}}, {{"containerID": 1, "hostID": {}, "size": 2}}]"#,
            owner.saturating_sub(1)
        ));
        assert!(
            unwritable_from(&view(&in_range)).is_none(),
            "owner {owner} is in a range"
        );
        for protected in [
            r#"{}"#,
            r#"{"linux": {"namespaces": [{"type": "pid"}]}}"#,
            r#"{"linux": {"namespaces": [{"type": "user"}]}}"#,
            r#"{"linux": {"namespaces": [{"type": "user", "path": "/proc/1/ns/user"}], "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 1}]}}"#,
        ] {
            assert!(unwritable_from(&view(protected)).is_none(), "{protected}");
        }
    }

    #[test]
    fn a_plain_file_is_unprotected() {
        let mut f = tempfile_in_tmp();
        f.write_all(b"x").unwrap();
        assert_eq!(protection_of(&f), None);
    }

    #[test]
    fn a_write_sealed_memfd_is_protected_and_an_unsealed_one_is_not() {
        let fd = sys::memfd_create_sealable(c"rt-test").unwrap();
        let mut f = File::from(fd);
        f.write_all(b"#!").unwrap();
        assert_eq!(protection_of(&f), None);
        sys::add_seals(f.as_raw_fd(), WRITE_SEALS).unwrap();
        assert_eq!(protection_of(&f), Some(Protection::SealedMemfd));
        assert!(f.write_all(b"more").is_err(), "a sealed memfd took a write");
    }

    #[test]
    fn the_read_only_clone_refuses_writes_through_its_magic_link() {
        if !nix::unistd::geteuid().is_root() {
            return;
        }
        // A file of our own: the test binary itself is busy (ETXTBSY).
        let path = std::env::temp_dir().join(format!("rt-exe-clone-{}", std::process::id()));
        std::fs::write(&path, b"\x7fELF").unwrap();
        let clone = read_only_clone(&sys::cpath(&path).unwrap());
        let opened = clone.as_ref().map(|c| {
            let file = File::open(sys::fd_path(c)).unwrap();
            let write = std::fs::OpenOptions::new()
                .write(true)
                .open(sys::fd_path(c));
            (
                protection_of(&file),
                write.map(|_| ()).map_err(|e| e.raw_os_error()),
            )
        });
        std::fs::remove_file(&path).unwrap();
        let (protection, write) = opened.unwrap();
        assert_eq!(protection, Some(Protection::ReadOnlyMount));
        assert_eq!(write, Err(Some(libc::EROFS)));
    }

    fn tempfile_in_tmp() -> File {
        let path = std::env::temp_dir().join(format!("rt-exe-protection-{}", std::process::id()));
        let f = File::options()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        std::fs::remove_file(&path).unwrap();
        f
    }
}
