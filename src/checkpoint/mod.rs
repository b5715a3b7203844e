//! `checkpoint` and `restore`: a running container written to disk and
//! brought back, by CRIU.
//!
//! runc talks to CRIU over its RPC interface (`criu swrk` on a socketpair,
//! protobuf messages). rt runs the `criu` command line instead: `criu dump`,
//! `criu pre-dump` and `criu restore` take the same options (`--root`,
//! `--external mnt[..]`, `--manage-cgroups`, `--inherit-fd`, ...) and CRIU
//! runs the same code behind both. The command line needs no protobuf
//! code in rt, its failures are CRIU's own log lines, which we surface,
//! and it can be replayed by hand from the log for debugging. The two
//! things the RPC gives that the command line lacks are callbacks and the
//! orphaned pty master: callbacks become an `--action-script` that runs
//! `rt` again (`notify`, for the hooks), and containers with a terminal
//! are refused at restore (the pty master would be lost).
//!
//! The steps follow runc's: checkpoint dumps the container's init and its
//! children with the container's rootfs as CRIU's root, bind mounts
//! declared external (restore binds them from the bundle's sources
//! again), the init's stdio recorded in `descriptors.json` so that pipes
//! can be handed over at restore; then, unless `--leave-running` or
//! `--pre-dump`, the container is deleted (its processes are gone).
//! Restore makes the container's state and cgroup, runs CRIU inside that
//! cgroup so that the restored processes land in it, runs the prestart
//! and createRuntime hooks once CRIU has made the namespaces, and records
//! the restored init as the container's init, so `state`, `kill` and
//! `delete` work as for any container.

mod criu;
mod dump;
pub mod notify;
mod restore;

pub use criu::available as criu_available;
pub use dump::{CheckpointOptions, checkpoint};
pub use restore::{RestoreOptions, restore};

use crate::error::{Error, Result};

/// The options runc's `checkpoint` and `restore` share.
#[derive(Debug, Clone, Default)]
pub struct CriuFlags {
    pub tcp_established: bool,
    pub ext_unix_sk: bool,
    pub shell_job: bool,
    pub file_locks: bool,
    /// `--manage-cgroups-mode`: soft, full, strict or ignore.
    pub manage_cgroups_mode: Option<String>,
    /// `--empty-ns`: a namespace CRIU creates but does not restore
    /// (runc takes "network").
    pub empty_ns: Option<String>,
    pub auto_dedup: bool,
    pub lazy_pages: bool,
}

impl CriuFlags {
    /// Refuses what rt cannot do, before anything is touched.
    pub fn check(&self) -> Result<()> {
        if self.lazy_pages {
            return Err(Error::new(
                "--lazy-pages is not supported by rt: it needs CRIU's page server \
                 and lazy-pages daemon, which rt does not run; checkpoint without it",
            ));
        }
        if let Some(m) = self
            .manage_cgroups_mode
            .as_ref()
            .filter(|m| !["soft", "full", "strict", "ignore"].contains(&m.as_str()))
        {
            return Err(Error::new(format!(
                "invalid --manage-cgroups-mode {m:?}: want soft, full, strict or ignore"
            )));
        }
        if let Some(ns) = self
            .empty_ns
            .as_ref()
            .filter(|ns| *ns != "network" && *ns != "net")
        {
            return Err(Error::new(format!(
                "invalid --empty-ns {ns:?}: only the network namespace can be left empty"
            )));
        }
        Ok(())
    }

    /// The CRIU options for these flags.
    fn args(&self) -> Vec<String> {
        let mut a = Vec::new();
        for (on, flag) in [
            (self.tcp_established, "--tcp-established"),
            (self.ext_unix_sk, "--ext-unix-sk"),
            (self.shell_job, "--shell-job"),
            (self.file_locks, "--file-locks"),
            (self.auto_dedup, "--auto-dedup"),
        ] {
            if on {
                a.push(flag.to_string());
            }
        }
        // As runc: CRIU always manages cgroups; the mode only when asked.
        match &self.manage_cgroups_mode {
            Some(m) => a.push(format!("--manage-cgroups={m}")),
            None => a.push("--manage-cgroups".to_string()),
        }
        if self.empty_ns.is_some() {
            a.extend(["--empty-ns".to_string(), "net".to_string()]);
        }
        a
    }
}

/// The file in the image directory naming the init's stdin, stdout and
/// stderr at checkpoint time (runc's name and JSON shape: an array of the
/// three /proc/PID/fd link targets).
const DESCRIPTORS_FILE: &str = "descriptors.json";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lazy_pages_and_bad_modes_are_refused() {
        let f = CriuFlags {
            lazy_pages: true,
            ..Default::default()
        };
        assert!(f.check().unwrap_err().to_string().contains("--lazy-pages"));
        let f = CriuFlags {
            manage_cgroups_mode: Some("partial".into()),
            ..Default::default()
        };
        assert!(f.check().unwrap_err().to_string().contains("partial"));
        let f = CriuFlags {
            empty_ns: Some("pid".into()),
            ..Default::default()
        };
        assert!(f.check().is_err());
    }

    #[test]
    fn flags_become_criu_options() {
        let f = CriuFlags {
            tcp_established: true,
            file_locks: true,
            manage_cgroups_mode: Some("strict".into()),
            empty_ns: Some("network".into()),
            ..Default::default()
        };
        f.check().unwrap();
        assert_eq!(
            f.args(),
            [
                "--tcp-established",
                "--file-locks",
                "--manage-cgroups=strict",
                "--empty-ns",
                "net"
            ]
        );
        assert_eq!(CriuFlags::default().args(), ["--manage-cgroups"]);
    }
}
