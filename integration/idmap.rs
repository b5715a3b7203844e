//! Idmapped bind mounts (runtime-spec 1.1 mount `uidMappings` /
//! `gidMappings`, the `idmap` / `ridmap` options) and bind sources only
//! the host's root can reach, in containers with and without a user
//! namespace.

use crate::common::*;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// A host directory owned by `uid:gid` with mode 0755.
fn host_dir(p: &Path, uid: u32, gid: u32) {
    fs::create_dir_all(p).unwrap();
    fs::set_permissions(p, fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::chown(p, Some(uid), Some(gid)).unwrap();
}

fn owner(p: &Path) -> String {
    let m = fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    format!("{}:{}", m.uid(), m.gid())
}

fn one_map(container: u32, host: u32, size: u32) -> Value {
    json!([{"containerID": container, "hostID": host, "size": size}])
}

/// A new user namespace mapping container ids 0..65536 to host 100000...,
/// with mount points made in the rootfs (host root's, which the
/// container's root may not write).
fn with_userns(b: &mut Bundle, mount_points: &[&str]) {
    for d in mount_points {
        fs::create_dir_all(b.rootfs().join(d)).unwrap();
    }
    b.namespace("user", None)
        .set("/linux/uidMappings", one_map(0, 100000, 65536))
        .set("/linux/gidMappings", one_map(0, 100000, 65536))
        // A v1 cgroup bind mount is not allowed from a new user namespace.
        .without_mount("/sys/fs/cgroup");
}

fn line<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
        .unwrap_or_else(|| panic!("container output lacks {key}=:\n{out}"))
}

/// Without a container user namespace: a directory owned by 1000 on the
/// host shows as 2000 through a mount mapping 1000 to 2000, and what uid
/// 2000 creates there lands on the host as 1000.
#[test]
fn idmapped_bind_maps_owners_without_userns() {
    if skip_rt_only("idmap::no_userns", "runc 1.1.5 has no idmapped mounts") {
        return;
    }
    let ctx = TestCtx::new("idmap::no_userns");
    let vol = ctx.dir.join("vol");
    host_dir(&vol, 1000, 1000);
    fs::write(vol.join("old"), "x").unwrap();
    std::os::unix::fs::chown(vol.join("old"), Some(1000), Some(1000)).unwrap();
    let mut b = ctx.bundle();
    b.mount(
        json!({"destination": "/vol", "type": "bind", "source": path(&vol),
        "options": ["bind", "idmap"],
        "uidMappings": one_map(1000, 2000, 1), "gidMappings": one_map(1000, 2000, 1)}),
    )
    .user(2000, 2000, &[])
    .sh(
        "echo vol=$(stat -c %u:%g /vol); echo old=$(stat -c %u:%g /vol/old); \
             touch /vol/made && echo made=ok",
    );
    let out = ctx.output_of(&mut b, "idm");
    assert_eq!(line(&out, "vol"), "2000:2000", "{out}");
    assert_eq!(line(&out, "old"), "2000:2000", "{out}");
    assert_eq!(line(&out, "made"), "ok", "{out}");
    assert_eq!(owner(&vol.join("made")), "1000:1000");
    // The mapping belongs to the container's mount only.
    assert_eq!(owner(&vol), "1000:1000");
}

/// What Kubernetes user namespaces ask of containerd: the container's
/// root is host 100000, and volumes owned by host ids are mapped through
/// the same mapping (given on the mount, or by `ridmap` alone, which takes
/// the container's). Ids show inside as they are on disk, and files the
/// container's root creates belong to the host's root.
#[test]
fn idmapped_binds_in_a_user_namespace() {
    if skip_rt_only("idmap::userns", "runc 1.1.5 has no idmapped mounts") {
        return;
    }
    let ctx = TestCtx::new("idmap::userns");
    let vol = ctx.dir.join("vol");
    host_dir(&vol, 1000, 1000);
    // The container's root has no CAP_DAC_OVERRIDE: let it write here.
    fs::set_permissions(&vol, fs::Permissions::from_mode(0o777)).unwrap();
    let vol2 = ctx.dir.join("vol2");
    host_dir(&vol2, 0, 0);
    let mut b = ctx.bundle();
    with_userns(&mut b, &["vol", "vol2"]);
    b.mount(
        json!({"destination": "/vol", "type": "bind", "source": path(&vol),
        "options": ["rbind", "idmap"],
        "uidMappings": one_map(0, 100000, 65536), "gidMappings": one_map(0, 100000, 65536)}),
    )
    .mount(
        json!({"destination": "/vol2", "type": "bind", "source": path(&vol2),
            "options": ["rbind", "ridmap"]}),
    )
    .sh(
        "echo vol=$(stat -c %u:%g /vol); echo vol2=$(stat -c %u:%g /vol2); \
             touch /vol/made && echo made=ok; touch /vol2/made && echo made2=ok",
    );
    let out = ctx.output_of(&mut b, "idmu");
    assert_eq!(line(&out, "vol"), "1000:1000", "{out}");
    assert_eq!(line(&out, "vol2"), "0:0", "{out}");
    assert_eq!(line(&out, "made"), "ok", "{out}");
    assert_eq!(line(&out, "made2"), "ok", "{out}");
    assert_eq!(owner(&vol.join("made")), "0:0");
    assert_eq!(owner(&vol2.join("made")), "0:0");
}

