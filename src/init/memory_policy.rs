//! `linux.memoryPolicy` (runtime-spec 1.3): the container's NUMA memory
//! policy, set with set_mempolicy(2) in the init and inherited by the
//! container process across exec.

use crate::error::{Error, Result};
use oci_spec::runtime::{LinuxMemoryPolicy, MemoryPolicyFlagType, MemoryPolicyModeType};

const FIELD: &str = "linux.memoryPolicy";

/// Nodes a policy can name: the kernel's largest MAX_NUMNODES on x86_64
/// (CONFIG_NODES_SHIFT=10).
const MAX_NODES: usize = 1024;

/// A checked policy, ready for set_mempolicy(2).
#[derive(Debug, PartialEq, Eq)]
pub struct MemoryPolicy {
    /// MPOL_* mode with the MPOL_F_* flags or'ed in, as the syscall takes it.
    mode: i32,
    /// Node bitmask, 64 nodes a word.
    nodes: Vec<u64>,
    /// The config's words, for errors.
    describe: String,
}

impl MemoryPolicy {
    /// Checks `p` without a syscall (at create, before anything is made):
    /// nodes are required by the modes that spread over a set and refused
    /// by those that name none; the two node-numbering flags exclude each
    /// other.
    pub fn parse(p: &LinuxMemoryPolicy) -> Result<MemoryPolicy> {
        use MemoryPolicyModeType as M;
        let mode = p.mode();
        let nodes_text = p.nodes().as_deref().map(str::trim).unwrap_or("");
        let (number, needs_nodes, takes_nodes) = match mode {
            M::MpolDefault => (0, false, false),
            M::MpolPreferred => (1, false, true),
            M::MpolBind => (2, true, true),
            M::MpolInterleave => (3, true, true),
            M::MpolLocal => (4, false, false),
            M::MpolPreferredMany => (5, true, true),
            M::MpolWeightedInterleave => (6, true, true),
        };
        if needs_nodes && nodes_text.is_empty() {
            return Err(Error::new(format!("{FIELD}.nodes: {mode} needs nodes")));
        }
        if !takes_nodes && !nodes_text.is_empty() {
            return Err(Error::new(format!(
                "{FIELD}.nodes: {mode} takes no nodes (got {nodes_text:?})"
            )));
        }
        let mut flags = 0;
        for (i, f) in p.flags().iter().flatten().enumerate() {
            let bit = match f {
                MemoryPolicyFlagType::MpolFStaticNodes => 1 << 15,
                MemoryPolicyFlagType::MpolFRelativeNodes => 1 << 14,
                MemoryPolicyFlagType::MpolFNumaBalancing => 1 << 13,
            };
            // The kernel's rules (mm/mempolicy.c): no node-numbering flag
            // without nodes, NUMA balancing only for BIND and PREFERRED_MANY.
            let allowed = match f {
                MemoryPolicyFlagType::MpolFNumaBalancing => {
                    matches!(mode, M::MpolBind | M::MpolPreferredMany)
                }
                _ => !matches!(mode, M::MpolDefault | M::MpolLocal),
            };
            if !allowed {
                return Err(Error::new(format!(
                    "{FIELD}.flags[{i}]: {f} cannot be used with {mode}"
                )));
            }
            flags |= bit;
        }
        if flags & (1 << 15) != 0 && flags & (1 << 14) != 0 {
            return Err(Error::new(format!(
                "{FIELD}.flags: MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other"
            )));
        }
        let nodes = if nodes_text.is_empty() {
            Vec::new()
        } else {
            parse_nodes(nodes_text)?
        };
        Ok(MemoryPolicy {
            mode: number | flags,
            nodes,
            describe: if nodes_text.is_empty() {
                mode.to_string()
            } else {
                format!("{mode} on nodes {nodes_text}")
            },
        })
    }

    /// set_mempolicy(2) for the calling thread; what it execs inherits it.
    pub fn apply(&self) -> Result<()> {
        let (ptr, maxnode) = if self.nodes.is_empty() {
            (std::ptr::null(), 0)
        } else {
            // The kernel reads maxnode - 1 bits.
            (self.nodes.as_ptr(), self.nodes.len() * 64 + 1)
        };
        // SAFETY: set_mempolicy reads at most maxnode - 1 bits from `ptr`,
        // which points at self.nodes (that many bits long), or nothing.
        let rc = unsafe { libc::syscall(libc::SYS_set_mempolicy, self.mode, ptr, maxnode) };
        if rc < 0 {
            let e = nix::Error::last();
            let hint = if e == nix::Error::EINVAL {
                " (a node this host lacks or the container may not use, or flags the mode or kernel does not take)"
            } else {
                ""
            };
            return Err(Error::errno(
                format!("{FIELD}: set_mempolicy {}{hint}", self.describe),
                e,
            ));
        }
        Ok(())
    }
}

