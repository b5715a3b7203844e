//! systemd's manager API (org.freedesktop.systemd1.Manager) over D-Bus:
//! start a transient unit, stop a unit, change unit properties, each
//! waiting for systemd's job to finish where there is one.

use super::bus::{Bus, CallError};
use super::wire::{Call, Value};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::time::Duration;

const DEST: &str = "org.freedesktop.systemd1";
const PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
/// systemd's own socket for root: no bus daemon in between, no Hello.
pub const PRIVATE_SOCKET: &str = "/run/systemd/private";
pub const SYSTEM_BUS_SOCKET: &str = "/run/dbus/system_bus_socket";
/// How long systemd gets for one call or job (runc waits as long).
const TIMEOUT: Duration = Duration::from_secs(30);

const UNIT_EXISTS: &str = "org.freedesktop.systemd1.UnitExists";
const NO_SUCH_UNIT: &str = "org.freedesktop.systemd1.NoSuchUnit";

pub struct Manager {
    bus: Bus,
    message_bus: bool,
    subscribed: bool,
    version: Option<u32>,
}

/// One `(sv)` property of a unit.
pub fn property(name: &str, value: Value) -> Value {
    Value::Struct(vec![Value::str(name), Value::variant(value)])
}

fn properties(items: Vec<Value>) -> Value {
    Value::Array {
        elem: "(sv)".into(),
        items,
    }
}

/// The system bus socket: $DBUS_SYSTEM_BUS_ADDRESS if it is a plain
/// `unix:path=...` address, else the standard path.
fn system_bus_socket() -> PathBuf {
    std::env::var("DBUS_SYSTEM_BUS_ADDRESS")
        .ok()
        .and_then(|a| {
            let path = a.strip_prefix("unix:path=")?;
            Some(PathBuf::from(path.split(',').next()?))
        })
        .unwrap_or_else(|| PathBuf::from(SYSTEM_BUS_SOCKET))
}

/// The user's session bus and its systemd's private socket, for the
/// user's own systemd instance (`systemd --user`): the session bus from
/// $DBUS_SESSION_BUS_ADDRESS if it is a plain `unix:path=...`, else
/// $XDG_RUNTIME_DIR/bus, as runc and crun find it.
fn user_sockets() -> Vec<(PathBuf, bool)> {
    let mut out = Vec::new();
    if let Some(p) = std::env::var("DBUS_SESSION_BUS_ADDRESS")
        .ok()
        .and_then(|a| {
            Some(PathBuf::from(
                a.strip_prefix("unix:path=")?.split(',').next()?,
            ))
        })
    {
        out.push((p, true));
    }
    if let Some(x) = std::env::var_os("XDG_RUNTIME_DIR").filter(|x| !x.is_empty()) {
        let x = PathBuf::from(x);
        out.push((x.join("bus"), true));
        out.push((x.join("systemd/private"), false));
    }
    out
}

impl Manager {
    /// Connects to systemd: as root through its private socket, else (or
    /// if that fails) through the system bus. `user`: the caller's own
    /// systemd instance instead (rootless).
    pub fn connect(user: bool) -> Result<Manager> {
        let mut tried = Vec::new();
        let mut candidates = Vec::new();
        if user {
            candidates = user_sockets();
            if candidates.is_empty() {
                tried.push("neither DBUS_SESSION_BUS_ADDRESS nor XDG_RUNTIME_DIR is set".into());
            }
        } else {
            if nix::unistd::geteuid().is_root() {
                candidates.push((PathBuf::from(PRIVATE_SOCKET), false));
            }
            candidates.push((system_bus_socket(), true));
        }
        for (socket, message_bus) in candidates {
            match Bus::connect(Path::new(&socket), message_bus) {
                Ok(bus) => {
                    return Ok(Manager {
                        bus,
                        message_bus,
                        subscribed: false,
                        version: None,
                    });
                }
                Err(e) => tried.push(e.to_string()),
            }
        }
        let (which, bus) = if user {
            ("the user's systemd", "its session bus")
        } else {
            ("systemd", "D-Bus")
        };
        Err(Error::new(format!(
            "systemd cgroup driver: cannot reach {which} over {bus} ({}); is {which} running?",
            tried.join("; ")
        )))
    }

