//! Semantic checks the JSON schema cannot express. Each error starts with
//! the JSON path of the field at fault.

use crate::error::{Error, Result};
use crate::mounts::options::MountOptions;
use crate::mounts::sources;
use oci_spec::runtime::{LinuxNamespaceType, Mount, Spec};
use std::collections::HashSet;
use std::path::Path;

fn fail<T>(path: impl std::fmt::Display, why: impl std::fmt::Display) -> Result<T> {
    Err(Error::new(format!("{path}: {why}")))
}

pub fn validate(spec: &Spec) -> Result<()> {
    match spec.root() {
        None => return fail("root", "must be set"),
        Some(r) if r.path().as_os_str().is_empty() => return fail("root.path", "must be set"),
        _ => {}
    }
    if let Some(p) = spec.process() {
        validate_process(p)?;
    }
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        no_nul(
            format!("mounts[{i}].destination"),
            m.destination().as_os_str(),
        )?;
        if let Some(src) = m.source() {
            no_nul(format!("mounts[{i}].source"), src.as_os_str())?;
        }
        if let Some(t) = m.typ() {
            no_nul(format!("mounts[{i}].type"), t)?;
        }
        for (j, o) in m.options().iter().flatten().enumerate() {
            no_nul(format!("mounts[{i}].options[{j}]"), o)?;
        }
        if !m.destination().is_absolute() {
            return fail(
                format!("mounts[{i}].destination"),
                format!("{:?} must be an absolute path", m.destination()),
            );
        }
    }
    let linux = spec.linux().as_ref();
    let namespaces = linux.and_then(|l| l.namespaces().as_ref());
    let mut seen = HashSet::new();
    let mut new_or_joined = HashSet::new();
    for (i, ns) in namespaces.into_iter().flatten().enumerate() {
        if !seen.insert(ns.typ()) {
            return fail(
                format!("linux.namespaces[{i}].type"),
                format!("duplicate namespace {:?}", ns.typ()),
            );
        }
        if let Some(p) = ns.path() {
            if !p.is_absolute() {
                return fail(format!("linux.namespaces[{i}].path"), "must be absolute");
            }
        }
        new_or_joined.insert(ns.typ());
    }
    let has = |t: LinuxNamespaceType| new_or_joined.contains(&t);
    let unified = linux
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| r.unified().as_ref());
    for key in unified.into_iter().flatten().map(|(k, _)| k) {
        validate_unified_key(key)?;
    }
    if let Some(linux) = linux {
        let maps = linux.uid_mappings().as_ref().is_some_and(|m| !m.is_empty())
            || linux.gid_mappings().as_ref().is_some_and(|m| !m.is_empty());
        let new_userns = namespaces
            .into_iter()
            .flatten()
            .any(|n| n.typ() == LinuxNamespaceType::User && n.path().is_none());
        if new_userns && !maps {
            return fail(
                "linux.uidMappings",
                "a new user namespace needs uid and gid mappings",
            );
        }
        if maps && !has(LinuxNamespaceType::User) {
            return fail(
                "linux.uidMappings",
                "mappings are set but there is no user namespace",
            );
        }
        for (field, maps) in [
            ("linux.uidMappings", linux.uid_mappings()),
            ("linux.gidMappings", linux.gid_mappings()),
        ] {
            if let Some(maps) = maps.as_deref().filter(|m| !m.is_empty()) {
                crate::process::idmap::check(field, maps)?;
            }
        }
        for (key, _) in linux.sysctl().iter().flatten() {
            validate_sysctl(key, &has)?;
        }
        if linux.time_offsets().as_ref().is_some_and(|t| !t.is_empty())
            && !has(LinuxNamespaceType::Time)
        {
            return fail("linux.timeOffsets", "needs a time namespace");
        }
        if let Some(p) = linux.rootfs_propagation() {
            if !matches!(
                p.as_str(),
                "" | "private"
                    | "rprivate"
                    | "slave"
                    | "rslave"
                    | "shared"
                    | "rshared"
                    | "unbindable"
                    | "runbindable"
            ) {
                return fail("linux.rootfsPropagation", format!("unknown value {p:?}"));
            }
        }
        for (i, d) in linux.devices().iter().flatten().enumerate() {
            if !d.path().is_absolute() {
                return fail(format!("linux.devices[{i}].path"), "must be absolute");
            }
        }
        if let Some(seccomp) = linux.seccomp() {
            validate_seccomp(seccomp)?;
        }
        if let Some(policy) = linux.memory_policy() {
            crate::init::memory_policy::MemoryPolicy::parse(policy)?;
        }
    }
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        validate_idmapped_mount(i, m, has(LinuxNamespaceType::User))?;
    }
    if spec.hostname().as_ref().is_some_and(|h| !h.is_empty()) && !has(LinuxNamespaceType::Uts) {
        return fail("hostname", "needs a private UTS namespace");
    }
    if spec.domainname().as_ref().is_some_and(|h| !h.is_empty()) && !has(LinuxNamespaceType::Uts) {
        return fail("domainname", "needs a private UTS namespace");
    }
    if let Some(h) = spec.hooks() {
        #[allow(deprecated)]
        let kinds = [
            ("prestart", h.prestart()),
            ("createRuntime", h.create_runtime()),
            ("createContainer", h.create_container()),
            ("startContainer", h.start_container()),
            ("poststart", h.poststart()),
            ("poststop", h.poststop()),
        ];
        for (kind, hooks) in kinds {
            for (i, hook) in hooks.iter().flatten().enumerate() {
                if !hook.path().is_absolute() {
                    return fail(format!("hooks.{kind}[{i}].path"), "must be absolute");
                }
                if hook.timeout().is_some_and(|t| t <= 0) {
                    return fail(format!("hooks.{kind}[{i}].timeout"), "must be positive");
                }
            }
        }
    }
    Ok(())
}

