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

/// The pid and time namespaces only apply to a process's children: the
/// caller joins them around the clone and switches back afterwards.
pub struct ForChildren {
    saved: Vec<(i32, OwnedFd)>,
}

impl ForChildren {
    /// Joins each (CLONE_NEWPID or CLONE_NEWTIME, fd) for our children.
    pub fn enter(join: &[(i32, OwnedFd)]) -> Result<ForChildren> {
        let mut saved = Vec::new();
        for (flag, fd) in join {
            let name = if *flag == libc::CLONE_NEWPID {
                "pid_for_children"
            } else {
                "time_for_children"
            };
            if *flag == libc::CLONE_NEWTIME {
                // The kernel lets only a single-threaded process join a
                // time namespace.
                crate::exe_protection::settle();
            }
            let own: OwnedFd = std::fs::File::open(format!("/proc/self/ns/{name}"))
                .map_err(|e| Error::from(e).context(format!("open own {name}")))?
                .into();
            crate::sys::setns(std::os::fd::AsRawFd::as_raw_fd(fd), *flag)
                .map_err(|e| Error::errno(format!("join {name} namespace"), e))?;
            saved.push((*flag, own));
        }
        Ok(ForChildren { saved })
    }

    /// Back to our own namespaces for children.
    pub fn restore(self) -> Result<()> {
        for (flag, fd) in self.saved {
            crate::sys::setns(std::os::fd::AsRawFd::as_raw_fd(&fd), flag)
                .map_err(|e| Error::errno("restore namespace", e))?;
        }
        Ok(())
    }
}