    fn call(&mut self, member: &str, args: &[Value]) -> Result<Vec<Value>, CallError> {
        self.bus.call(
            &Call {
                destination: Some(DEST),
                path: PATH,
                interface: MANAGER,
                member,
                args,
            },
            TIMEOUT,
        )
    }

    /// Asks for job signals. The replies are not waited for: systemd
    /// handles a connection's messages in order, so the subscription is in
    /// place before the call that follows it starts a job.
    fn subscribe(&mut self) -> Result<()> {
        if self.subscribed {
            return Ok(());
        }
        if self.message_bus {
            let rule = "type='signal',sender='org.freedesktop.systemd1',\
                        interface='org.freedesktop.systemd1.Manager',member='JobRemoved'";
            self.bus.send(
                &Call {
                    destination: Some("org.freedesktop.DBus"),
                    path: "/org/freedesktop/DBus",
                    interface: "org.freedesktop.DBus",
                    member: "AddMatch",
                    args: &[Value::str(rule)],
                },
                false,
            )?;
        }
        self.bus.send(
            &Call {
                destination: Some(DEST),
                path: PATH,
                interface: MANAGER,
                member: "Subscribe",
                args: &[],
            },
            false,
        )?;
        self.subscribed = true;
        Ok(())
    }

    /// Waits for `JobRemoved` of `job` and returns its result ("done",
    /// "failed", "canceled", "timeout", "dependency", "skipped").
    fn wait_job(&mut self, job: &str) -> Result<String> {
        let msg = self.bus.wait_signal(TIMEOUT, |m| {
            m.member.as_deref() == Some("JobRemoved")
                && m.interface.as_deref() == Some(MANAGER)
                && m.body.get(1).and_then(Value::as_str) == Some(job)
        })?;
        Ok(msg
            .body
            .get(3)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string())
    }

    fn reset_failed(&mut self, unit: &str) {
        if let Err(e) = self.call("ResetFailedUnit", &[Value::str(unit)]) {
            if !e.is(NO_SUCH_UNIT) {
                log::debug!("reset-failed {unit}: {}", e.error);
            }
        }
    }

    /// `StartTransientUnit(unit, "replace", props, [])` and waits until the
    /// unit is up. A failed leftover of the same name is reset and the start
    /// retried once, as runc does.
    pub fn start_transient_unit(&mut self, unit: &str, props: Vec<Value>) -> Result<()> {
        self.subscribe()?;
        let args = [
            Value::str(unit),
            Value::str("replace"),
            properties(props),
            Value::Array {
                elem: "(sa(sv))".into(),
                items: vec![],
            },
        ];
        let mut retried = false;
        let job = loop {
            match self.call("StartTransientUnit", &args) {
                Ok(body) => break job_path(&body)?,
                Err(e) if e.is(UNIT_EXISTS) && !retried => {
                    self.reset_failed(unit);
                    retried = true;
                }
                Err(e) if e.is(UNIT_EXISTS) => {
                    return Err(Error::new(format!(
                        "systemd unit {unit} already exists (is another container using this cgroupsPath?)"
                    )));
                }
                Err(e) => return Err(e.error.context(format!("start systemd unit {unit}"))),
            }
        };
        let result = self.wait_job(&job)?;
        if result != "done" {
            self.reset_failed(unit);
            return Err(Error::new(format!(
                "start systemd unit {unit}: job {result}"
            )));
        }
        Ok(())
    }

