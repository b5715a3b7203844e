//! Bad profiles are refused with the offending field named.

use serde_json::json;

use super::*;
use crate::seccomp::{SeccompError, parse_json};

fn compile_err(v: serde_json::Value) -> String {
    compile(&profile(v))
        .expect_err("profile must be refused")
        .to_string()
}

fn parse_err(v: serde_json::Value) -> String {
    parse_json(&v.to_string())
        .expect_err("profile must not parse")
        .to_string()
}

#[test]
fn unknown_syscall_name_is_named() {
    let msg = compile_err(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                     {"names": ["write", "close", "foo"], "action": "SCMP_ACT_ALLOW"}]
    }));
    assert_eq!(
        msg,
        r#"linux.seccomp.syscalls[1].names[2]: unknown syscall "foo""#
    );
    let msg = compile_err(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": [""], "action": "SCMP_ACT_ALLOW"}]
    }));
    assert_eq!(
        msg,
        r#"linux.seccomp.syscalls[0].names[0]: unknown syscall """#
    );
}

#[test]
fn arg_index_out_of_range() {
    let msg = compile_err(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                      "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                               {"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]
    }));
    assert_eq!(
        msg,
        "linux.seccomp.syscalls[0].args[1].index: 6 is not a syscall argument index (0..=5)"
    );
}

#[test]
fn bad_op_action_arch_and_flag_are_named_by_the_parser() {
    let msg = parse_err(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                     {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                      "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ALMOST"}]}]
    }));
    assert!(
        msg.starts_with("linux.seccomp.syscalls[1].args[0].op: unknown variant `SCMP_CMP_ALMOST`"),
        "{msg}"
    );

    let msg = parse_err(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_EXPLODE"}]
    }));
    assert!(
        msg.starts_with("linux.seccomp.syscalls[0].action: unknown variant `SCMP_ACT_EXPLODE`"),
        "{msg}"
    );

    let msg = parse_err(json!({"defaultAction": "SCMP_ACT_NOPE"}));
    assert!(
        msg.starts_with("linux.seccomp.defaultAction: unknown variant"),
        "{msg}"
    );

    let msg = parse_err(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_Z80"]
    }));
    assert!(
        msg.starts_with("linux.seccomp.architectures[1]: unknown variant `SCMP_ARCH_Z80`"),
        "{msg}"
    );

    let msg = parse_err(
        json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_FAST"]}),
    );
    assert!(
        msg.starts_with("linux.seccomp.flags[0]: unknown variant"),
        "{msg}"
    );
}

#[test]
fn notify_misuse_and_oversized_errno_are_refused() {
    let msg = compile_err(json!({"defaultAction": "SCMP_ACT_NOTIFY"}));
    assert_eq!(
        msg,
        "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action"
    );

    let msg = compile_err(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_NOTIFY"}]
    }));
    assert!(
        msg.starts_with(
            "linux.seccomp.syscalls[0].names[1]: SCMP_ACT_NOTIFY cannot be used for the write"
        ),
        "{msg}"
    );

    // libseccomp (so runc) takes errnos below MAX_ERRNO only; 4094 works.
    let errno_ret = |e: u32| {
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": e}]
        })
    };
    compile_ok(errno_ret(4094));
    for e in [4095, 70000] {
        assert_eq!(
            compile_err(errno_ret(e)),
            format!(
                "linux.seccomp.syscalls[0].errnoRet: {e} is not an errno SCMP_ACT_ERRNO can return (0..=4094)"
            )
        );
    }
    let msg = compile_err(json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 4095}));
    assert!(
        msg.starts_with("linux.seccomp.defaultErrnoRet: 4095 is not an errno"),
        "{msg}"
    );
    // SCMP_ACT_TRACE's data is a ptrace message, any 16 bits.
    compile_ok(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_TRACE", "errnoRet": 65535}]
    }));
    let msg = compile_err(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_TRACE", "errnoRet": 70000}]
    }));
    assert_eq!(
        msg,
        "linux.seccomp.syscalls[0].errnoRet: 70000 does not fit the 16-bit seccomp return data"
    );

    let msg = compile_err(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]
    }));
    assert!(
        msg.starts_with("linux.seccomp.flags[1]: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs"),
        "{msg}"
    );
}

#[test]
fn errors_carry_the_field_separately() {
    let err = compile(&profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["nope"], "action": "SCMP_ACT_ERRNO"}]
    })))
    .unwrap_err();
    match err {
        SeccompError::Config { field, .. } => {
            assert_eq!(field, "linux.seccomp.syscalls[0].names[0]")
        }
        other => panic!("unexpected {other:?}"),
    }
}

/// A profile longer than BPF_MAXINSNS says so, with the length, instead of
/// failing as an internal error or at seccomp(2) with EINVAL.
#[test]
fn profile_too_long_for_the_kernel_says_so() {
    let rules: Vec<_> = (0..1500)
        .map(|i| {
            json!({"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                   "args": [{"index": 0, "value": i, "op": "SCMP_CMP_EQ"}]})
        })
        .collect();
    let err = compile(&profile(
        json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": rules}),
    ))
    .unwrap_err();
    let SeccompError::Config { field, message } = &err else {
        panic!("not a config error: {err:?}");
    };
    assert_eq!(field, "linux.seccomp");
    let n: usize = message
        .strip_prefix("seccomp profile compiles to ")
        .and_then(|m| m.strip_suffix(" instructions; the kernel allows 4096"))
        .unwrap_or_else(|| panic!("{message}"))
        .parse()
        .unwrap();
    assert!(n > 4096, "{n}");
    // 600 such rules still fit.
    let fits: Vec<_> = (0..600)
        .map(|i| {
            json!({"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                   "args": [{"index": 0, "value": i, "op": "SCMP_CMP_EQ"}]})
        })
        .collect();
    compile_ok(json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": fits}));
}
