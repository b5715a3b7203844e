//! linux.resources as written into the container's cgroups, read from the host.

use crate::common::*;
use std::fs;

fn v1_file(ctx: &TestCtx, id: &str, controller: &str, file: &str) -> Option<std::path::PathBuf> {
    let p = std::path::Path::new("/sys/fs/cgroup")
        .join(controller)
        .join(ctx.cgroups_path(id).trim_start_matches('/'))
        .join(file);
    p.exists().then_some(p)
}

#[test]
fn v1_memory_limits_and_kernel_tcp() {
    if skip_rt_only(
        "resources::memory_v1",
        "runc 1.1.5 leaves memory.kernelTCP unset",
    ) {
        return;
    }
    let ctx = TestCtx::new("resources::memory_v1");
    if !std::path::Path::new("/sys/fs/cgroup/memory/memory.kmem.tcp.limit_in_bytes").exists() {
        eprintln!("note: no v1 memory.kmem.tcp here; skipping");
        return;
    }
    let mut b = ctx.bundle();
    b.set(
        "/linux/resources/memory",
        json!({"limit": 64 << 20, "kernelTCP": 48 << 20, "swappiness": 10}),
    )
    .args(&["sleep", "1000"]);
    let id = ctx.id("mem");
    ctx.create(&mut b, &id).ok();
    let read = |file: &str| {
        let p = v1_file(&ctx, &id, "memory", file)
            .unwrap_or_else(|| panic!("{file} missing in the container's memory cgroup"));
        fs::read_to_string(p).unwrap().trim().to_string()
    };
    assert_eq!(read("memory.limit_in_bytes"), (64u64 << 20).to_string());
    assert_eq!(
        read("memory.kmem.tcp.limit_in_bytes"),
        (48u64 << 20).to_string()
    );
    assert_eq!(read("memory.swappiness"), "10");
    ctx.delete_force(&id).ok();
    ctx.assert_nothing_left(&id);
}