/// The modes and flags this kernel takes, for `rt features`: each is tried
/// on the calling thread (on the first online node), which then goes back
/// to the default policy. Empty lists without NUMA support.
pub fn supported() -> (Vec<&'static str>, Vec<&'static str>) {
    let node = std::fs::read_to_string("/sys/devices/system/node/online")
        .ok()
        .and_then(|s| s.split([',', '-']).next()?.trim().parse::<usize>().ok())
        .unwrap_or(0)
        .min(MAX_NODES - 1);
    let mut mask = vec![0u64; node / 64 + 1];
    mask[node / 64] |= 1 << (node % 64);
    let tries = |mode: i32, with_nodes: bool| -> bool {
        let (ptr, maxnode) = if with_nodes {
            (mask.as_ptr(), mask.len() * 64 + 1)
        } else {
            (std::ptr::null(), 0)
        };
        // SAFETY: set_mempolicy reads at most maxnode - 1 bits of `mask`
        // (or nothing); it changes only this thread's policy, reset below.
        let ok = unsafe { libc::syscall(libc::SYS_set_mempolicy, mode, ptr, maxnode) } == 0;
        // SAFETY: as above; MPOL_DEFAULT with no nodes.
        unsafe { libc::syscall(libc::SYS_set_mempolicy, 0, std::ptr::null::<u64>(), 0) };
        ok
    };
    let modes = [
        ("MPOL_BIND", 2, true),
        ("MPOL_DEFAULT", 0, false),
        ("MPOL_INTERLEAVE", 3, true),
        ("MPOL_LOCAL", 4, false),
        ("MPOL_PREFERRED", 1, true),
        ("MPOL_PREFERRED_MANY", 5, true),
        ("MPOL_WEIGHTED_INTERLEAVE", 6, true),
    ];
    let flags = [
        ("MPOL_F_NUMA_BALANCING", 1 << 13),
        ("MPOL_F_RELATIVE_NODES", 1 << 14),
        ("MPOL_F_STATIC_NODES", 1 << 15),
    ];
    let modes: Vec<_> = modes
        .iter()
        .filter(|(_, m, nodes)| tries(*m, *nodes))
        .map(|(name, _, _)| *name)
        .collect();
    if modes.is_empty() {
        return (modes, Vec::new());
    }
    // Each flag with MPOL_BIND, which takes all three.
    let flags = flags
        .iter()
        .filter(|(_, f)| tries(2 | f, true))
        .map(|(name, _)| *name)
        .collect();
    (modes, flags)
}

/// "0-3,5" into a bitmask.
fn parse_nodes(list: &str) -> Result<Vec<u64>> {
    let bad = |why: &str| Error::new(format!("{FIELD}.nodes: {list:?}: {why}"));
    let mut mask = vec![0u64; MAX_NODES / 64];
    for part in list.split(',').map(str::trim) {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        let parse = |s: &str| {
            s.trim()
                .parse::<usize>()
                .map_err(|_| bad("not a node list like 0-3,5"))
        };
        let (lo, hi) = (parse(lo)?, parse(hi)?);
        if lo > hi {
            return Err(bad("range goes backwards"));
        }
        if hi >= MAX_NODES {
            return Err(bad(&format!(
                "node {hi} is past the last possible node {}",
                MAX_NODES - 1
            )));
        }
        for n in lo..=hi {
            mask[n / 64] |= 1 << (n % 64);
        }
    }
    // Only as many words as the highest node needs.
    while mask.last() == Some(&0) {
        mask.pop();
    }
    Ok(mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(json: serde_json::Value) -> Result<MemoryPolicy> {
        MemoryPolicy::parse(&serde_json::from_value(json).unwrap())
    }

    #[test]
    fn modes_flags_and_nodes_become_the_syscall_arguments() {
        let p = policy(serde_json::json!({"mode": "MPOL_BIND", "nodes": "0-1,65",
            "flags": ["MPOL_F_STATIC_NODES"]}))
        .unwrap();
        assert_eq!(p.mode, 2 | 1 << 15);
        assert_eq!(p.nodes, [0b11, 0b10]);
        let p = policy(serde_json::json!({"mode": "MPOL_LOCAL"})).unwrap();
        assert_eq!((p.mode, p.nodes.len()), (4, 0));
        let p = policy(serde_json::json!({"mode": "MPOL_PREFERRED"})).unwrap();
        assert_eq!(p.mode, 1);
    }

    #[test]
    fn this_kernel_takes_the_basic_modes() {
        let (modes, flags) = supported();
        for m in [
            "MPOL_BIND",
            "MPOL_DEFAULT",
            "MPOL_INTERLEAVE",
            "MPOL_PREFERRED",
        ] {
            assert!(modes.contains(&m), "{m}: {modes:?}");
        }
        assert!(flags.contains(&"MPOL_F_STATIC_NODES"), "{flags:?}");
    }

    #[test]
    fn bad_policies_name_the_field() {
        let cases = [
            (
                serde_json::json!({"mode": "MPOL_BIND"}),
                "linux.memoryPolicy.nodes: MPOL_BIND needs nodes",
            ),
            (
                serde_json::json!({"mode": "MPOL_DEFAULT", "nodes": "0"}),
                "linux.memoryPolicy.nodes: MPOL_DEFAULT takes no nodes",
            ),
            (
                serde_json::json!({"mode": "MPOL_INTERLEAVE", "nodes": "1-0"}),
                "range goes backwards",
            ),
            (
                serde_json::json!({"mode": "MPOL_INTERLEAVE", "nodes": "x"}),
                "not a node list",
            ),
            (
                serde_json::json!({"mode": "MPOL_INTERLEAVE", "nodes": "0-5000"}),
                "past the last possible node",
            ),
            (
                serde_json::json!({"mode": "MPOL_BIND", "nodes": "0",
                "flags": ["MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES"]}),
                "exclude each other",
            ),
            (
                serde_json::json!({"mode": "MPOL_LOCAL", "flags": ["MPOL_F_STATIC_NODES"]}),
                "linux.memoryPolicy.flags[0]: MPOL_F_STATIC_NODES cannot be used with MPOL_LOCAL",
            ),
            (
                serde_json::json!({"mode": "MPOL_INTERLEAVE", "nodes": "0", "flags": ["MPOL_F_NUMA_BALANCING"]}),
                "linux.memoryPolicy.flags[0]: MPOL_F_NUMA_BALANCING cannot be used with MPOL_INTERLEAVE",
            ),
        ];
        for (json, says) in cases {
            let e = policy(json.clone()).unwrap_err().to_string();
            assert!(e.contains(says), "{json}: {e}");
        }
    }
}
