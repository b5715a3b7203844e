//! The five capability sets of process.capabilities.

use crate::error::{Error, Result};
use caps::{CapSet, Capability, CapsHashSet};
use oci_spec::runtime::LinuxCapabilities;
use std::str::FromStr;

fn convert(
    set: Option<&oci_spec::runtime::Capabilities>,
    field: &str,
) -> Result<Option<CapsHashSet>> {
    let Some(set) = set else { return Ok(None) };
    let mut out = CapsHashSet::new();
    for c in set {
        let name = serde_json::to_value(c)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        let cap = Capability::from_str(&name).map_err(|_| {
            Error::new(format!(
                "process.capabilities.{field}: unknown capability {name}"
            ))
        })?;
        out.insert(cap);
    }
    Ok(Some(out))
}

fn supported() -> CapsHashSet {
    // Capabilities this kernel knows; asking to drop newer ones fails.
    let last = crate::sys::read_virtual("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse::<u8>().ok())
        .unwrap_or(40);
    caps::all()
        .into_iter()
        .filter(|c| c.index() <= last)
        .collect()
}

/// Bounding set first, while we are still root with CAP_SETPCAP.
/// With `process.capabilities` set, an absent `bounding` list is an empty
/// set, as in runc and youki: keeping the full set would let file caps and
/// setuid binaries regain what the config never granted. Only a config
/// without `capabilities` at all leaves the bounding set alone (runc too).
pub fn drop_bounding(c: Option<&LinuxCapabilities>) -> Result<()> {
    let Some(c) = c else { return Ok(()) };
    let keep = convert(c.bounding().as_ref(), "bounding")?.unwrap_or_default();
    for cap in supported() {
        if !keep.contains(&cap) {
            caps::drop(None, CapSet::Bounding, cap)
                .map_err(|e| Error::new(format!("drop {cap} from the bounding set: {e}")))?;
        }
    }
    Ok(())
}

/// Effective, permitted, inheritable and ambient, after the user switch.
pub fn apply(c: Option<&LinuxCapabilities>) -> Result<()> {
    let Some(c) = c else { return Ok(()) };
    let eff = convert(c.effective().as_ref(), "effective")?.unwrap_or_default();
    let perm = convert(c.permitted().as_ref(), "permitted")?.unwrap_or_default();
    let inh = convert(c.inheritable().as_ref(), "inheritable")?.unwrap_or_default();
    let amb = convert(c.ambient().as_ref(), "ambient")?.unwrap_or_default();
    let apply_err = |set: &str, e: caps::errors::CapsError| {
        Error::new(format!("unable to apply caps ({set}): {e}"))
    };
    // Shrink effective before permitted: effective must stay a subset.
    caps::set(None, CapSet::Effective, &eff).map_err(|e| apply_err("effective", e))?;
    caps::set(None, CapSet::Permitted, &perm).map_err(|e| apply_err("permitted", e))?;
    caps::set(None, CapSet::Inheritable, &inh).map_err(|e| apply_err("inheritable", e))?;
    caps::clear(None, CapSet::Ambient).map_err(|e| apply_err("ambient", e))?;
    for cap in amb {
        // An ambient cap must be permitted and inheritable; runc ignores the
        // ones that are not rather than failing.
        if perm.contains(&cap) && inh.contains(&cap) {
            caps::raise(None, CapSet::Ambient, cap).map_err(|e| apply_err("ambient", e))?;
        }
    }
    Ok(())
}
