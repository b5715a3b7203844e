//! Fuzz target: config.json parse + validate (which compiles the seccomp
//! profile too), as `create` runs them on a bundle. Invariants: no panic,
//! no hang, and every refusal is a non-empty message that is not an
//! internal error. Budget and knobs: crate::fuzzing.

use super::{default_spec_json, parse, validate};
use crate::fuzzing::{Fuzzer, JsonMutator, Rng, budget, seed};
use serde_json::json;
use std::time::Instant;

const KEYS: &[&str] = &[
    "ociVersion",
    "process",
    "root",
    "mounts",
    "hooks",
    "linux",
    "hostname",
    "domainname",
    "annotations",
    "args",
    "env",
    "cwd",
    "user",
    "uid",
    "gid",
    "umask",
    "additionalGids",
    "capabilities",
    "bounding",
    "effective",
    "permitted",
    "inheritable",
    "ambient",
    "rlimits",
    "type",
    "hard",
    "soft",
    "noNewPrivileges",
    "apparmorProfile",
    "oomScoreAdj",
    "selinuxLabel",
    "terminal",
    "consoleSize",
    "ioPriority",
    "scheduler",
    "personality",
    "path",
    "readonly",
    "destination",
    "source",
    "options",
    "uidMappings",
    "gidMappings",
    "containerID",
    "hostID",
    "size",
    "sysctl",
    "resources",
    "devices",
    "allow",
    "access",
    "major",
    "minor",
    "fileMode",
    "memory",
    "limit",
    "swap",
    "cpu",
    "shares",
    "quota",
    "period",
    "cpus",
    "mems",
    "pids",
    "blockIO",
    "unified",
    "hugepageLimits",
    "network",
    "cgroupsPath",
    "namespaces",
    "seccomp",
    "defaultAction",
    "defaultErrnoRet",
    "architectures",
    "flags",
    "syscalls",
    "names",
    "action",
    "errnoRet",
    "index",
    "value",
    "valueTwo",
    "op",
    "listenerPath",
    "maskedPaths",
    "readonlyPaths",
    "rootfsPropagation",
    "mountLabel",
    "intelRdt",
    "timeOffsets",
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
    "timeout",
];

const WORDS: &[&str] = &[
    "",
    "/",
    "/proc",
    "/dev/kmsg",
    "rootfs",
    "proc",
    "tmpfs",
    "bind",
    "rbind",
    "ro",
    "nosuid",
    "mode=755",
    "pid",
    "network",
    "mount",
    "ipc",
    "uts",
    "user",
    "cgroup",
    "time",
    "a",
    "c",
    "b",
    "rwm",
    "CAP_SYS_ADMIN",
    "CAP_KILL",
    "RLIMIT_NOFILE",
    "RLIMIT_BOGUS",
    "memory.high",
    "cgroup.procs",
    "kernel.shmmax",
    "net.ipv4.ip_forward",
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_NOTIFY",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ARCH_X86",
    "SCMP_ARCH_X32",
    "SCMP_ARCH_AARCH64",
    "SCMP_CMP_MASKED_EQ",
    "SCMP_CMP_GE",
    "read",
    "write",
    "socket",
    "socketcall",
    "mkdir",
    "nosuchsyscall",
    "rshared",
    "private",
    "SECCOMP_FILTER_FLAG_LOG",
    "SCHED_FIFO",
    "IOPRIO_CLASS_RT",
    "LINUX",
    "/sys/fs/cgroup",
    "..",
    "../../etc",
    "PATH=/bin",
    "sh",
];

