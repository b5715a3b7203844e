//! Which namespaces the init gets: new ones become clone flags, ones with a
//! `path` are opened here (in the caller's mount namespace) and joined.

use crate::error::{Error, Result};
use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType};
use std::os::fd::OwnedFd;

pub fn clone_flag(t: LinuxNamespaceType) -> i32 {
    match t {
        LinuxNamespaceType::Mount => libc::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => libc::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => libc::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => libc::CLONE_NEWIPC,
        LinuxNamespaceType::User => libc::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => libc::CLONE_NEWPID,
        LinuxNamespaceType::Network => libc::CLONE_NEWNET,
        LinuxNamespaceType::Time => libc::CLONE_NEWTIME,
    }
}

/// Name of the namespace under /proc/PID/ns/.
pub fn proc_name(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Time => "time",
    }
}

/// The plan for the init's namespaces.
#[derive(Default)]
pub struct NamespacePlan {
    /// CLONE_NEW* flags for namespaces created fresh.
    pub new_flags: i32,
    /// Existing namespaces to join, user namespace first.
    pub join: Vec<(LinuxNamespaceType, OwnedFd)>,
}

impl NamespacePlan {
    pub fn has_new(&self, t: LinuxNamespaceType) -> bool {
        self.new_flags & clone_flag(t) != 0
    }

    pub fn from_spec(list: &[LinuxNamespace]) -> Result<NamespacePlan> {
        let mut plan = NamespacePlan::default();
        for ns in list {
            match ns.path() {
                None => plan.new_flags |= clone_flag(ns.typ()),
                Some(p) => {
                    let fd = std::fs::File::open(p).map_err(|e| {
                        Error::from(e).context(format!(
                            "open namespace {:?} {}",
                            ns.typ(),
                            p.display()
                        ))
                    })?;
                    plan.join.push((ns.typ(), fd.into()));
                }
            }
        }
        // Joining the user namespace first gives us the capabilities to join
        // the namespaces it owns.
        plan.join
            .sort_by_key(|(t, _)| *t != LinuxNamespaceType::User);
        Ok(plan)
    }
}
