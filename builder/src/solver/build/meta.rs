//! Instructions that only change the image config (no filesystem work):
//! ENV, LABEL, EXPOSE, USER, VOLUME, STOPSIGNAL, HEALTHCHECK, ONBUILD,
//! SHELL, CMD, ENTRYPOINT, MAINTAINER, ARG, and WORKDIR's config half.

use crate::frontend::dockerfile::ast::{CommandLine, Kind};
use crate::image::{Healthcheck, RunConfig};
use serde_json::json;

pub const DEFAULT_SHELL: [&str; 2] = ["/bin/sh", "-c"];

pub fn shell_of(c: &RunConfig) -> Vec<String> {
    c.shell
        .clone()
        .unwrap_or_else(|| DEFAULT_SHELL.iter().map(|s| s.to_string()).collect())
}

/// Shell form → SHELL + [text]; exec form as is.
pub fn command_args(c: &RunConfig, cmd: &CommandLine) -> Vec<String> {
    match cmd {
        CommandLine::Shell(s) => {
            let mut v = shell_of(c);
            v.push(s.clone());
            v
        }
        CommandLine::Exec(v) => v.clone(),
    }
}

/// `WORKDIR p`: relative paths resolve against the current one.
pub fn workdir(c: &RunConfig, path: &str) -> String {
    let joined = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{}/{path}", c.working_dir.as_deref().unwrap_or("/"))
    };
    let cleaned = crate::frontend::context::ignore::clean_path(&joined);
    if cleaned == "." { "/".into() } else { cleaned }
}

/// Tracks what a stage set itself (ENTRYPOINT resets an inherited CMD
/// unless this stage set CMD).
#[derive(Default)]
pub struct StageFlags {
    pub cmd_set: bool,
}

/// Applies a metadata instruction. Returns false for instructions that are
/// not metadata-only.
pub fn apply(
    c: &mut RunConfig,
    author: &mut Option<String>,
    kind: &Kind,
    flags: &mut StageFlags,
) -> bool {
    match kind {
        Kind::Env { pairs } => {
            for p in pairs {
                c.set_env(&p.key, &p.value);
            }
        }
        Kind::Label { pairs } => {
            let l = c.labels.get_or_insert_with(Default::default);
            for p in pairs {
                l.insert(p.key.clone(), p.value.clone());
            }
        }
        Kind::Expose { ports } => {
            let e = c.exposed_ports.get_or_insert_with(Default::default);
            for p in ports {
                let key = if p.contains('/') {
                    p.to_ascii_lowercase()
                } else {
                    format!("{p}/tcp")
                };
                e.insert(key, json!({}));
            }
        }
        Kind::User { user } => c.user = Some(user.clone()),
        Kind::Volume { paths } => {
            let v = c.volumes.get_or_insert_with(Default::default);
            for p in paths {
                v.insert(p.clone(), json!({}));
            }
        }
        Kind::Stopsignal { signal } => c.stop_signal = Some(signal.clone()),
        Kind::Healthcheck(h) => {
            c.healthcheck = Some(if h.disable {
                Healthcheck {
                    test: vec!["NONE".into()],
                    ..Default::default()
                }
            } else {
                let test = match &h.test {
                    Some(CommandLine::Shell(s)) => vec!["CMD-SHELL".to_string(), s.clone()],
                    Some(CommandLine::Exec(v)) => {
                        let mut t = vec!["CMD".to_string()];
                        t.extend(v.iter().cloned());
                        t
                    }
                    None => Vec::new(),
                };
                Healthcheck {
                    test,
                    interval: h.interval_ns.unwrap_or(0),
                    timeout: h.timeout_ns.unwrap_or(0),
                    start_period: h.start_period_ns.unwrap_or(0),
                    start_interval: h.start_interval_ns.unwrap_or(0),
                    retries: h.retries.unwrap_or(0) as u64,
                }
            })
        }
        Kind::Onbuild { expression, .. } => c
            .on_build
            .get_or_insert_with(Vec::new)
            .push(expression.clone()),
        Kind::Shell { shell } => c.shell = Some(shell.clone()),
        Kind::Cmd { command } => {
            c.cmd = Some(command_args(c, command));
            flags.cmd_set = true;
        }
        Kind::Entrypoint { command } => {
            c.entrypoint = Some(command_args(c, command));
            if !flags.cmd_set {
                c.cmd = None;
            }
        }
        Kind::Maintainer { name } => *author = Some(name.clone()),
        Kind::Arg { .. } => {}
        _ => return false,
    }
    true
}