    /// `StopUnit(unit, "replace")` and waits for it; a unit systemd no
    /// longer knows (a scope goes away by itself once empty) is fine.
    pub fn stop_unit(&mut self, unit: &str) -> Result<()> {
        self.subscribe()?;
        let job = match self.call("StopUnit", &[Value::str(unit), Value::str("replace")]) {
            Ok(body) => job_path(&body)?,
            Err(e) if e.is(NO_SUCH_UNIT) => return Ok(()),
            Err(e) => return Err(e.error.context(format!("stop systemd unit {unit}"))),
        };
        let result = self.wait_job(&job)?;
        if result != "done" {
            // A failed unit lingers until reset.
            self.reset_failed(unit);
            log::warn!("stop systemd unit {unit}: job {result}");
        }
        Ok(())
    }

    /// `AttachProcessesToUnit(unit, "", pids)`: moves processes into a
    /// running unit. A user's systemd asks PID 1 to do it when it may not
    /// write the common ancestor's cgroup.procs, for processes that are
    /// the user's.
    pub fn attach_processes(&mut self, unit: &str, pids: &[u32]) -> Result<()> {
        let pids = Value::Array {
            elem: "u".into(),
            items: pids.iter().map(|p| Value::U32(*p)).collect(),
        };
        self.call(
            "AttachProcessesToUnit",
            &[Value::str(unit), Value::str(""), pids],
        )
        .map_err(|e| e.error.context(format!("attach to systemd unit {unit}")))?;
        Ok(())
    }

    /// `SetUnitProperties(unit, runtime=true, props)`.
    pub fn set_unit_properties(&mut self, unit: &str, props: Vec<Value>) -> Result<()> {
        if props.is_empty() {
            return Ok(());
        }
        self.call(
            "SetUnitProperties",
            &[Value::str(unit), Value::Bool(true), properties(props)],
        )
        .map_err(|e| {
            e.error
                .context(format!("set properties of systemd unit {unit}"))
        })?;
        Ok(())
    }

    /// systemd's major version (252 for "252.38-1~deb12u1"), asked once;
    /// some properties are only known to newer versions.
    pub fn version(&mut self) -> Result<u32> {
        if let Some(v) = self.version {
            return Ok(v);
        }
        let body = self
            .bus
            .call(
                &Call {
                    destination: Some(DEST),
                    path: PATH,
                    interface: "org.freedesktop.DBus.Properties",
                    member: "Get",
                    args: &[Value::str(MANAGER), Value::str("Version")],
                },
                TIMEOUT,
            )
            .map_err(|e| e.error.context("ask systemd for its version"))?;
        let text = match body.first() {
            Some(Value::Variant(v)) => v.as_str().unwrap_or("").to_string(),
            _ => String::new(),
        };
        let v = parse_version(&text)
            .ok_or_else(|| Error::new(format!("unparsable systemd version {text:?}")))?;
        self.version = Some(v);
        Ok(v)
    }
}

fn job_path(body: &[Value]) -> Result<String> {
    match body.first() {
        Some(Value::Path(p)) => Ok(p.clone()),
        other => Err(Error::new(format!(
            "systemd returned {other:?} instead of a job path"
        ))),
    }
}

/// "252.38-1~deb12u1", "v245.4-1.fc32", "245" → the leading number.
fn parse_version(text: &str) -> Option<u32> {
    let t = text.trim_start_matches(['"', 'v']);
    let digits: String = t.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_like_systemctl_prints_them() {
        assert_eq!(parse_version("252.38-1~deb12u1"), Some(252));
        assert_eq!(parse_version("v245.4-1.fc32"), Some(245));
        assert_eq!(parse_version("239"), Some(239));
        assert_eq!(parse_version("unknown"), None);
    }

    #[test]
    fn job_path_must_be_an_object_path() {
        assert_eq!(
            job_path(&[Value::Path("/org/freedesktop/systemd1/job/7".into())]).unwrap(),
            "/org/freedesktop/systemd1/job/7"
        );
        assert!(job_path(&[Value::str("x")]).is_err());
        assert!(job_path(&[]).is_err());
    }
}