/// Idmapped mounts (runtime-spec 1.1): binds only; uidMappings and
/// gidMappings together, each a valid mapping; `idmap`/`ridmap` without
/// mappings of their own take the container's user namespace, which must
/// then exist (as runc).
fn validate_idmapped_mount(i: usize, m: &Mount, has_userns: bool) -> Result<()> {
    let opts = MountOptions::parse(m.options().as_deref().unwrap_or(&[]));
    if !sources::is_idmapped(m, &opts) {
        return Ok(());
    }
    let option = m
        .options()
        .iter()
        .flatten()
        .position(|o| o == "idmap" || o == "ridmap");
    let at = match option {
        Some(j) => format!("mounts[{i}].options[{j}]"),
        None => format!("mounts[{i}].uidMappings"),
    };
    if !sources::is_bind(m, &opts) {
        return fail(at, "idmapped mounts are only supported for bind mounts");
    }
    match (m.uid_mappings(), m.gid_mappings()) {
        (Some(uid), Some(gid)) => {
            crate::process::idmap::check(&format!("mounts[{i}].uidMappings"), uid)?;
            crate::process::idmap::check(&format!("mounts[{i}].gidMappings"), gid)
        }
        (Some(_), None) => fail(
            format!("mounts[{i}].gidMappings"),
            "must be set with uidMappings (an idmapped mount maps both)",
        ),
        (None, Some(_)) => fail(
            format!("mounts[{i}].uidMappings"),
            "must be set with gidMappings (an idmapped mount maps both)",
        ),
        (None, None) if !has_userns => fail(
            at,
            "without uidMappings and gidMappings the mount takes the container's user namespace mappings, and there is no user namespace",
        ),
        (None, None) => Ok(()),
    }
}

/// Compiles the profile before anything is made, so that a bad one (an
/// unknown syscall, a program longer than the kernel takes) fails `create`
/// with nothing left behind; the container init compiles it again (~100 us).
/// A profile with SCMP_ACT_NOTIFY rules needs a seccomp agent at
/// `listenerPath` to hand the notify fd to; runc refuses it without one,
/// with the same words.
fn validate_seccomp(seccomp: &oci_spec::runtime::LinuxSeccomp) -> Result<()> {
    let program = crate::seccomp::compile(seccomp).map_err(|e| Error::new(e.to_string()))?;
    let listener = seccomp.listener_path().as_ref();
    if program.uses_notify() && listener.is_none_or(|p| p.as_os_str().is_empty()) {
        return fail(
            "linux.seccomp.listenerPath",
            "listenerPath is not set (SCMP_ACT_NOTIFY rules need a seccomp agent listening there)",
        );
    }
    Ok(())
}