/// Seeds: runc's default spec (and the rootless one) and a config that
/// uses most fields, with Docker's and Podman's seccomp profiles.
fn seeds() -> Vec<Vec<u8>> {
    let docker: serde_json::Value = serde_json::from_str(include_str!(
        "../seccomp/testdata/docker-default-amd64.json"
    ))
    .unwrap();
    let podman: serde_json::Value = serde_json::from_str(include_str!(
        "../seccomp/testdata/podman-default-amd64.json"
    ))
    .unwrap();
    let mut rich = default_spec_json(false);
    rich["process"]["rlimits"] = json!([{"type": "RLIMIT_NPROC", "hard": 10, "soft": 5}]);
    rich["process"]["user"]["additionalGids"] = json!([1, 2]);
    rich["process"]["oomScoreAdj"] = json!(100);
    rich["process"]["scheduler"] = json!({"policy": "SCHED_OTHER", "nice": 5});
    rich["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 4});
    rich["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/data", "type": "bind", "source": "/tmp",
                     "options": ["rbind", "ro", "rprivate"]}),
    );
    rich["hooks"] = json!({
        "prestart": [{"path": "/bin/true", "args": ["true"], "timeout": 5}],
        "poststop": [{"path": "/bin/true"}]
    });
    rich["annotations"] = json!({"a": "b"});
    let linux = &mut rich["linux"];
    linux["namespaces"] = json!([{"type": "pid"}, {"type": "mount"}, {"type": "uts"},
                                 {"type": "ipc"}, {"type": "network"}, {"type": "cgroup"},
                                 {"type": "user"}, {"type": "time"}]);
    linux["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    linux["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    linux["timeOffsets"] = json!({"monotonic": {"secs": 1, "nanosecs": 0}});
    linux["sysctl"] = json!({"kernel.shmmax": "1000", "net.ipv4.ip_forward": "1"});
    linux["devices"] = json!([{"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11,
                               "fileMode": 420, "uid": 0, "gid": 0}]);
    linux["resources"] = json!({
        "devices": [{"allow": false, "access": "rwm"},
                    {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"}],
        "memory": {"limit": 104857600, "swap": 209715200},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0"},
        "pids": {"limit": 100},
        "unified": {"memory.high": "max"}
    });
    linux["cgroupsPath"] = json!("/rt-fuzz/x");
    linux["rootfsPropagation"] = json!("rslave");
    linux["personality"] = json!({"domain": "LINUX"});
    linux["seccomp"] = docker.clone();
    let mut with_podman = default_spec_json(true);
    with_podman["linux"]["seccomp"] = podman;
    [
        default_spec_json(false),
        default_spec_json(true),
        rich,
        with_podman,
    ]
    .iter()
    .map(|v| serde_json::to_vec_pretty(v).unwrap())
    .collect()
}

fn check(text: &[u8]) -> Result<(), String> {
    let result = parse(text).and_then(|spec| validate(&spec));
    match result {
        Ok(()) => Ok(()),
        Err(e) => {
            let msg = e.to_string();
            if msg.trim().is_empty() {
                Err("refused with an empty message".into())
            } else if msg.contains("internal") {
                Err(format!("internal error: {msg}"))
            } else {
                Ok(())
            }
        }
    }
}

#[test]
fn fuzz_config_parse_and_validate() {
    let mut fuzzer = Fuzzer::new("config", "json", check);
    if fuzzer.replay() {
        return;
    }
    let seed = seed();
    eprintln!("fuzz config: seed {seed}, {:?}", budget());
    let seeds = seeds();
    for s in &seeds {
        fuzzer.run(s);
        assert_eq!(check(s), Ok(()));
    }
    let mutator = JsonMutator {
        keys: KEYS,
        words: WORDS,
    };
    let mut rng = Rng::new(seed);
    let end = Instant::now() + budget();
    let mut previous: Option<Vec<u8>> = None;
    while Instant::now() < end {
        // Usually a fresh seed; sometimes keep mutating the last input.
        let base = match previous.take() {
            Some(p) if p.len() < 1 << 16 && rng.chance(40) => p,
            _ => rng.pick(&seeds).clone(),
        };
        let input = mutator.mutate(&mut rng, &base);
        fuzzer.run(&input);
        previous = Some(input);
    }
    fuzzer.report(seed);
}
