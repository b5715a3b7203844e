//! linux.seccomp as the container process sees it.

use crate::common::*;

/// A profile that allows everything except `mkdir`/`mkdirat` (EPERM).
fn deny_mkdir() -> serde_json::Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}
        ]
    })
}

const PROBE: &str = "mkdir /dev/probe 2>/dev/null && echo made || echo refused";

#[test]
fn filter_applies_with_no_new_privileges() {
    let ctx = TestCtx::new("seccomp::nnp");
    let mut b = ctx.bundle();
    b.set("/process/noNewPrivileges", json!(true))
        .set("/linux/seccomp", deny_mkdir())
        .sh(PROBE);
    assert_eq!(ctx.output_of(&mut b, "nnp").trim(), "refused");
}

/// Without no_new_privs the kernel wants CAP_SYS_ADMIN to load a filter,
/// and the default capability set lacks it: the filter must be loaded
/// before capabilities are dropped.
#[test]
fn filter_applies_without_no_new_privileges() {
    let ctx = TestCtx::new("seccomp::no_nnp");
    let mut b = ctx.bundle();
    b.set("/process/noNewPrivileges", json!(false))
        .set("/linux/seccomp", deny_mkdir())
        .sh(PROBE);
    assert_eq!(ctx.output_of(&mut b, "nonnp").trim(), "refused");
}

/// The runtime's own cwd check (CVE-2024-21626) must not run under the
/// filter: a profile refusing getcwd still starts the process.
#[test]
fn profile_denying_getcwd_still_starts() {
    let ctx = TestCtx::new("seccomp::getcwd");
    let mut b = ctx.bundle();
    b.set("/process/noNewPrivileges", json!(false))
        .set(
            "/linux/seccomp",
            json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [
                    {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}
                ]
            }),
        )
        .args(&["echo", "started"]);
    assert_eq!(ctx.output_of(&mut b, "getcwd").trim(), "started");
}

/// `exec` gets the container's filter too, also without no_new_privs.
#[test]
fn exec_process_gets_the_filter_without_no_new_privileges() {
    let ctx = TestCtx::new("seccomp::exec");
    let mut b = ctx.bundle();
    b.set("/process/noNewPrivileges", json!(false))
        .set("/linux/seccomp", deny_mkdir())
        .args(&["sleep", "1000"]);
    let id = ctx.id("execfilter");
    ctx.create(&mut b, &id).ok();
    ctx.start(&id).ok();
    let out = ctx.rt(&["exec", &id, "sh", "-c", PROBE]);
    out.ok();
    assert_eq!(out.stdout.trim(), "refused");
    ctx.delete_force(&id).ok();
    ctx.assert_nothing_left(&id);
}

/// `create` with `b`'s config must fail with status 1, leave nothing, and
/// say `says` (runc's words where it has them).
fn create_refused(ctx: &TestCtx, b: &mut Bundle, label: &str, says: &str) {
    let id = ctx.id(label);
    let out = ctx.create(b, &id);
    out.fails_with(1);
    if !testing_runc() || says == "listenerPath is not set" {
        out.stderr_has(says);
    }
    ctx.assert_nothing_left(&id);
}

/// An SCMP_ACT_NOTIFY rule needs a seccomp agent at listenerPath to get
/// the notify fd; without one runc refuses the container ("listenerPath is
/// not set"), and so does rt, before anything is made.
#[test]
fn notify_without_listener_path_is_refused_at_create() {
    let ctx = TestCtx::new("seccomp::notify_no_listener");
    let mut b = ctx.bundle();
    b.set(
        "/linux/seccomp",
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]
        }),
    )
    .args(&["true"]);
    create_refused(&ctx, &mut b, "notify", "listenerPath is not set");
}

/// A profile whose program exceeds the kernel's 4096 instructions fails
/// create with the size in words, not an internal error or a bare EINVAL
/// from seccomp(2) inside the container init.
#[test]
fn profile_too_large_for_the_kernel_is_refused_at_create() {
    let ctx = TestCtx::new("seccomp::too_large");
    let rules: Vec<_> = (0..1500)
        .map(|i| {
            json!({"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                   "args": [{"index": 0, "value": i, "op": "SCMP_CMP_EQ"}]})
        })
        .collect();
    let mut b = ctx.bundle();
    b.set(
        "/linux/seccomp",
        json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": rules}),
    )
    .args(&["true"]);
    create_refused(
        &ctx,
        &mut b,
        "toolarge",
        "instructions; the kernel allows 4096",
    );
}
