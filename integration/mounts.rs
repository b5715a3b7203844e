//! Mounts, the root filesystem, devices, masked and read-only paths,
//! checked from inside the container.

use crate::common::*;
use std::fs;
use std::path::{Path, PathBuf};

/// The mountinfo line for `target` as printed by the container (`grep`).
fn mount_line<'a>(out: &'a str, target: &str) -> &'a str {
    out.lines()
        .find(|l| l.split(' ').nth(4) == Some(target))
        .unwrap_or_else(|| panic!("no mount at {target} in:\n{out}"))
}

/// Per-mount options (field 6) of a mountinfo line.
fn mount_opts(line: &str) -> Vec<&str> {
    line.split(' ').nth(5).unwrap_or("").split(',').collect()
}

/// A tmpfs mounted on the host for the duration of a test (for rbind).
struct HostTmpfs(PathBuf);

impl HostTmpfs {
    fn mount(at: &Path) -> HostTmpfs {
        fs::create_dir_all(at).unwrap();
        let st = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
            .arg(at)
            .status()
            .unwrap();
        assert!(st.success(), "mount tmpfs at {}", at.display());
        HostTmpfs(at.to_path_buf())
    }
}

impl Drop for HostTmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn read_only_bind_mount() {
    let ctx = TestCtx::new("mounts::bind_ro");
    let src = ctx.dir.join("src-ro");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("hello"), "from-host\n").unwrap();
    let mut b = ctx.bundle();
    b.mount(json!({"destination": "/data", "type": "bind", "source": path(&src), "options": ["bind", "ro"]}))
        .sh("cat /data/hello; touch /data/new 2>&1 && echo WROTE; grep ' /data ' /proc/self/mountinfo");
    let out = ctx.output_of(&mut b, "bindro");
    assert!(out.contains("from-host"), "bind source not visible:\n{out}");
    assert!(!out.contains("WROTE"), "write to ro bind succeeded:\n{out}");
    assert!(
        out.contains("Read-only file system"),
        "expected EROFS:\n{out}"
    );
    assert!(mount_opts(mount_line(&out, "/data")).contains(&"ro"));
    assert!(!src.join("new").exists());
}

#[test]
fn writable_bind_mount_writes_through() {
    let ctx = TestCtx::new("mounts::bind_rw");
    let src = ctx.dir.join("src-rw");
    fs::create_dir_all(&src).unwrap();
    let mut b = ctx.bundle();
    b.mount(json!({"destination": "/data", "type": "bind", "source": path(&src), "options": ["rbind", "rw"]}))
        .sh("echo from-container > /data/out");
    ctx.output_of(&mut b, "bindrw");
    assert_eq!(
        fs::read_to_string(src.join("out")).unwrap(),
        "from-container\n"
    );
}

#[test]
fn rbind_carries_submounts_and_bind_does_not() {
    let ctx = TestCtx::new("mounts::rbind");
    let src = ctx.dir.join("src-tree");
    let sub = HostTmpfs::mount(&src.join("sub"));
    fs::write(sub.0.join("deep"), "in-submount\n").unwrap();
    let script = "cat /data/sub/deep 2>/dev/null || echo MISSING";

    let mut b = ctx.bundle();
    b.mount(
        json!({"destination": "/data", "type": "bind", "source": path(&src), "options": ["rbind"]}),
    )
    .sh(script);
    assert_eq!(ctx.output_of(&mut b, "rbind").trim(), "in-submount");

    let mut b = ctx.bundle();
    b.mount(
        json!({"destination": "/data", "type": "bind", "source": path(&src), "options": ["bind"]}),
    )
    .sh(script);
    assert_eq!(
        ctx.output_of(&mut b, "bind").trim(),
        "MISSING",
        "plain bind must not include submounts"
    );
    drop(sub);
}