/// A Kubernetes pod with user namespaces under containerd: the sandbox
/// makes the user namespace, and each container of the pod joins it by
/// path with new mount, pid and uts namespaces, which must belong to the
/// joined user namespace (its root sets the hostname and mounts there),
/// and its volumes idmapped through it (`idmap` without mappings of its
/// own means the joined namespace). runc 1.1.5 runs such a container too,
/// without the idmapped volume.
#[test]
fn pod_container_joins_the_sandbox_user_namespace() {
    if skip_rt_only("idmap::pod", "runc 1.1.5 has no idmapped mounts") {
        return;
    }
    let ctx = TestCtx::new("idmap::pod");
    let mut sandbox = ctx.bundle();
    with_userns(&mut sandbox, &[]);
    sandbox.args(&["sleep", "1000"]);
    let sandbox_id = ctx.id("sandbox");
    ctx.create(&mut sandbox, &sandbox_id).ok();
    let pid = ctx.state(&sandbox_id)["pid"].as_i64().unwrap();
    let userns = format!("/proc/{pid}/ns/user");
    let vol = ctx.dir.join("vol");
    host_dir(&vol, 1000, 1000);
    fs::set_permissions(&vol, fs::Permissions::from_mode(0o777)).unwrap();

    let mut b = ctx.bundle();
    with_userns(&mut b, &["vol"]);
    b.namespace("user", Some(&userns))
        .hostname("app")
        .mount(
            json!({"destination": "/vol", "type": "bind", "source": path(&vol),
            "options": ["rbind", "idmap"]}),
        )
        .sh(
            "echo map=$(cat /proc/self/uid_map | tr -s ' ' | sed 's/^ //'); \
             echo user=$(readlink /proc/self/ns/user); echo host=$(hostname); echo pid=$$; \
             echo vol=$(stat -c %u:%g /vol); touch /vol/made && echo made=ok",
        );
    let out = ctx.output_of(&mut b, "app");
    assert_eq!(line(&out, "map"), "0 100000 65536", "{out}");
    assert_eq!(
        line(&out, "user"),
        fs::read_link(&userns).unwrap().to_string_lossy(),
        "{out}"
    );
    assert_eq!(line(&out, "host"), "app", "{out}");
    assert_eq!(line(&out, "pid"), "1", "{out}");
    assert_eq!(line(&out, "vol"), "1000:1000", "{out}");
    assert_eq!(line(&out, "made"), "ok", "{out}");
    assert_eq!(owner(&vol.join("made")), "0:0");
    ctx.delete_force(&sandbox_id).ok();
    ctx.assert_nothing_left(&sandbox_id);
}

/// Issue 9 class 10: rt opens bind sources as the host's root, so a
/// source under a directory only root may enter (mode 0700) is bound
/// into a container whose root is an unprivileged host id (runc 1.1.5
/// does the same).
#[test]
fn root_only_bind_source_in_a_user_namespace() {
    let ctx = TestCtx::new("idmap::root_only_source");
    let secret = ctx.dir.join("secret");
    fs::create_dir(&secret).unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o700)).unwrap();
    let data = secret.join("data");
    host_dir(&data, 0, 0);
    fs::write(data.join("f"), "hello").unwrap();
    fs::set_permissions(data.join("f"), fs::Permissions::from_mode(0o644)).unwrap();
    let mut b = ctx.bundle();
    with_userns(&mut b, &["data"]);
    b.mount(
        json!({"destination": "/data", "type": "bind", "source": path(&data),
        "options": ["rbind", "ro"]}),
    )
    .sh("echo f=$(cat /data/f); touch /data/x 2>/dev/null || echo ro=yes");
    let out = ctx.output_of(&mut b, "rootonly");
    assert_eq!(line(&out, "f"), "hello", "{out}");
    assert_eq!(line(&out, "ro"), "yes", "{out}");
}

