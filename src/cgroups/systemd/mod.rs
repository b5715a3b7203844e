//! The systemd cgroup driver (`--systemd-cgroup`): the container's cgroup
//! is a transient systemd unit, asked for over D-Bus, instead of a
//! directory rt makes itself.
//!
//! `linux.cgroupsPath` is `slice:prefix:name`: the unit `prefix-name.scope`
//! in `slice` (default `system.slice`), or, when `name` ends in `.slice`,
//! that slice itself. systemd creates the cgroup when the unit starts (with
//! the init's pid in it) and removes it when the unit stops; rt then writes
//! the limits to the cgroup files like the cgroupfs driver does, since the
//! scope is delegated to it.

mod bus;
mod manager;
mod properties;
mod wire;

use crate::error::{Error, Result};
use manager::{Manager, property};
use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};
use std::sync::Mutex;
use wire::Value;

/// The container's systemd unit.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Unit {
    /// Unit name: "rt-abc.scope", or a slice name.
    pub name: String,
    /// The slice the scope goes into ("system.slice").
    pub slice: String,
    /// The unit's cgroup, from the hierarchy root ("/system.slice/rt-abc.scope").
    pub cgroup: String,
    /// rt started the unit (and so stops it on delete).
    #[serde(default)]
    pub started: bool,
    /// The unit belongs to the user's own systemd (`systemd --user`):
    /// rootless, as runc and crun do it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub user: bool,
}

impl Unit {
    fn is_slice(&self) -> bool {
        self.name.ends_with(".slice")
    }
}

const DEFAULT_SLICE: &str = "system.slice";
/// The default slice in the user's systemd instance (runc's too).
const DEFAULT_USER_SLICE: &str = "user.slice";
const DEFAULT_PREFIX: &str = "rt";

/// Parses `slice:prefix:name` (or, without a cgroupsPath, uses
/// `system.slice:rt:<id>`).
pub fn parse(cgroups_path: Option<&str>, id: &str) -> Result<Unit> {
    parse_for(cgroups_path, id, false)
}

/// [`parse`], for the system's systemd or (`user`) the caller's own; the
/// default slice is then `user.slice`, and the unit's cgroup, below the
/// user manager's own, is known once the unit started
/// ([`Unit::locate`]).
pub fn parse_for(cgroups_path: Option<&str>, id: &str, user: bool) -> Result<Unit> {
    let path = cgroups_path.unwrap_or("");
    let (slice, prefix, name) = if path.is_empty() {
        ("", DEFAULT_PREFIX, id)
    } else {
        let parts: Vec<&str> = path.split(':').collect();
        let [slice, prefix, name] = parts[..] else {
            return Err(Error::new(format!(
                "linux.cgroupsPath: expected \"slice:prefix:name\" for the systemd cgroup driver, got {path:?}"
            )));
        };
        (slice, prefix, name)
    };
    let slice = match (slice.is_empty(), user) {
        (false, _) => slice,
        (true, false) => DEFAULT_SLICE,
        (true, true) => DEFAULT_USER_SLICE,
    };
    let slice_dir = expand_slice(slice)?;
    if name.is_empty() {
        return Err(Error::new(format!(
            "linux.cgroupsPath: {path:?} has an empty name"
        )));
    }
    let (unit, cgroup) = if name.ends_with(".slice") {
        // The container's cgroup is a slice; its place follows from its name.
        (name.to_string(), expand_slice(name)?)
    } else {
        let unit = if prefix.is_empty() {
            format!("{name}.scope")
        } else {
            format!("{prefix}-{name}.scope")
        };
        let cgroup = format!("{}/{unit}", slice_dir.trim_end_matches('/'));
        (unit, cgroup)
    };
    check_unit_name(&unit)?;
    Ok(Unit {
        name: unit,
        slice: slice.to_string(),
        cgroup,
        started: false,
        user,
    })
}

impl Unit {
    /// The cgroup a started unit got, from where `pid` (in it) is: a user
    /// manager places its slices below its own cgroup
    /// (/user.slice/user-1000.slice/user@1000.service/...), which the
    /// name alone does not tell.
    pub fn locate(&mut self, pid: i32) -> Result<()> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
            .map_err(|e| Error::from(e).context(format!("read /proc/{pid}/cgroup")))?;
        let path = text
            .lines()
            .find_map(|l| l.strip_prefix("0::"))
            .ok_or_else(|| Error::new(format!("/proc/{pid}/cgroup: no cgroup2 entry")))?;
        self.cgroup = path.trim().to_string();
        Ok(())
    }
}