#[test]
fn tmpfs_size_and_mode_options() {
    let ctx = TestCtx::new("mounts::tmpfs");
    let mut b = ctx.bundle();
    b.mount(json!({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m", "mode=0710"]}))
        .sh("stat -c mode=%a /scratch; \
             dd if=/dev/zero of=/scratch/big bs=1k count=2048 2>/dev/null && echo FITS || echo FULL; \
             grep ' /scratch ' /proc/self/mountinfo");
    let out = ctx.output_of(&mut b, "tmpfs");
    assert!(out.contains("mode=710"), "tmpfs mode not applied:\n{out}");
    assert!(out.contains("FULL"), "2 MiB fit in a size=1m tmpfs:\n{out}");
    let line = mount_line(&out, "/scratch");
    assert!(line.contains(" - tmpfs "), "not a tmpfs: {line}");
    assert!(line.contains("size=1024k"), "size option missing: {line}");
}

#[test]
fn nosuid_nodev_noexec_are_applied() {
    let ctx = TestCtx::new("mounts::flags");
    let mut b = ctx.bundle();
    b.mount(json!({"destination": "/flags", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "noexec", "mode=1777"]}))
        .mount(json!({"destination": "/plain", "type": "tmpfs", "source": "tmpfs", "options": ["mode=1777"]}))
        .sh("for d in /flags /plain; do cp /bin/busybox $d/true; $d/true 2>/dev/null && echo $d=EXEC || echo $d=NOEXEC; done; \
             grep -E ' /(flags|plain) ' /proc/self/mountinfo");
    let out = ctx.output_of(&mut b, "flags");
    assert!(out.contains("/flags=NOEXEC"), "noexec not enforced:\n{out}");
    assert!(
        out.contains("/plain=EXEC"),
        "control mount should allow exec:\n{out}"
    );
    let opts = mount_opts(mount_line(&out, "/flags"));
    for flag in ["nosuid", "nodev", "noexec"] {
        assert!(opts.contains(&flag), "{flag} missing from {opts:?}");
    }
    let plain = mount_opts(mount_line(&out, "/plain"));
    assert!(
        !plain.contains(&"noexec"),
        "control mount has noexec: {plain:?}"
    );
}

#[test]
fn mount_propagation_options() {
    let ctx = TestCtx::new("mounts::propagation");
    let src = ctx.dir.join("src-prop");
    fs::create_dir_all(&src).unwrap();
    let mut b = ctx.bundle();
    b.mount(json!({"destination": "/shared", "type": "bind", "source": path(&src), "options": ["rbind", "rshared"]}))
        .mount(json!({"destination": "/private", "type": "bind", "source": path(&src), "options": ["rbind", "rprivate"]}))
        .sh("grep -E ' /(shared|private) ' /proc/self/mountinfo");
    let out = ctx.output_of(&mut b, "prop");
    // Optional fields (between field 6 and " - ") carry shared:N / master:N.
    let optional = |line: &str| {
        line.split(" - ")
            .next()
            .unwrap()
            .split(' ')
            .skip(6)
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let shared = optional(mount_line(&out, "/shared"));
    assert!(
        shared.iter().any(|f| f.starts_with("shared:")),
        "rshared mount is not shared: {shared:?}"
    );
    let private = optional(mount_line(&out, "/private"));
    assert!(
        private.is_empty(),
        "rprivate mount has propagation tags: {private:?}"
    );
}

#[test]
fn readonly_root_refuses_writes() {
    let ctx = TestCtx::new("mounts::readonly_root");
    let mut b = ctx.bundle();
    b.readonly_root(true)
        .sh("touch /newfile 2>&1; echo rc=$?; grep ' / ' /proc/self/mountinfo");
    let out = ctx.output_of(&mut b, "ro");
    assert!(
        out.contains("Read-only file system"),
        "write to ro root not EROFS:\n{out}"
    );
    assert!(!out.contains("rc=0"));
    assert!(mount_opts(mount_line(&out, "/")).contains(&"ro"));

    let mut b = ctx.bundle();
    b.readonly_root(false).sh("touch /newfile && echo rc=$?");
    assert_eq!(ctx.output_of(&mut b, "rw").trim(), "rc=0");
    assert!(b.rootfs().join("newfile").exists());
}

/// pivot_root(".", ".") leaves the host's root stacked on the container's
/// until the init unmounts it: by the time the process runs, one mount is
/// left at `/`, and it is the bundle's rootfs, not the host's root.
#[test]
fn the_old_root_is_gone_before_the_process_runs() {
    let ctx = TestCtx::new("mounts::old_root_gone");
    let mut b = ctx.bundle();
    b.sh("cat /proc/self/mountinfo");
    let out = ctx.output_of(&mut b, "oldroot");
    let at_root: Vec<&str> = out
        .lines()
        .filter(|l| l.split(' ').nth(4) == Some("/"))
        .collect();
    assert_eq!(at_root.len(), 1, "mounts at /:\n{out}");
    // The rootfs is a bind of the bundle's directory: its root field (the
    // directory within its filesystem) ends with it, where the host's root
    // shows `/`.
    let name = b
        .rootfs()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_string();
    let root_field = at_root[0].split(' ').nth(3).unwrap_or("");
    assert!(
        root_field.ends_with(&format!("/{name}")),
        "the mount at / is not the rootfs ({root_field}):\n{out}"
    );
}

#[test]
fn default_devices_exist_with_right_numbers() {
    let ctx = TestCtx::new("mounts::default_devices");
    let mut b = ctx.bundle();
    // %t/%T print major/minor in hex.
    b.sh("for d in null zero full random urandom tty; do echo $d=$(stat -c '%F %t:%T' /dev/$d); done; \
          head -c 4 /dev/zero | wc -c; echo discard > /dev/null && echo null-ok");
    let out = ctx.output_of(&mut b, "devs");
    for (dev, nums) in [
        ("null", "1:3"),
        ("zero", "1:5"),
        ("full", "1:7"),
        ("random", "1:8"),
        ("urandom", "1:9"),
        ("tty", "5:0"),
    ] {
        let want = format!("{dev}=character special file {nums}");
        assert!(out.lines().any(|l| l == want), "{want} not in:\n{out}");
    }
    assert!(out.contains("null-ok"));
}

#[test]
fn custom_device_from_linux_devices() {
    let ctx = TestCtx::new("mounts::custom_device");
    let mut b = ctx.bundle();
    b.set("/linux/devices", json!([{"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 0o664, "uid": 1000, "gid": 0}]))
        .set("/linux/resources/devices/1", json!({"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}))
        // Root has no CAP_DAC_OVERRIDE here: it writes through the group bit.
        .sh("stat -c '%F %t:%T %a %u:%g' /dev/mynull; echo x > /dev/mynull && echo write-ok");
    let out = ctx.output_of(&mut b, "mynull");
    assert!(
        out.lines()
            .any(|l| l == "character special file 1:3 664 1000:0"),
        "device attributes wrong:\n{out}"
    );
    assert!(out.contains("write-ok"));
}

#[test]
fn dev_symlinks() {
    let ctx = TestCtx::new("mounts::dev_symlinks");
    let mut b = ctx.bundle();
    b.sh("for l in fd stdin stdout stderr ptmx; do echo $l=$(readlink /dev/$l); done");
    let out = ctx.output_of(&mut b, "links");
    for want in [
        "fd=/proc/self/fd",
        "stdin=/proc/self/fd/0",
        "stdout=/proc/self/fd/1",
        "stderr=/proc/self/fd/2",
        "ptmx=pts/ptmx",
    ] {
        assert!(out.lines().any(|l| l == want), "{want} not in:\n{out}");
    }
}

#[test]
fn masked_paths_read_empty() {
    let ctx = TestCtx::new("mounts::masked");
    let mut b = ctx.bundle();
    fs::create_dir_all(b.rootfs().join("secretdir")).unwrap();
    fs::write(b.rootfs().join("secretdir/key"), "s3cret").unwrap();
    fs::write(b.rootfs().join("secretfile"), "s3cret").unwrap();
    let masked = b
        .get("/linux/maskedPaths")
        .unwrap()
        .as_array()
        .unwrap()
        .clone();
    let mut masked = masked;
    masked.push(json!("/secretdir"));
    masked.push(json!("/secretfile"));
    b.set("/linux/maskedPaths", json!(masked))
        .sh("for f in /proc/kcore /proc/timer_list /proc/keys; do [ -e $f ] && echo $f=$(cat $f | wc -c); done; \
             echo firmware=$(ls -A /sys/firmware | wc -l); \
             echo secretdir=$(ls -A /secretdir | wc -l); echo secretfile=$(cat /secretfile | wc -c); \
             echo nomask=$(wc -c < /proc/version | tr -d ' ')");
    let out = ctx.output_of(&mut b, "mask");
    // Some kernels lack /proc/kcore; a masked path that does not exist is skipped.
    assert!(
        Path::new("/proc/timer_list").exists(),
        "host has no /proc/timer_list to check masking with"
    );
    assert!(!fs::read_to_string("/proc/timer_list").unwrap().is_empty());
    let mut wanted = vec![
        "firmware=0",
        "secretdir=0",
        "secretfile=0",
        "/proc/timer_list=0",
    ];
    if Path::new("/proc/kcore").exists() {
        wanted.push("/proc/kcore=0");
    }
    for want in wanted {
        assert!(out.lines().any(|l| l == want), "{want} not in:\n{out}");
    }
    assert!(
        !out.contains("nomask=0"),
        "control file /proc/version should not be masked:\n{out}"
    );
}

#[test]
fn readonly_paths_refuse_writes() {
    let ctx = TestCtx::new("mounts::readonly_paths");
    let mut b = ctx.bundle();
    fs::create_dir_all(b.rootfs().join("rodir")).unwrap();
    let mut ro = b
        .get("/linux/readonlyPaths")
        .unwrap()
        .as_array()
        .unwrap()
        .clone();
    ro.push(json!("/rodir"));
    b.readonly_root(false)
        .set("/linux/readonlyPaths", json!(ro))
        .sh(
            "touch /rodir/x 2>&1 || echo rodir=REFUSED; touch /rwfile && echo rwfile=OK; \
             echo 1 > /proc/sys/vm/drop_caches 2>&1 || echo procsys=REFUSED",
        );
    let out = ctx.output_of(&mut b, "ro");
    assert!(
        out.contains("rodir=REFUSED"),
        "write into readonly path succeeded:\n{out}"
    );
    assert!(
        out.contains("Read-only file system"),
        "expected EROFS:\n{out}"
    );
    assert!(out.contains("rwfile=OK"), "control write failed:\n{out}");
    assert!(
        out.contains("procsys=REFUSED"),
        "/proc/sys is writable:\n{out}"
    );
}

/// rootfsPropagation reaches the container's root mount for every mode;
/// "unbindable" must not break the rootfs bind that precedes pivot_root.
#[test]
fn rootfs_propagation_modes() {
    if skip_rt_only(
        "mounts::rootfs_propagation",
        "runc 1.1.5 fails create with rootfsPropagation unbindable",
    ) {
        return;
    }
    let ctx = TestCtx::new("mounts::rootfs_propagation");
    // The rootfs bind comes from a private parent, so a slave root has no
    // master to show: slave and private both show neither tag.
    for (mode, tag) in [
        ("unbindable", "unbindable"),
        ("shared", "shared:"),
        ("slave", ""),
        ("private", ""),
    ] {
        let mut b = ctx.bundle();
        b.set("/linux/rootfsPropagation", json!(mode))
            .sh("grep -E '^[0-9]+ [0-9]+ [^ ]+ [^ ]+ / ' /proc/self/mountinfo");
        let out = ctx.output_of(&mut b, mode);
        let optional: Vec<&str> = mount_line(&out, "/")
            .split(" - ")
            .next()
            .unwrap()
            .split(' ')
            .skip(6)
            .collect();
        if tag.is_empty() {
            assert!(
                !optional
                    .iter()
                    .any(|f| f.starts_with("shared:") || *f == "unbindable"),
                "{mode}: root has {optional:?}"
            );
        } else {
            assert!(
                optional.iter().any(|f| f.starts_with(tag)),
                "{mode}: root lacks {tag}: {optional:?}"
            );
        }
    }
}

/// procfs (and sysfs) go on directories only: a /proc that is a symlink, or
/// a proc mount onto a regular file, is refused in runc's words, which
/// scripts match on.
#[test]
fn proc_onto_symlink_or_file_is_refused_with_runcs_phrase() {
    let ctx = TestCtx::new("mounts::proc_not_dir");
    let mut link = ctx.bundle();
    fs::remove_dir(link.rootfs().join("proc")).unwrap();
    std::os::unix::fs::symlink("/tmp", link.rootfs().join("proc")).unwrap();
    let mut file = ctx.bundle();
    fs::write(file.rootfs().join("proc2"), "").unwrap();
    file.mount(json!({"destination": "/proc2", "type": "proc", "source": "proc"}));
    for (what, b, dest) in [
        ("symlink", &mut link, "/proc"),
        ("file", &mut file, "/proc2"),
    ] {
        let id = ctx.id(what);
        let out = ctx.run(b, &id);
        assert!(!out.success(), "proc mounted onto a {what}");
        out.stderr_has("must be mounted on ordinary directory")
            .stderr_has(dest);
        ctx.assert_nothing_left(&id);
    }
    assert!(
        fs::read_dir(link.rootfs().join("tmp"))
            .unwrap()
            .next()
            .is_none(),
        "something was mounted or created through the /proc link"
    );
}

/// A read-only /dev (tmpfs with "ro") still gets the default nodes, made
/// by the runtime (real nodes owned 0:0, not binds of the host's), and
/// the /dev/pts mount; it is read-only once the container runs.
#[test]
fn readonly_dev_still_gets_nodes_and_pts() {
    let ctx = TestCtx::new("mounts::readonly_dev");
    let mut b = ctx.bundle();
    let mounts = b.spec["mounts"].as_array_mut().unwrap();
    let dev = mounts
        .iter_mut()
        .find(|m| m["destination"] == "/dev")
        .unwrap();
    dev["options"].as_array_mut().unwrap().push(json!("ro"));
    b.sh(
        "for d in null zero tty; do echo $d=$(stat -c '%F %u:%g' /dev/$d); done; \
          echo x > /dev/null && echo write-null-ok; \
          test -e /dev/pts/ptmx && echo pts-ok; \
          touch /dev/new 2>/dev/null || echo dev-is-ro; \
          grep -c -E ' /dev/(null|zero|tty) ' /proc/self/mountinfo; true",
    );
    let out = ctx.output_of(&mut b, "rodev");
    for d in ["null", "zero", "tty"] {
        let want = format!("{d}=character special file 0:0");
        assert!(out.lines().any(|l| l == want), "{want} not in:\n{out}");
    }
    for want in ["write-null-ok", "pts-ok", "dev-is-ro"] {
        assert!(out.lines().any(|l| l == want), "{want} not in:\n{out}");
    }
    assert_eq!(
        out.lines().last(),
        Some("0"),
        "default nodes are bind mounts, not nodes of their own:\n{out}"
    );
}