/// The process's strings that reach execve(2) and chdir(2) (args, env,
/// cwd) hold no NUL byte: for config.json and for `exec --process`.
pub fn process_has_no_nul(p: &oci_spec::runtime::Process) -> Result<()> {
    for (i, a) in p.args().iter().flatten().enumerate() {
        no_nul(format!("process.args[{i}]"), a)?;
    }
    for (i, e) in p.env().iter().flatten().enumerate() {
        no_nul(format!("process.env[{i}]"), e)?;
    }
    no_nul("process.cwd", p.cwd().as_os_str())
}

/// A NUL byte cannot cross into a C string: mount(2) and execve(2) would
/// see the value cut short there (a mount option or data string silently
/// losing its tail), or the conversion would fail deep inside the init with
/// no field to name. Refused up front, naming the field.
fn no_nul(field: impl std::fmt::Display, value: impl AsRef<std::ffi::OsStr>) -> Result<()> {
    if value.as_ref().as_encoded_bytes().contains(&0) {
        return fail(field, "contains a NUL byte");
    }
    Ok(())
}

/// A `linux.resources.unified` key must name one knob of one controller
/// (`memory.high`, `pids.max`): a config may only write the cgroup knobs it
/// names. The core interface files (`cgroup.procs`, `cgroup.threads`,
/// `cgroup.kill`, `cgroup.subtree_control`, `cgroup.type`, `cgroup.freeze`,
/// …) would move host processes into the container's cgroup, kill it or
/// change the hierarchy, so of `cgroup.*` only the two limits are taken.
pub fn validate_unified_key(key: &str) -> Result<()> {
    let field = format!("linux.resources.unified[{key:?}]");
    let Some((controller, knob)) = key.split_once('.') else {
        return fail(field, "not a <controller>.<knob> name");
    };
    let word = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
    };
    if !word(controller) || !word(knob) || controller.contains('.') {
        return fail(field, "not a <controller>.<knob> name");
    }
    if controller == "cgroup" && !matches!(knob, "max.depth" | "max.descendants") {
        return fail(field, "a cgroup core interface file, not a resource knob");
    }
    Ok(())
}

fn validate_process(p: &oci_spec::runtime::Process) -> Result<()> {
    match p.args() {
        Some(a) if !a.is_empty() && !a[0].is_empty() => {}
        _ => return fail("process.args", "must not be empty"),
    }
    process_has_no_nul(p)?;
    if !p.cwd().is_absolute() {
        return fail(
            "process.cwd",
            format!("{:?} must be an absolute path", p.cwd()),
        );
    }
    for (i, e) in p.env().iter().flatten().enumerate() {
        if !e.contains('=') || e.starts_with('=') {
            return fail(
                format!("process.env[{i}]"),
                format!("{e:?} is not KEY=VALUE"),
            );
        }
    }
    let mut kinds = HashSet::new();
    for (i, r) in p.rlimits().iter().flatten().enumerate() {
        if !kinds.insert(format!("{:?}", r.typ())) {
            return fail(
                format!("process.rlimits[{i}].type"),
                format!("duplicate {:?}", r.typ()),
            );
        }
        if r.soft() > r.hard() {
            return fail(
                format!("process.rlimits[{i}]"),
                "soft limit exceeds hard limit",
            );
        }
    }
    if let Some(adj) = p.oom_score_adj() {
        if !(-1000..=1000).contains(&adj) {
            return fail("process.oomScoreAdj", "must be within -1000..1000");
        }
    }
    if let Some(io) = p.io_priority() {
        if !(0..=7).contains(&io.priority()) {
            return fail("process.ioPriority.priority", "must be within 0..7");
        }
    }
    if let Some(s) = p.scheduler() {
        validate_scheduler(s)?;
    }
    if let Some(a) = p.exec_cpu_affinity() {
        if let Some(l) = a.initial().as_deref().filter(|l| !l.is_empty()) {
            crate::init::parse_cpu_list("process.execCPUAffinity.initial", l)?;
        }
        if let Some(l) = a.cpu_affinity_final().as_deref().filter(|l| !l.is_empty()) {
            crate::init::parse_cpu_list("process.execCPUAffinity.final", l)?;
        }
    }
    Ok(())
}