/// Host mounts under a bind source stay locked for a container with a
/// user namespace (rt opens the sources in the container's mount
/// namespace, where the kernel locked the copies of the host's mounts):
/// its root, even with CAP_SYS_ADMIN, cannot unmount a submount to see
/// what it covers, nor make a host read-only mount writable (as runc).
/// An idmapped bind keeps them too (not with runc 1.1.5: no idmap).
#[test]
fn binds_in_a_user_namespace_keep_host_mount_locks() {
    let ctx = TestCtx::new("idmap::locks");
    let vol = ctx.dir.join("vol");
    host_dir(&vol, 0, 0);
    let sub = vol.join("sub");
    host_dir(&sub, 0, 0);
    fs::write(sub.join("hidden"), "SECRET").unwrap();
    let ro = ctx.dir.join("ro");
    host_dir(&ro, 0, 0);
    let mount = |args: &[&str]| {
        let st = std::process::Command::new("mount")
            .args(args)
            .status()
            .unwrap();
        assert!(st.success(), "mount {args:?}");
    };
    mount(&["-t", "tmpfs", "tmpfs", path(&sub)]);
    mount(&["-t", "tmpfs", "-o", "ro", "tmpfs", path(&ro)]);
    let mut b = ctx.bundle();
    with_userns(&mut b, &["vol", "ro", "vol2"]);
    let bind = |dest: &str, src: &Path, opts: &[&str]| json!({"destination": dest, "type": "bind", "source": path(src), "options": opts});
    b.mount(bind("/vol", &vol, &["rbind"]))
        .mount(bind("/ro", &ro, &["rbind"]));
    let mut script = String::from(
        "umount /vol/sub 2>/dev/null; echo hidden=$(cat /vol/sub/hidden 2>/dev/null); \
         mount -o remount,bind,rw /ro 2>/dev/null; echo remount=$?; ",
    );
    let idmap = !testing_runc();
    if idmap {
        b.mount(bind("/vol2", &vol, &["rbind", "ridmap"]));
        script.push_str(
            "umount /vol2/sub 2>/dev/null; echo hidden2=$(cat /vol2/sub/hidden 2>/dev/null)",
        );
    }
    b.caps("bounding", &["CAP_SYS_ADMIN"])
        .caps("effective", &["CAP_SYS_ADMIN"])
        .caps("permitted", &["CAP_SYS_ADMIN"])
        .sh(&script);
    let id = ctx.id("locks");
    let out = ctx.run(&mut b, &id);
    let _ = std::process::Command::new("umount").arg(&sub).status();
    let _ = std::process::Command::new("umount").arg(&ro).status();
    out.ok();
    assert_eq!(line(&out.stdout, "hidden"), "", "{}", out.stdout);
    assert_ne!(line(&out.stdout, "remount"), "0", "{}", out.stdout);
    if idmap {
        assert_eq!(line(&out.stdout, "hidden2"), "", "{}", out.stdout);
    }
    ctx.assert_nothing_left(&id);
}

/// Bad idmapped mounts fail `create` with exit 1, naming the field, and
/// leave nothing behind.
#[test]
fn bad_idmapped_mounts_name_the_field() {
    if skip_rt_only("idmap::errors", "runc 1.1.5 ignores mount idmaps") {
        return;
    }
    let ctx = TestCtx::new("idmap::errors");
    let vol = ctx.dir.join("vol");
    host_dir(&vol, 0, 0);
    let cases: [(&str, Value, &str); 3] = [
        (
            "nogid",
            json!({"options": ["rbind"], "uidMappings": one_map(0, 1000, 1)}),
            ".gidMappings: must be set with uidMappings",
        ),
        (
            "nouserns",
            json!({"options": ["rbind", "idmap"]}),
            ".options[1]: without uidMappings and gidMappings",
        ),
        (
            "overlap",
            json!({"options": ["rbind"],
                "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 10},
                                {"containerID": 5, "hostID": 5000, "size": 1}],
                "gidMappings": one_map(0, 1000, 1)}),
            ".uidMappings[1]: its containerID range overlaps",
        ),
    ];
    for (label, extra, want) in cases {
        let mut b = ctx.bundle();
        let mut m = json!({"destination": "/vol", "type": "bind", "source": path(&vol)});
        for (k, v) in extra.as_object().unwrap() {
            m[k] = v.clone();
        }
        b.mount(m);
        let n = b.get("/mounts").unwrap().as_array().unwrap().len() - 1;
        b.save();
        let id = ctx.id(label);
        let out = ctx.rt(&["create", "-b", path(&b.dir), &id]);
        out.fails_with(1).stderr_has(&format!("mounts[{n}]{want}"));
        ctx.assert_nothing_left(&id);
    }
}

/// `features` lists the idmap options and `idmap.enabled` where idmapped
/// binds work (this host: kernel ≥ 5.12, an ext4 or tmpfs /), and then an
/// idmapped bind of the test directory must work too.
#[test]
fn features_report_idmap_as_it_works() {
    if skip_rt_only("idmap::features", "runc 1.1.5 has no idmapped mounts") {
        return;
    }
    let ctx = TestCtx::new("idmap::features");
    let out = ctx.rt(&["features"]);
    out.ok();
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    let enabled = v["linux"]["mountExtensions"]["idmap"]["enabled"].as_bool();
    let opts: Vec<&str> = v["mountOptions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(enabled, Some(true), "idmap not enabled on this kernel");
    assert!(
        opts.contains(&"idmap") && opts.contains(&"ridmap"),
        "{opts:?}"
    );
    let vol = ctx.dir.join("vol");
    host_dir(&vol, 1000, 1000);
    let mut b = ctx.bundle();
    b.mount(
        json!({"destination": "/vol", "type": "bind", "source": path(&vol),
        "options": ["rbind", "ridmap"],
        "uidMappings": one_map(1000, 0, 1), "gidMappings": one_map(1000, 0, 1)}),
    )
    .sh("echo vol=$(stat -c %u:%g /vol)");
    assert_eq!(line(&ctx.output_of(&mut b, "feat"), "vol"), "0:0");
}