/// systemd nests slices by dashes: "a-b-c.slice" lives at
/// "/a.slice/a-b.slice/a-b-c.slice"; "-.slice" is the root.
pub fn expand_slice(slice: &str) -> Result<String> {
    let bad = || Error::new(format!("linux.cgroupsPath: invalid slice name {slice:?}"));
    let stem = slice.strip_suffix(".slice").ok_or_else(bad)?;
    if stem.is_empty() || slice.contains('/') {
        return Err(bad());
    }
    if stem == "-" {
        return Ok("/".into());
    }
    check_unit_name(slice)?;
    let mut path = String::new();
    let mut prefix = String::new();
    for part in stem.split('-') {
        if part.is_empty() {
            return Err(bad()); // "a--b.slice", "-a.slice", "a-.slice"
        }
        prefix.push_str(part);
        path.push('/');
        path.push_str(&prefix);
        path.push_str(".slice");
        prefix.push('-');
    }
    Ok(path)
}

/// Unit names are ASCII letters, digits and `:-_.\@`, at most 255 bytes
/// (systemd's unit_name_is_valid); anything else systemd would refuse
/// with a less helpful message.
fn check_unit_name(name: &str) -> Result<()> {
    let ok = name.len() <= 255
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b":-_.\\@".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::new(format!(
            "linux.cgroupsPath: {name:?} is not a valid systemd unit name"
        )))
    }
}

/// One connection per rt process, opened on first use and kept for the
/// calls that follow (create talks to systemd before and after cloning
/// the init).
/// Keyed by `user`: the system's manager or the caller's own.
static MANAGER: Mutex<Option<(bool, Manager)>> = Mutex::new(None);

fn with_manager<T>(user: bool, f: impl FnOnce(&mut Manager) -> Result<T>) -> Result<T> {
    let mut guard = MANAGER.lock().unwrap_or_else(|e| e.into_inner());
    if guard.as_ref().is_some_and(|(u, _)| *u != user) {
        *guard = None;
    }
    let manager = match guard.as_mut() {
        Some((_, m)) => m,
        None => &mut guard.insert((user, Manager::connect(user)?)).1,
    };
    let result = f(manager);
    if result.is_err() {
        // The connection may be out of step (a timeout mid-reply): start
        // afresh next time.
        *guard = None;
    }
    result
}

/// Makes sure systemd is reachable before anything is created.
pub fn connect(user: bool) -> Result<()> {
    with_manager(user, |_| Ok(()))
}

/// Starts the unit with `pid` in it (a scope; a slice unit gets no pids)
/// and the resource limits as properties; waits until it is up.
pub fn start(
    unit: &mut Unit,
    pid: i32,
    r: Option<&LinuxResources>,
    v2: bool,
    id: &str,
) -> Result<()> {
    with_manager(unit.user, |m| {
        let mut props = vec![property(
            "Description",
            Value::str(&format!("rt container {id}")),
        )];
        if unit.is_slice() {
            props.push(property("Wants", Value::str(&unit.slice)));
        } else {
            props.push(property("Slice", Value::str(&unit.slice)));
            props.push(property("Delegate", Value::Bool(true)));
            props.push(property(
                "PIDs",
                Value::Array {
                    elem: "u".into(),
                    items: vec![Value::U32(pid as u32)],
                },
            ));
        }
        // Accounting on for every controller: systemd then enables them all
        // down to the unit's cgroup, so every limit file exists.
        for acct in [
            "MemoryAccounting",
            "CPUAccounting",
            "IOAccounting",
            "TasksAccounting",
        ] {
            props.push(property(acct, Value::Bool(true)));
        }
        props.push(property("DefaultDependencies", Value::Bool(false)));
        if let Some(r) = r {
            props.extend(resource_props(m, r, v2)?);
        }
        m.start_transient_unit(&unit.name, props)?;
        unit.started = true;
        Ok(())
    })
}

/// Hands changed limits to systemd (`update`).
pub fn set_resources(unit: &Unit, r: &LinuxResources, v2: bool) -> Result<()> {
    with_manager(unit.user, |m| {
        let props = resource_props(m, r, v2)?;
        m.set_unit_properties(&unit.name, props)
    })
}