/// The ranges sched_setattr(2) accepts, checked before anything is set up.
fn validate_scheduler(s: &oci_spec::runtime::Scheduler) -> Result<()> {
    use oci_spec::runtime::LinuxSchedulerPolicy::*;
    if let Some(n) = s.nice() {
        if !(-20..=19).contains(n) {
            return fail("process.scheduler.nice", "must be within -20..19");
        }
    }
    let realtime = matches!(s.policy(), SchedFifo | SchedRr);
    match s.priority() {
        Some(p) if realtime && !(1..=99).contains(p) => {
            return fail(
                "process.scheduler.priority",
                "must be within 1..99 for SCHED_FIFO and SCHED_RR",
            );
        }
        Some(p) if !realtime && *p != 0 => {
            return fail(
                "process.scheduler.priority",
                "must be 0 unless the policy is SCHED_FIFO or SCHED_RR",
            );
        }
        None if realtime => {
            return fail(
                "process.scheduler.priority",
                "SCHED_FIFO and SCHED_RR need a priority (1..99)",
            );
        }
        _ => {}
    }
    if *s.policy() == SchedDeadline
        && [s.runtime(), s.deadline(), s.period()]
            .iter()
            .any(|v| v.unwrap_or(0) == 0)
    {
        return fail(
            "process.scheduler",
            "SCHED_DEADLINE needs runtime, deadline and period",
        );
    }
    Ok(())
}

/// Only namespaced sysctls may be set, and only when the container has its
/// own namespace of that kind (the same rules as runc).
fn validate_sysctl(key: &str, has: &dyn Fn(LinuxNamespaceType) -> bool) -> Result<()> {
    let path = format!("linux.sysctl.{key}");
    if key.is_empty() || key.contains("..") || key.starts_with('/') || Path::new(key).is_absolute()
    {
        return fail(path, "invalid sysctl name");
    }
    let ipc = key.starts_with("fs.mqueue.")
        || matches!(
            key,
            "kernel.msgmax"
                | "kernel.msgmnb"
                | "kernel.msgmni"
                | "kernel.sem"
                | "kernel.shmall"
                | "kernel.shmmax"
                | "kernel.shmmni"
                | "kernel.shm_rmid_forced"
        );
    if ipc {
        if !has(LinuxNamespaceType::Ipc) {
            return fail(path, "needs a private IPC namespace");
        }
        return Ok(());
    }
    if key.starts_with("net.") {
        if !has(LinuxNamespaceType::Network) {
            return fail(path, "needs a private network namespace");
        }
        return Ok(());
    }
    if key == "kernel.hostname" || key == "kernel.domainname" {
        if !has(LinuxNamespaceType::Uts) {
            return fail(path, "needs a private UTS namespace");
        }
        return Ok(());
    }
    if key.starts_with("user.") {
        if !has(LinuxNamespaceType::User) {
            return fail(path, "needs a private user namespace");
        }
        return Ok(());
    }
    fail(path, "is not in a separate kernel namespace")
}

#[cfg(test)]
mod tests {
    #[test]
    fn unified_keys_name_one_knob_of_one_controller() {
        for ok in [
            "memory.high",
            "pids.max",
            "cpu.max",
            "io.weight",
            "cgroup.max.depth",
            "cgroup.max.descendants",
            "hugetlb.2MB.max",
        ] {
            assert!(super::validate_unified_key(ok).is_ok(), "{ok}");
        }
        for (bad, says) in [
            ("cgroup.procs", "core interface"),
            ("cgroup.threads", "core interface"),
            ("cgroup.kill", "core interface"),
            ("cgroup.subtree_control", "core interface"),
            ("cgroup.type", "core interface"),
            ("cgroup.freeze", "core interface"),
            ("../../cgroup.procs", "<controller>.<knob>"),
            ("memory", "<controller>.<knob>"),
            (".hidden", "<controller>.<knob>"),
            ("memory./max", "<controller>.<knob>"),
        ] {
            let e = super::validate_unified_key(bad).unwrap_err().to_string();
            assert!(e.contains(says) && e.contains(bad), "{bad}: {e}");
        }
    }

    use crate::spec::{default_spec_json, parse, validate};

