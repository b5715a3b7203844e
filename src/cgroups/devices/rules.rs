//! `linux.resources.devices` entries checked and reduced to what a device
//! filter compares: device kind, major, minor and access bits.

use crate::error::{Error, Result};
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

/// Access bits as the kernel hands them to a cgroup device program
/// (`BPF_DEVCG_ACC_*`).
pub const ACC_MKNOD: u32 = 1;
pub const ACC_READ: u32 = 2;
pub const ACC_WRITE: u32 = 4;
pub const ACC_ALL: u32 = ACC_MKNOD | ACC_READ | ACC_WRITE;

/// Device kinds as the kernel encodes them (`BPF_DEVCG_DEV_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Block = 1,
    Char = 2,
}

/// One rule; `None` fields match anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    pub allow: bool,
    pub kind: Option<Kind>,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub access: u32,
}

impl Rule {
    /// Matches every device and decides every access bit: rules before it
    /// can never matter.
    pub fn is_total(&self) -> bool {
        self.kind.is_none()
            && self.major.is_none()
            && self.minor.is_none()
            && self.access == ACC_ALL
    }

    #[cfg(test)]
    pub fn matches_device(&self, kind: Kind, major: u32, minor: u32) -> bool {
        self.kind.is_none_or(|k| k == kind)
            && self.major.is_none_or(|m| m == major)
            && self.minor.is_none_or(|m| m == minor)
    }
}

/// Checks and converts the spec's rules; `field` names the list in errors
/// (e.g. "linux.resources.devices").
pub fn from_spec(rules: &[LinuxDeviceCgroup], field: &str) -> Result<Vec<Rule>> {
    rules
        .iter()
        .enumerate()
        .map(|(i, r)| convert(r).map_err(|e| Error::new(format!("{field}[{i}]: {e}"))))
        .collect()
}

fn convert(r: &LinuxDeviceCgroup) -> std::result::Result<Rule, String> {
    let kind = match r.typ() {
        // "a" is the v1 devices cgroup's "everything" line: the kernel reads
        // no numbers or access after it, so neither do we.
        None | Some(LinuxDeviceType::A) => {
            return Ok(Rule {
                allow: r.allow(),
                kind: None,
                major: None,
                minor: None,
                access: ACC_ALL,
            });
        }
        Some(LinuxDeviceType::B) => Kind::Block,
        Some(LinuxDeviceType::C) => Kind::Char,
        Some(t) => {
            return Err(format!(
                "type {:?}: the device cgroup knows only \"a\", \"b\" and \"c\"",
                t.as_str()
            ));
        }
    };
    Ok(Rule {
        allow: r.allow(),
        kind: Some(kind),
        major: number(r.major(), "major")?,
        minor: number(r.minor(), "minor")?,
        access: access(r.access().as_deref())?,
    })
}

/// Absent or -1 (runc's wildcard) match any number.
fn number(n: Option<i64>, what: &str) -> std::result::Result<Option<u32>, String> {
    match n {
        None | Some(-1) => Ok(None),
        Some(n) => u32::try_from(n)
            .map(Some)
            .map_err(|_| format!("{what} {n} is not a device number")),
    }
}

/// "rwm" in any order; absent means all three, as in the v1 writer.
fn access(s: Option<&str>) -> std::result::Result<u32, String> {
    let Some(s) = s else { return Ok(ACC_ALL) };
    s.chars().try_fold(0, |acc, c| match c {
        'r' => Ok(acc | ACC_READ),
        'w' => Ok(acc | ACC_WRITE),
        'm' => Ok(acc | ACC_MKNOD),
        _ => Err(format!("access {s:?}: {c:?} is not one of r, w, m")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(
        typ: Option<LinuxDeviceType>,
        major: Option<i64>,
        access: Option<&str>,
    ) -> LinuxDeviceCgroup {
        let mut d = LinuxDeviceCgroup::default();
        d.set_allow(true);
        d.set_typ(typ);
        d.set_major(major);
        d.set_minor(Some(3));
        d.set_access(access.map(String::from));
        d
    }

    #[test]
    fn converts_kinds_numbers_and_access() {
        let r = from_spec(&[spec(Some(LinuxDeviceType::C), Some(1), Some("rw"))], "f").unwrap();
        assert_eq!(
            r[0],
            Rule {
                allow: true,
                kind: Some(Kind::Char),
                major: Some(1),
                minor: Some(3),
                access: ACC_READ | ACC_WRITE
            }
        );
        let r = from_spec(&[spec(Some(LinuxDeviceType::B), Some(-1), None)], "f").unwrap();
        assert_eq!(
            (r[0].kind, r[0].major, r[0].access),
            (Some(Kind::Block), None, ACC_ALL)
        );
        // "a" ignores numbers and access, like the kernel's v1 parser.
        let r = from_spec(&[spec(None, Some(5), Some("r"))], "f").unwrap();
        assert!(r[0].is_total());
    }

    #[test]
    fn bad_rules_name_the_entry_and_field() {
        let ok = spec(Some(LinuxDeviceType::C), Some(1), Some("r"));
        let cases = [
            (
                spec(Some(LinuxDeviceType::C), Some(1), Some("rx")),
                "access",
            ),
            (spec(Some(LinuxDeviceType::C), Some(-7), None), "major -7"),
            (spec(Some(LinuxDeviceType::C), Some(1 << 40), None), "major"),
            (spec(Some(LinuxDeviceType::P), Some(1), None), "type \"p\""),
        ];
        for (bad, what) in cases {
            let err = from_spec(&[ok.clone(), bad], "linux.resources.devices")
                .unwrap_err()
                .to_string();
            assert!(err.contains("linux.resources.devices[1]"), "{err}");
            assert!(err.contains(what), "{err}");
        }
    }
}