/// Moves `pid` into the running unit (an exec'd process of a user unit:
/// the user may not move it there itself).
pub fn attach(unit: &Unit, pid: i32) -> Result<()> {
    with_manager(unit.user, |m| m.attach_processes(&unit.name, &[pid as u32]))
}

/// Stops the unit; systemd removes its cgroup.
pub fn stop(unit: &Unit) -> Result<()> {
    with_manager(unit.user, |m| m.stop_unit(&unit.name))
}

fn resource_props(m: &mut Manager, r: &LinuxResources, v2: bool) -> Result<Vec<Value>> {
    let mut version_error = None;
    let props = properties::resource_properties(r, v2, &mut || match m.version() {
        Ok(v) => v,
        Err(e) => {
            version_error = Some(e);
            0
        }
    })?;
    if let Some(e) = version_error {
        return Err(e);
    }
    Ok(props)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_in_nested_slice() {
        let u = parse(
            Some("kubepods-burstable-pod123.slice:cri-containerd:abc"),
            "x",
        )
        .unwrap();
        assert_eq!(u.name, "cri-containerd-abc.scope");
        assert_eq!(u.slice, "kubepods-burstable-pod123.slice");
        assert_eq!(
            u.cgroup,
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod123.slice/cri-containerd-abc.scope"
        );
        assert!(!u.started);
    }

    #[test]
    fn defaults_empty_slice_and_no_path() {
        let u = parse(Some(":rt:test1"), "x").unwrap();
        assert_eq!(u.name, "rt-test1.scope");
        assert_eq!(u.cgroup, "/system.slice/rt-test1.scope");
        let u = parse(None, "c9").unwrap();
        assert_eq!(u.name, "rt-c9.scope");
        assert_eq!(u.slice, "system.slice");
        let u = parse(Some("system.slice::n"), "x").unwrap();
        assert_eq!(u.name, "n.scope");
        let u = parse(Some("-.slice:p:n"), "x").unwrap();
        assert_eq!(u.cgroup, "/p-n.scope");
    }

    #[test]
    fn user_units_default_to_user_slice_and_say_so_in_the_state() {
        let u = parse_for(None, "c9", true).unwrap();
        assert_eq!(u.slice, "user.slice");
        assert!(u.user);
        let text = serde_json::to_string(&u).unwrap();
        assert!(text.contains("\"user\":true"), "{text}");
        // A system unit's record stays as it was.
        let text = serde_json::to_string(&parse(None, "c9").unwrap()).unwrap();
        assert!(!text.contains("user"), "{text}");
        let back: Unit = serde_json::from_str(&text).unwrap();
        assert!(!back.user);
    }

    #[test]
    fn name_ending_in_slice_is_a_slice_unit() {
        let u = parse(Some("system.slice:ignored:machine-box.slice"), "x").unwrap();
        assert_eq!(u.name, "machine-box.slice");
        assert_eq!(u.cgroup, "/machine.slice/machine-box.slice");
        assert!(u.is_slice());
    }

    #[test]
    fn malformed_paths_are_refused_with_the_field_named() {
        for bad in [
            "/abs/path",
            "a:b",
            "a:b:c:d",
            "system:rt:x",
            "a--b.slice:rt:x",
            "-a.slice:rt:x",
            "a-.slice:rt:x",
            "a/b.slice:rt:x",
            "system.slice:rt:",
            "system.slice:rt:a b",
            "system.slice:rt:x/y",
        ] {
            let err = parse(Some(bad), "x").expect_err(bad);
            assert!(
                err.message().starts_with("linux.cgroupsPath"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn expand_slice_examples() {
        assert_eq!(expand_slice("system.slice").unwrap(), "/system.slice");
        assert_eq!(
            expand_slice("a-b-c.slice").unwrap(),
            "/a.slice/a-b.slice/a-b-c.slice"
        );
        assert_eq!(expand_slice("-.slice").unwrap(), "/");
        assert!(expand_slice(".slice").is_err());
        assert!(expand_slice("user").is_err());
    }

    #[test]
    fn unit_round_trips_through_state_json() {
        let mut u = parse(Some("system.slice:rt:t"), "t").unwrap();
        u.started = true;
        let text = serde_json::to_string(&u).unwrap();
        assert_eq!(serde_json::from_str::<Unit>(&text).unwrap(), u);
    }
}