    fn check(edit: impl FnOnce(&mut serde_json::Value)) -> String {
        let mut v = default_spec_json(false);
        edit(&mut v);
        match parse(&serde_json::to_vec(&v).unwrap()) {
            Err(e) => e.to_string(),
            Ok(spec) => validate(&spec)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default(),
        }
    }

    #[test]
    fn seccomp_notify_needs_a_listener_path() {
        use serde_json::json;
        let notify = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]
        });
        let without = notify.clone();
        assert_eq!(
            check(|v| v["linux"]["seccomp"] = without),
            "linux.seccomp.listenerPath: listenerPath is not set \
             (SCMP_ACT_NOTIFY rules need a seccomp agent listening there)"
        );
        let mut with = notify;
        with["listenerPath"] = json!("/run/agent.sock");
        assert_eq!(check(|v| v["linux"]["seccomp"] = with), "");
        // Without NOTIFY rules no agent is needed.
        let plain = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]
        });
        assert_eq!(check(|v| v["linux"]["seccomp"] = plain), "");
    }

    /// The profile is compiled at validation: its errors stop `create`
    /// before anything exists.
    #[test]
    fn seccomp_profile_errors_are_found_at_validation() {
        use serde_json::json;
        let unknown = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "nosuchcall"], "action": "SCMP_ACT_ERRNO"}]
        });
        assert_eq!(
            check(|v| v["linux"]["seccomp"] = unknown),
            r#"linux.seccomp.syscalls[0].names[1]: unknown syscall "nosuchcall""#
        );
        let rules: Vec<_> = (0..1500)
            .map(|i| {
                json!({"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                       "args": [{"index": 0, "value": i, "op": "SCMP_CMP_EQ"}]})
            })
            .collect();
        let huge = json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": rules});
        let e = check(|v| v["linux"]["seccomp"] = huge);
        assert!(
            e.starts_with("linux.seccomp: seccomp profile compiles to ")
                && e.ends_with(" instructions; the kernel allows 4096"),
            "{e}"
        );
    }

    #[test]
    fn empty_args_named() {
        assert_eq!(
            check(|v| v["process"]["args"] = serde_json::json!([])),
            "process.args: must not be empty"
        );
    }

    #[test]
    fn nul_bytes_are_refused_naming_the_field() {
        use serde_json::json;
        let cases: [(&str, fn(&mut serde_json::Value)); 7] = [
            ("process.args[1]: contains a NUL byte", |v| {
                v["process"]["args"] = json!(["sh", "a\0b"])
            }),
            ("process.env[0]: contains a NUL byte", |v| {
                v["process"]["env"] = json!(["A=b\0c"])
            }),
            ("process.cwd: contains a NUL byte", |v| {
                v["process"]["cwd"] = json!("/tmp\0x")
            }),
            ("mounts[2].options[0]: contains a NUL byte", |v| {
                v["mounts"][2]["options"] = json!(["nosuid\0,size=1"])
            }),
            ("mounts[0].source: contains a NUL byte", |v| {
                v["mounts"][0]["source"] = json!("pr\0oc")
            }),
            ("mounts[1].destination: contains a NUL byte", |v| {
                v["mounts"][1]["destination"] = json!("/dev\0/x")
            }),
            ("mounts[1].type: contains a NUL byte", |v| {
                v["mounts"][1]["type"] = json!("tmp\0fs")
            }),
        ];
        for (want, edit) in cases {
            assert_eq!(check(edit), want);
        }
    }

    #[test]
    fn wrong_type_names_json_path() {
        let e = check(|v| v["process"]["user"]["uid"] = serde_json::json!("x"));
        assert!(e.starts_with("process.user.uid: invalid type"), "{e}");
    }

    #[test]
    fn unknown_namespace_named() {
        let e = check(|v| v["linux"]["namespaces"][0]["type"] = serde_json::json!("bogus"));
        assert!(
            e.starts_with("linux.namespaces[0].type: unknown variant"),
            "{e}"
        );
    }

    #[test]
    fn relative_mount_destination_rejected() {
        let e = check(|v| v["mounts"][0]["destination"] = serde_json::json!("proc"));
        assert!(e.starts_with("mounts[0].destination:"), "{e}");
    }

    #[test]
    fn relative_cwd_rejected() {
        let e = check(|v| v["process"]["cwd"] = serde_json::json!("tmp"));
        assert!(e.starts_with("process.cwd:"), "{e}");
    }

    #[test]
    fn syntax_error_has_position() {
        let e = parse(b"{\n  \"ociVersion\": \"1\",\n  oops\n}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 3"), "{e}");
    }

    #[test]
    fn idmapped_mounts_are_checked_naming_the_field() {
        let bind = |extra: serde_json::Value| {
            move |v: &mut serde_json::Value| {
                let mut m = serde_json::json!({"destination": "/vol", "type": "bind",
                    "source": "/tmp", "options": ["rbind"]});
                for (k, x) in extra.as_object().unwrap() {
                    m[k] = x.clone();
                }
                v["mounts"].as_array_mut().unwrap().push(m);
            }
        };
        let map = serde_json::json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
        let n = default_spec_json(false)["mounts"].as_array().unwrap().len();
        let e = check(bind(serde_json::json!({"uidMappings": map})));
        assert_eq!(
            e,
            format!(
                "mounts[{n}].gidMappings: must be set with uidMappings (an idmapped mount maps both)"
            )
        );
        let e = check(bind(serde_json::json!({"options": ["rbind", "idmap"]})));
        assert!(
            e.starts_with(&format!("mounts[{n}].options[1]: without uidMappings")),
            "{e}"
        );
        let e = check(bind(
            serde_json::json!({"type": "tmpfs", "options": ["ridmap"]}),
        ));
        assert_eq!(
            e,
            format!("mounts[{n}].options[0]: idmapped mounts are only supported for bind mounts")
        );
        let e = check(bind(serde_json::json!({"uidMappings": map,
            "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 0}]})));
        assert_eq!(
            e,
            format!("mounts[{n}].gidMappings[0].size: must be positive")
        );
        let e = check(bind(
            serde_json::json!({"uidMappings": [], "gidMappings": map}),
        ));
        assert_eq!(
            e,
            format!("mounts[{n}].uidMappings: must list at least one mapping")
        );
        assert_eq!(
            check(bind(
                serde_json::json!({"uidMappings": map, "gidMappings": map})
            )),
            ""
        );
    }

    #[test]
    fn user_namespace_needs_mappings() {
        let e = check(|v| {
            v["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(serde_json::json!({"type": "user"}))
        });
        assert!(e.starts_with("linux.uidMappings:"), "{e}");
    }

    #[test]
    fn sysctl_rules() {
        let ok = check(|v| v["linux"]["sysctl"] = serde_json::json!({"net.ipv4.ip_forward": "1"}));
        assert_eq!(ok, "");
        let e = check(|v| v["linux"]["sysctl"] = serde_json::json!({"vm.swappiness": "1"}));
        assert!(e.starts_with("linux.sysctl.vm.swappiness:"), "{e}");
        let e = check(|v| {
            v["linux"]["namespaces"] = serde_json::json!([{"type": "mount"}]);
            v["hostname"] = serde_json::json!("");
            v["linux"]["sysctl"] = serde_json::json!({"net.ipv4.ip_forward": "1"});
        });
        assert!(e.contains("network namespace"), "{e}");
    }

    #[test]
    fn hostname_needs_uts() {
        let e = check(|v| v["linux"]["namespaces"] = serde_json::json!([{"type": "mount"}]));
        assert!(e.starts_with("hostname:"), "{e}");
    }

    #[test]
    fn duplicate_namespace_rejected() {
        let e = check(|v| {
            let ns = v["linux"]["namespaces"].as_array_mut().unwrap();
            ns.truncate(5);
            ns.push(serde_json::json!({"type": "pid"}))
        });
        assert!(e.starts_with("linux.namespaces[5].type: duplicate"), "{e}");
    }

    #[test]
    fn bad_env_and_rlimits() {
        let e = check(|v| v["process"]["env"] = serde_json::json!(["NOEQUALS"]));
        assert!(e.starts_with("process.env[0]:"), "{e}");
        let e = check(|v| {
            v["process"]["rlimits"] =
                serde_json::json!([{"type": "RLIMIT_NOFILE", "hard": 1, "soft": 2}])
        });
        assert!(e.starts_with("process.rlimits[0]:"), "{e}");
    }
}
