//! The libseccomp side: the C helper (export.c) that builds a filter as
//! runc 1.1 does and exports its BPF, and the profile text it reads.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction as Act, LinuxSeccompOperator as Op,
};
use serde_json::Value;

use crate::seccomp::syscalls;

const HELPER_SOURCE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/src/seccomp/tests/libseccomp/export.c"
);

// libseccomp's action values (seccomp.h), written out so that the oracle
// does not share rt's constants.
const SCMP_ACT_KILL_PROCESS: u32 = 0x8000_0000;
const SCMP_ACT_KILL_THREAD: u32 = 0x0000_0000;
const SCMP_ACT_TRAP: u32 = 0x0003_0000;
const SCMP_ACT_ERRNO: u32 = 0x0005_0000;
const SCMP_ACT_TRACE: u32 = 0x7ff0_0000;
const SCMP_ACT_LOG: u32 = 0x7ffc_0000;
const SCMP_ACT_NOTIFY: u32 = 0x7fc0_0000;
const SCMP_ACT_ALLOW: u32 = 0x7fff_0000;
pub(super) const ENOSYS_RET: u32 = SCMP_ACT_ERRNO | libc::ENOSYS as u32;

/// The helper, compiled once per test process next to the test binary.
fn helper() -> &'static Path {
    static HELPER: OnceLock<PathBuf> = OnceLock::new();
    HELPER.get_or_init(|| {
        let exe = std::env::current_exe().expect("test binary path");
        let dir = exe.parent().expect("test binary directory");
        let out = dir.join("libseccomp-export");
        // Built under a private name and renamed: test processes running
        // at once must never exec a half-written binary.
        let tmp = dir.join(format!("libseccomp-export.{}", std::process::id()));
        let result = Command::new("cc")
            .args(["-O1", "-Wall", "-o"])
            .arg(&tmp)
            .arg(HELPER_SOURCE)
            .arg("-lseccomp")
            .output()
            .expect("running cc: the differential test needs a C compiler");
        assert!(
            result.status.success(),
            "compiling {HELPER_SOURCE} failed (is libseccomp-dev installed? hack/deps.sh installs it):\n{}",
            String::from_utf8_lossy(&result.stderr)
        );
        std::fs::rename(&tmp, &out).expect("renaming the helper");
        out
    })
}

/// libseccomp's number of every name rt knows, per ABI `[x86_64, x86, x32]`
/// (x32 with the x32 bit; -1: libseccomp does not know the name; other
/// negative values: a pseudo number, i.e. not a syscall of that ABI).
pub(super) fn libseccomp_numbers() -> &'static HashMap<&'static str, [i64; 3]> {
    static NUMBERS: OnceLock<HashMap<&'static str, [i64; 3]>> = OnceLock::new();
    NUMBERS.get_or_init(|| {
        let names: Vec<&'static str> = syscalls::all_names().collect();
        let out = run_helper("resolve", &names.join("\n"));
        let text = String::from_utf8(out).unwrap();
        let mut map = HashMap::new();
        for line in text.lines() {
            let f: Vec<&str> = line.split(' ').collect();
            let name = *names.iter().find(|n| **n == f[0]).unwrap();
            let nr = |i: usize| f[i].parse::<i64>().unwrap();
            map.insert(name, [nr(1), nr(2), nr(3)]);
        }
        assert_eq!(map.len(), names.len(), "every name resolved");
        map
    })
}

pub(super) fn libseccomp_knows(name: &str) -> bool {
    libseccomp_numbers().get(name).is_some_and(|n| n[0] != -1)
}

fn run_helper(mode: &str, input: &str) -> Vec<u8> {
    let mut child = Command::new(helper())
        .arg(mode)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting the libseccomp helper");
    // Written from a thread: the output may fill its pipe before all the
    // input is read.
    let mut stdin = child.stdin.take().unwrap();
    let owned = input.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(owned.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "libseccomp helper {mode} failed: {}\ninput:\n{input}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// runc's getAction: the SCMP_ACT value of an OCI action.
pub(super) fn runc_action(action: Act, errno_ret: Option<u32>) -> u32 {
    let data = errno_ret.map_or(libc::EPERM as u32, |e| e & 0xffff);
    match action {
        Act::ScmpActKill | Act::ScmpActKillThread => SCMP_ACT_KILL_THREAD,
        Act::ScmpActKillProcess => SCMP_ACT_KILL_PROCESS,
        Act::ScmpActTrap => SCMP_ACT_TRAP,
        Act::ScmpActErrno => SCMP_ACT_ERRNO | data,
        Act::ScmpActTrace => SCMP_ACT_TRACE | data,
        Act::ScmpActLog => SCMP_ACT_LOG,
        Act::ScmpActNotify => SCMP_ACT_NOTIFY,
        Act::ScmpActAllow => SCMP_ACT_ALLOW,
    }
}

/// SCMP_CMP_* (seccomp.h).
fn scmp_cmp(op: Op) -> u32 {
    match op {
        Op::ScmpCmpNe => 1,
        Op::ScmpCmpLt => 2,
        Op::ScmpCmpLe => 3,
        Op::ScmpCmpEq => 4,
        Op::ScmpCmpGe => 5,
        Op::ScmpCmpGt => 6,
        Op::ScmpCmpMaskedEq => 7,
    }
}

/// The helper's profile text: one rule line per name, as runc's
/// configs.Syscall list has them.
fn describe(cfg: &LinuxSeccomp) -> String {
    let mut out = format!(
        "default {}\n",
        runc_action(cfg.default_action(), cfg.default_errno_ret())
    );
    for arch in cfg.architectures().iter().flatten() {
        let name = match arch {
            Arch::ScmpArchX86_64 => "x86_64",
            Arch::ScmpArchX86 => "x86",
            Arch::ScmpArchX32 => "x32",
            _ => continue, // deviation 2
        };
        writeln!(out, "arch {name}").unwrap();
    }
    for call in cfg.syscalls().iter().flatten() {
        let action = runc_action(call.action(), call.errno_ret());
        let args = call.args().clone().unwrap_or_default();
        for name in call.names() {
            write!(out, "rule {action} {name} {}", args.len()).unwrap();
            for a in &args {
                write!(
                    out,
                    " {} {} {} {}",
                    a.index(),
                    scmp_cmp(a.op()),
                    a.value(),
                    a.value_two().unwrap_or(0)
                )
                .unwrap();
            }
            out.push('\n');
        }
    }
    out
}

pub(super) fn libseccomp_program(cfg: &LinuxSeccomp) -> Vec<libc::sock_filter> {
    let bytes = run_helper("export", &describe(cfg));
    assert_eq!(bytes.len() % 8, 0, "BPF is whole instructions");
    bytes
        .chunks_exact(8)
        .map(|c| libc::sock_filter {
            code: u16::from_le_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_le_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect()
}

/// Deviation 1: the profile without the names libseccomp does not know.
pub(super) fn without_names_unknown_to_libseccomp(v: &Value) -> (Value, Vec<String>) {
    let mut v = v.clone();
    let mut dropped = Vec::new();
    if let Some(calls) = v["syscalls"].as_array_mut() {
        for call in calls.iter_mut() {
            let names = call["names"].as_array_mut().unwrap();
            names.retain(|n| {
                let n = n.as_str().unwrap();
                let keep = libseccomp_knows(n);
                if !keep {
                    dropped.push(n.to_string());
                }
                keep
            });
        }
        calls.retain(|c| !c["names"].as_array().unwrap().is_empty());
    }
    dropped.sort();
    dropped.dedup();
    (v, dropped)
}
