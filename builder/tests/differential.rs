//! Differential test: every Dockerfile under `tests/corpus/<entry>/` is
//! built by rt-build and by buildah (`bud --format docker --isolation
//! chroot`) from the same busybox image, and the two results must agree
//! on every path of the root filesystem (type, mode with setuid/setgid/
//! sticky bits, uid/gid, size, content sha256, symlink target, hard-link
//! grouping, timestamps that predate the build) and on the image config
//! fields a Dockerfile sets (Env, Cmd, Entrypoint, WorkingDir, User,
//! Labels, ExposedPorts, Volumes, StopSignal, Healthcheck, OnBuild, Shell).
//!
//! The reference is BuildKit (what `docker build` does). Where buildah is
//! known to differ from BuildKit, the difference is listed below in
//! `DEVIATIONS`, by name, with the entries and the path or field it covers
//! and why; nothing else is ignored. Open rt-build bugs are named in
//! `KNOWN_RT_BUILD_BUGS` with both tools' exact values: they are printed,
//! do not fail the test, and the test says when one is no longer seen so
//! the entry can be deleted (`RT_DIFF_STRICT=1` makes them fail).
//!
//! Timestamps: one older than the test's start (the base image's, context
//! files' which the test sets to 2021-01-01, archive headers') must be the
//! same in both; one made during the build (what RUN or COPY touched) is
//! not comparable and is skipped.
//!
//! Both builders get the image under the same name: rt-build imports the
//! OCI layout `common::busybox_layout` makes as `busybox` into a private
//! store; buildah pulls the same layout (`oci:DIR:busybox`) into private
//! `--root`/`--runroot` dirs and tags it `busybox`. So `FROM busybox` and
//! `COPY --from=busybox` mean the same bytes to both. Results are read the
//! same way for both: `umoci unpack` of an OCI layout (rt-build's store is
//! one; buildah's image is pushed to `oci:DIR`), and the config from each
//! tool's own inspect (buildah's Docker-format config: its OCI conversion
//! drops Healthcheck, OnBuild and Shell).
//!
//! Blind spots: a difference rt-build and buildah share is invisible here,
//! and where buildah differs from BuildKit rt-build follows BuildKit, out of
//! this corpus. An `ARG X=...` (or a --build-arg X) after `ENV X=...`
//! gives later RUNs the ARG's value in BuildKit (checked by hand against
//! Docker 20.10's BuildKit 0.8; its dispatchArg adds the ARG to the state's
//! env, which later words are expanded with too, and the image's Env keeps
//! the ENV's), the ENV's in buildah: rt-build does as BuildKit (scope.rs; args_build_arg keeps the
//! case where both agree, an ARG without a value after the ENV). BuildKit
//! 0.8 also drops setuid/setgid/sticky bits from `COPY --chmod=4755`, where
//! rt-build and buildah keep them.
//!
//! Needs root, busybox-static, buildah and umoci; skipped with a reason
//! otherwise (`hack/deps.sh` installs them). `RT_DIFF_ONLY=a,b` builds only
//! those entries; `RT_DIFF_KEEP=1` keeps the temp dir for inspection.

mod common;
use common::*;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// One corpus entry: `tests/corpus/<name>/` is the context (its
/// `Dockerfile` is built). `pre` are images built first from a sub-dir of
/// the entry and tagged with the given name in both stores (ONBUILD
/// triggers only fire when the base is an image, not a stage); they are
/// compared too.
struct Entry {
    name: &'static str,
    build_args: &'static [&'static str],
    pre: &'static [(&'static str, &'static str)],
}

const fn e(name: &'static str) -> Entry {
    Entry {
        name,
        build_args: &[],
        pre: &[],
    }
}

const ENTRIES: &[Entry] = &[
    e("run_forms"),
    e("heredoc_bare"),
    e("heredoc_shebang"),
    e("heredoc_cat_redirect"),
    e("heredoc_multiple"),
    e("shell_then_heredoc"),
    e("multistage_copy_from_stage"),
    e("copy_from_image"),
    e("owners_across_stages"),
    e("chown_chmod_numeric"),
    e("chown_chmod_names"),
    e("user_and_run"),
    e("workdir"),
    e("whiteout_files"),
    e("whiteout_dir_replaced"),
    e("hardlinks"),
    e("symlinks"),
    e("special_bits"),
    e("dockerignore_excluded_dir"),
    e("dockerignore_excluded_dir_with_exception"),
    e("dockerignore_exceptions"),
    e("dockerignore_doublestar"),
    e("args_global"),
    Entry {
        build_args: &[
            "TAG=cli-tag",
            "NODEFAULT=cli-value",
            "WITH_DEFAULT=cli-with",
        ],
        ..e("args_build_arg")
    },
    e("env_forms"),
    Entry {
        pre: &[("base", "onbuild-base")],
        ..e("onbuild")
    },
    e("metadata"),
    e("cmd_entrypoint_shell"),
    e("entrypoint_resets_cmd"),
    e("healthcheck_variants"),
    e("copy_destinations"),
    e("add_local_tar"),
];

/// Which entries an allowance covers.
enum Scope {
    /// These entries only.
    Entries(&'static [&'static str]),
    /// Every entry (and pre-image) whose Dockerfile has a RUN step: for
    /// artifacts buildah's RUN leaves whatever the step does.
    WithRun,
}

/// A difference that is explained and allowed: it matches one reported
/// difference by entry, subject (one of `subjects`: absolute paths, or
/// `config.<Field>`) and field; `rt` and `buildah`, when set, are the
/// exact values rt-build and buildah must show.
struct Allowance {
    name: &'static str,
    scope: Scope,
    subjects: &'static [&'static str],
    field: &'static str,
    rt: Option<&'static str>,
    buildah: Option<&'static str>,
    why: &'static str,
}

/// Where buildah (1.28, Debian's) is known to differ from BuildKit.
const DEVIATIONS: &[Allowance] = &[
    // buildah's chroot isolation bind-mounts /etc/hosts, /etc/hostname and
    // /etc/resolv.conf over empty files it creates in the container's
    // rootfs, and creates /run, and commits these mount points into the
    // layer. BuildKit removes the mount stubs it had to create (since
    // v0.12), and so does rt-build.
    Allowance {
        name: "buildah-run-stub-hosts",
        scope: Scope::WithRun,
        subjects: &["/etc/hosts"],
        field: "presence",
        rt: None,
        buildah: Some("file 0755 0:0 0 bytes"),
        why: "buildah leaves its empty /etc/hosts mount point in RUN layers",
    },
    Allowance {
        name: "buildah-run-stub-hostname",
        scope: Scope::WithRun,
        subjects: &["/etc/hostname"],
        field: "presence",
        rt: None,
        buildah: Some("file 0755 0:0 0 bytes"),
        why: "buildah leaves its empty /etc/hostname mount point in RUN layers",
    },
    Allowance {
        name: "buildah-run-stub-resolv",
        scope: Scope::WithRun,
        subjects: &["/etc/resolv.conf"],
        field: "presence",
        rt: None,
        buildah: Some("file 0755 0:0 0 bytes"),
        why: "buildah leaves its empty /etc/resolv.conf mount point in RUN layers",
    },
    Allowance {
        name: "buildah-run-stub-run",
        scope: Scope::WithRun,
        subjects: &["/run"],
        field: "presence",
        rt: None,
        buildah: Some("dir 0755 0:0"),
        why: "buildah creates /run (its runtime mounts a tmpfs there) and commits it",
    },
    // Creating those stubs changes /etc's mtime in buildah's layer; in
    // BuildKit's and rt-build's /etc keeps the base image's mtime unless
    // the step itself writes there.
    Allowance {
        name: "buildah-run-stub-etc-mtime",
        scope: Scope::WithRun,
        subjects: &["/etc"],
        field: "mtime",
        rt: None,
        buildah: Some("during the build"),
        why: "buildah's stub files in /etc change its mtime",
    },
    // A directory .dockerignore excludes but whose child a `!` exception
    // re-includes: BuildKit's context walker sends the directory with its
    // own stat once a child is included, fsutil's DiskWriter restores
    // directory mtimes after their contents, and COPY keeps them, as
    // rt-build does; buildah's copier creates such a directory at build
    // time. (Docker 20.10's BuildKit 0.8 restored no context directory
    // mtime at all: there every context directory that holds files gets
    // the build time.)
    Allowance {
        name: "buildah-reincluded-parent-mtime",
        scope: Scope::Entries(&[
            "dockerignore_excluded_dir_with_exception",
            "dockerignore_exceptions",
        ]),
        subjects: &["/ctx/logs", "/ctx/build", "/ctx/docs"],
        field: "mtime",
        rt: Some("1609459200"),
        buildah: Some("during the build"),
        why: "buildah does not keep the mtime of an excluded dir an exception re-includes",
    },
    // Redefining a variable: BuildKit (addEnv) replaces the entry where it
    // is, so `ENV PATH=...` stays first; buildah removes it and appends
    // the new value at the end.
    Allowance {
        name: "buildah-env-order",
        scope: Scope::Entries(&["env_forms"]),
        subjects: &["config.Env"],
        field: "order",
        rt: None,
        buildah: None,
        why: "buildah moves a redefined ENV variable to the end of Env",
    },
    // FROM scratch: BuildKit's empty image has WorkingDir "/" (next to
    // the default PATH, which buildah sets too); buildah leaves it unset.
    Allowance {
        name: "buildah-scratch-no-workdir",
        scope: Scope::Entries(&["copy_from_image"]),
        subjects: &["config.WorkingDir"],
        field: "value",
        rt: Some("\"/\""),
        buildah: Some("null"),
        why: "buildah's FROM scratch has no WorkingDir; BuildKit's emptyImage sets \"/\"",
    },
    // CMD and ENTRYPOINT in shell form: BuildKit wraps them with the
    // SHELL in effect (withShell(d.image, ...)); buildah always uses
    // /bin/sh -c.
    Allowance {
        name: "buildah-shell-form-cmd-ignores-shell",
        scope: Scope::Entries(&["cmd_entrypoint_shell"]),
        subjects: &["config.Cmd"],
        field: "value",
        rt: Some(r#"["/bin/ash","-e","-c","echo \"from cmd\" $HOME"]"#),
        buildah: Some(r#"["/bin/sh","-c","echo \"from cmd\" $HOME"]"#),
        why: "buildah ignores SHELL for a shell-form CMD",
    },
    Allowance {
        name: "buildah-shell-form-entrypoint-ignores-shell",
        scope: Scope::Entries(&["cmd_entrypoint_shell"]),
        subjects: &["config.Entrypoint"],
        field: "value",
        rt: Some(r#"["/bin/ash","-e","-c","exec /bin/echo \"from entrypoint\""]"#),
        buildah: Some(r#"["/bin/sh","-c","exec /bin/echo \"from entrypoint\""]"#),
        why: "buildah ignores SHELL for a shell-form ENTRYPOINT",
    },
    // VOLUME only records the path in the config in BuildKit (and
    // rt-build); buildah creates the directory in the image when the
    // stage is committed after building FROM another stage.
    Allowance {
        name: "buildah-volume-dirs-created",
        scope: Scope::Entries(&["healthcheck_variants"]),
        subjects: &["/var/lib", "/var/lib/state"],
        field: "presence",
        rt: Some("absent"),
        buildah: Some("dir 0755 0:0"),
        why: "buildah creates VOLUME directories in the image",
    },
    Allowance {
        name: "buildah-volume-dirs-created-parent-mtime",
        scope: Scope::Entries(&["healthcheck_variants"]),
        subjects: &["/var"],
        field: "mtime",
        rt: Some("1700000000"),
        buildah: Some("during the build"),
        why: "creating the VOLUME directory changes its parent's mtime in buildah's image",
    },
];

/// Open rt-build bugs this test found, each matching exactly the
/// differences it causes now (rt-build's and buildah's values), so that a
/// fix shows up as "no longer seen" and any other change in behaviour as
/// an unexplained difference. `RT_DIFF_STRICT=1` makes them fail. The
/// reference in each `why` is BuildKit's behaviour, which buildah shares
/// in these cases.
///
/// The bugs the issue named, now fixed, have corpus entries that keep them
/// fixed: `RUN <<EOF` without a command runs the body (heredoc_bare,
/// heredoc_shebang, heredoc_multiple, shell_then_heredoc), COPY
/// --from=<stage> keeps uid/gid (owners_across_stages, special_bits), and a
/// directory .dockerignore excludes never appears after `COPY .`
/// (dockerignore_excluded_dir*, dockerignore_exceptions,
/// dockerignore_doublestar). So do the eight it found later: WORKDIR's
/// directories owned by USER (workdir), COPY --chown's parents
/// (chown_chmod_*), a new destination dir made as root
/// (owners_across_stages), hard links kept by COPY --from (hardlinks,
/// multistage_copy_from_stage), FROM scratch's PATH (copy_from_image), the
/// base Env in ENV words (env_forms), directory mtimes from ADD's tar
/// (add_local_tar) and from unpacked layers (special_bits, multistage_*).
const KNOWN_RT_BUILD_BUGS: &[Allowance] = &[];

/// Context files get this mtime (2021-01-01) so that a timestamp kept from
/// the context is told apart from one made during the build.
const CONTEXT_MTIME: i64 = 1_609_459_200;

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Dir,
    File { size: u64, sha: String },
    Symlink(String),
    Char(u64),
    Block(u64),
    Fifo,
    Socket,
}

#[derive(Debug, Clone)]
struct Node {
    kind: Kind,
    mode: u32,
    uid: u32,
    gid: u32,
    /// `None` when the timestamp is from the build itself (not comparable).
    mtime: Option<i64>,
    /// Other paths that are the same inode (sorted), for regular files.
    links: Vec<String>,
}

impl Node {
    fn describe(&self) -> String {
        let ids = format!("{:04o} {}:{}", self.mode, self.uid, self.gid);
        match &self.kind {
            Kind::Dir => format!("dir {ids}"),
            Kind::File { size, .. } => format!("file {ids} {size} bytes"),
            Kind::Symlink(t) => format!("symlink -> {t}"),
            Kind::Char(r) => format!("char {r:#x} {ids}"),
            Kind::Block(r) => format!("block {r:#x} {ids}"),
            Kind::Fifo => format!("fifo {ids}"),
            Kind::Socket => format!("socket {ids}"),
        }
    }
}

fn sha256_file(path: &Path) -> String {
    let data = std::fs::read(path).unwrap();
    let h = Sha256::digest(&data);
    h.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every path under `root` (as `/a/b`, the root itself as `/`).
fn walk(root: &Path, build_start: i64) -> BTreeMap<String, Node> {
    let mut out = BTreeMap::new();
    let mut inodes: HashMap<(u64, u64), Vec<String>> = HashMap::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let path = root.join(&rel);
        let md = std::fs::symlink_metadata(&path).unwrap();
        let name = format!("/{}", rel.display());
        let ft = md.file_type();
        use std::os::unix::fs::FileTypeExt;
        let kind = if ft.is_dir() {
            for ent in std::fs::read_dir(&path).unwrap() {
                stack.push(rel.join(ent.unwrap().file_name()));
            }
            Kind::Dir
        } else if ft.is_symlink() {
            Kind::Symlink(std::fs::read_link(&path).unwrap().display().to_string())
        } else if ft.is_file() {
            if md.nlink() > 1 {
                inodes
                    .entry((md.dev(), md.ino()))
                    .or_default()
                    .push(name.clone());
            }
            Kind::File {
                size: md.len(),
                sha: sha256_file(&path),
            }
        } else if ft.is_char_device() {
            Kind::Char(md.rdev())
        } else if ft.is_block_device() {
            Kind::Block(md.rdev())
        } else if ft.is_fifo() {
            Kind::Fifo
        } else {
            Kind::Socket
        };
        let mtime = (md.mtime() < build_start).then_some(md.mtime());
        out.insert(
            name,
            Node {
                kind,
                mode: md.permissions().mode() & 0o7777,
                uid: md.uid(),
                gid: md.gid(),
                mtime,
                links: Vec::new(),
            },
        );
    }
    for paths in inodes.values() {
        for p in paths {
            let mut others: Vec<String> = paths.iter().filter(|o| *o != p).cloned().collect();
            others.sort();
            out.get_mut(p).unwrap().links = others;
        }
    }
    out
}

#[derive(Debug, Clone)]
struct Diff {
    subject: String,
    field: String,
    rt: String,
    buildah: String,
}

fn diff_trees(rt: &BTreeMap<String, Node>, bh: &BTreeMap<String, Node>) -> Vec<Diff> {
    let mut out = Vec::new();
    let mut push = |subject: &str, field: &str, rt: String, buildah: String| {
        out.push(Diff {
            subject: subject.to_string(),
            field: field.to_string(),
            rt,
            buildah,
        })
    };
    let paths: BTreeSet<&String> = rt.keys().chain(bh.keys()).collect();
    for p in paths {
        let (a, b) = match (rt.get(p), bh.get(p)) {
            (Some(a), Some(b)) => (a, b),
            (a, b) => {
                let show = |n: Option<&Node>| n.map_or("absent".to_string(), Node::describe);
                push(p, "presence", show(a), show(b));
                continue;
            }
        };
        let kind_name = |k: &Kind| match k {
            Kind::Dir => "dir",
            Kind::File { .. } => "file",
            Kind::Symlink(_) => "symlink",
            Kind::Char(_) => "char device",
            Kind::Block(_) => "block device",
            Kind::Fifo => "fifo",
            Kind::Socket => "socket",
        };
        if kind_name(&a.kind) != kind_name(&b.kind) {
            push(p, "type", a.describe(), b.describe());
            continue;
        }
        match (&a.kind, &b.kind) {
            (Kind::File { size: s1, sha: h1 }, Kind::File { size: s2, sha: h2 }) => {
                if s1 != s2 {
                    push(p, "size", s1.to_string(), s2.to_string());
                } else if h1 != h2 {
                    push(p, "content", h1.clone(), h2.clone());
                }
            }
            (Kind::Symlink(t1), Kind::Symlink(t2)) if t1 != t2 => {
                push(p, "target", t1.clone(), t2.clone())
            }
            (Kind::Char(r1), Kind::Char(r2)) | (Kind::Block(r1), Kind::Block(r2)) if r1 != r2 => {
                push(p, "rdev", format!("{r1:#x}"), format!("{r2:#x}"))
            }
            _ => {}
        }
        // A symlink's own mode is meaningless on Linux (always 0777).
        if !matches!(a.kind, Kind::Symlink(_)) && a.mode != b.mode {
            push(
                p,
                "mode",
                format!("{:04o}", a.mode),
                format!("{:04o}", b.mode),
            );
        }
        if (a.uid, a.gid) != (b.uid, b.gid) {
            push(
                p,
                "owner",
                format!("{}:{}", a.uid, a.gid),
                format!("{}:{}", b.uid, b.gid),
            );
        }
        if a.mtime != b.mtime {
            let show = |m: Option<i64>| m.map_or("during the build".to_string(), |m| m.to_string());
            push(p, "mtime", show(a.mtime), show(b.mtime));
        }
        if a.links != b.links {
            push(
                p,
                "hardlinks",
                format!("{:?}", a.links),
                format!("{:?}", b.links),
            );
        }
    }
    out
}

/// The config fields a Dockerfile sets, from Docker's `config` object.
const CONFIG_FIELDS: &[&str] = &[
    "Env",
    "Cmd",
    "Entrypoint",
    "WorkingDir",
    "User",
    "Labels",
    "ExposedPorts",
    "Volumes",
    "StopSignal",
    "Healthcheck",
    "OnBuild",
    "Shell",
];

/// Empty strings, arrays and objects mean "not set": buildah writes
/// `"Entrypoint": []`, `"Volumes": {}`, `"OnBuild": []`, `"WorkingDir": ""`
/// for fields the image never set, where rt-build (like BuildKit) omits
/// them; Docker treats both the same.
fn normalize(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::String(s) if s.is_empty() => Value::Null,
        Value::Array(a) if a.is_empty() => Value::Null,
        Value::Object(o) if o.is_empty() => Value::Null,
        other => other.clone(),
    }
}

fn diff_configs(rt: &serde_json::Value, bh: &serde_json::Value) -> Vec<Diff> {
    let mut bh = bh.clone();
    // buildah stamps every image with its own version label; BuildKit and
    // rt-build add no label. Only that key is dropped, and only when its
    // value is buildah's version string.
    if let Some(labels) = bh.get_mut("Labels").and_then(|l| l.as_object_mut()) {
        if labels
            .get("io.buildah.version")
            .and_then(|v| v.as_str())
            .is_some_and(|v| v.chars().next().is_some_and(|c| c.is_ascii_digit()))
        {
            labels.remove("io.buildah.version");
        }
    }
    let mut out = Vec::new();
    for f in CONFIG_FIELDS {
        let a = normalize(&rt[*f]);
        let b = normalize(&bh[*f]);
        // Env is a list whose order matters to nobody but is still part of
        // the image: a difference in the variables is reported as `value`,
        // one in their order only as `order` (see buildah-env-order).
        if *f == "Env" && a != b {
            let sorted = |v: &serde_json::Value| {
                let mut l: Vec<String> = v
                    .as_array()
                    .map(|a| a.iter().map(|s| s.to_string()).collect())
                    .unwrap_or_default();
                l.sort();
                l
            };
            let (sa, sb) = (sorted(&a), sorted(&b));
            out.push(Diff {
                subject: "config.Env".into(),
                field: if sa == sb { "order" } else { "value" }.into(),
                rt: a.to_string(),
                buildah: b.to_string(),
            });
            continue;
        }
        if a != b {
            out.push(Diff {
                subject: format!("config.{f}"),
                field: "value".into(),
                rt: a.to_string(),
                buildah: b.to_string(),
            });
        }
    }
    out
}

/// Copies a corpus context to `dst`: regular files with mode 0644 (0755
/// when executable in the checkout) and the fixed `CONTEXT_MTIME`,
/// directories 0755, symlinks as they are; so the context does not depend
/// on the checkout's umask or time.
fn copy_context(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for ent in std::fs::read_dir(src).unwrap() {
        let ent = ent.unwrap();
        let (s, d) = (ent.path(), dst.join(ent.file_name()));
        let md = std::fs::symlink_metadata(&s).unwrap();
        let t = filetime::FileTime::from_unix_time(CONTEXT_MTIME, 0);
        if md.is_dir() {
            copy_context(&s, &d);
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
        } else if md.file_type().is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&s).unwrap(), &d).unwrap();
        } else {
            std::fs::copy(&s, &d).unwrap();
            let mode = if md.mode() & 0o100 != 0 { 0o755 } else { 0o644 };
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        filetime::set_symlink_file_times(&d, t, t).unwrap();
    }
    let t = filetime::FileTime::from_unix_time(CONTEXT_MTIME, 0);
    filetime::set_file_times(dst, t, t).unwrap();
}

fn has_run(dockerfile: &Path) -> bool {
    std::fs::read_to_string(dockerfile)
        .unwrap()
        .lines()
        .any(|l| {
            let l = l.trim_start();
            l.len() >= 4 && l[..4].eq_ignore_ascii_case("RUN ")
                || l.to_ascii_uppercase().starts_with("ONBUILD RUN ")
        })
}

/// buildah's private storage, and everything else of the run, under one
/// temp dir. Dropping it removes buildah's containers and images, unmounts
/// whatever is still mounted under the dir, and deletes it.
struct Lab {
    dir: PathBuf,
    store: PathBuf,
}

impl Lab {
    fn buildah(&self) -> Command {
        let mut c = Command::new("buildah");
        c.arg("--root")
            .arg(self.dir.join("buildah-root"))
            .arg("--runroot")
            .arg(self.dir.join("buildah-runroot"))
            // vfs: no overlay mounts to leak, and the rootfs is small.
            .args(["--storage-driver", "vfs"]);
        c
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = self.buildah().args(["rm", "-a"]).output();
        let _ = self.buildah().args(["rmi", "-a", "-f"]).output();
        // Anything buildah left mounted under our dir, deepest first.
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut under: Vec<String> = mounts
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|m| Path::new(m).starts_with(&self.dir))
            .map(str::to_string)
            .collect();
        under.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in under {
            let c = std::ffi::CString::new(m).unwrap();
            // SAFETY: a valid C string; MNT_DETACH cannot hurt other mounts.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
        if std::env::var_os("RT_DIFF_KEEP").is_some() {
            eprintln!("kept {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A built image, read back: its rootfs tree and config.
struct Built {
    tree: BTreeMap<String, Node>,
    config: serde_json::Value,
}

fn umoci_unpack(
    layout_ref: &str,
    dest: &Path,
    build_start: i64,
) -> Result<BTreeMap<String, Node>, String> {
    let out = run(Command::new("umoci")
        .args(["unpack", "--image", layout_ref])
        .arg(dest));
    if out.code != 0 {
        return Err(format!("umoci unpack {layout_ref}: {}", out.stderr));
    }
    Ok(walk(&dest.join("rootfs"), build_start))
}

fn build_rt(
    lab: &Lab,
    ctx: &Path,
    tag: &str,
    args: &[&str],
    out_dir: &Path,
    build_start: i64,
) -> Result<Built, String> {
    let mut a = vec!["-t", tag];
    for b in args {
        a.extend(["--build-arg", b]);
    }
    let out = build(&lab.store, ctx, &a);
    if out.code != 0 {
        return Err(format!("rt-build failed:\n{}", out.stderr));
    }
    let tree = umoci_unpack(
        &format!("{}:{tag}", lab.store.display()),
        &out_dir.join("rt"),
        build_start,
    )?;
    let config = inspect(&lab.store, tag)["config"]["config"].clone();
    Ok(Built { tree, config })
}

fn build_buildah(
    lab: &Lab,
    ctx: &Path,
    dockerfile: &str,
    tag: &str,
    args: &[&str],
    out_dir: &Path,
    build_start: i64,
) -> Result<Built, String> {
    let mut c = lab.buildah();
    c.args([
        "bud",
        "--pull=never",
        "--format",
        "docker",
        "--isolation",
        "chroot",
    ])
    .args(["-f", &ctx.join(dockerfile).display().to_string()])
    .args(["-t", tag]);
    for b in args {
        c.args(["--build-arg", b]);
    }
    let out = run(c.arg(ctx));
    if out.code != 0 {
        return Err(format!(
            "buildah bud failed:\n{}\n{}",
            out.stdout, out.stderr
        ));
    }
    let layout = out_dir.join("buildah-layout");
    let out = run(lab
        .buildah()
        .args(["push", "-q", tag])
        .arg(format!("oci:{}:{tag}", layout.display())));
    if out.code != 0 {
        return Err(format!("buildah push: {}", out.stderr));
    }
    let tree = umoci_unpack(
        &format!("{}:{tag}", layout.display()),
        &out_dir.join("buildah"),
        build_start,
    )?;
    let out = run(lab.buildah().args(["inspect", "--type", "image", tag]));
    if out.code != 0 {
        return Err(format!("buildah inspect: {}", out.stderr));
    }
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    Ok(Built {
        tree,
        config: v["Docker"]["config"].clone(),
    })
}

fn scope_covers(scope: &Scope, entry: &str, with_run: bool) -> bool {
    match scope {
        Scope::Entries(names) => names.contains(&entry),
        Scope::WithRun => with_run,
    }
}

fn allowance_matches(a: &Allowance, entry: &str, with_run: bool, d: &Diff) -> bool {
    scope_covers(&a.scope, entry, with_run)
        && a.subjects.contains(&d.subject.as_str())
        && a.field == d.field
        && a.rt.is_none_or(|v| v == d.rt)
        && a.buildah.is_none_or(|v| v == d.buildah)
}

/// Builds one image (an entry or one of its pre-images) with both tools and
/// returns its differences; a build failure of either side is one.
fn compare_one(
    lab: &Lab,
    ctx: &Path,
    tag: &str,
    args: &[&str],
    buildah_heredocs: bool,
    out_dir: &Path,
    build_start: i64,
) -> Vec<Diff> {
    std::fs::create_dir_all(out_dir).unwrap();
    // buildah before 1.35 has no heredocs: such entries carry a
    // `Dockerfile.buildah` that spells the same steps the way BuildKit
    // runs them (see the comment at its top), used only then.
    let dockerfile = if !buildah_heredocs && ctx.join("Dockerfile.buildah").exists() {
        "Dockerfile.buildah"
    } else {
        "Dockerfile"
    };
    let t = std::time::Instant::now();
    let rt = build_rt(lab, ctx, tag, args, out_dir, build_start);
    let t_rt = t.elapsed().as_secs_f64();
    let bh = build_buildah(lab, ctx, dockerfile, tag, args, out_dir, build_start);
    eprintln!(
        "   {tag}: rt-build {t_rt:.1}s, buildah {:.1}s",
        t.elapsed().as_secs_f64() - t_rt
    );
    match (rt, bh) {
        (Ok(rt), Ok(bh)) => {
            let mut d = diff_trees(&rt.tree, &bh.tree);
            d.extend(diff_configs(&rt.config, &bh.config));
            d
        }
        (rt, bh) => vec![Diff {
            subject: "build".into(),
            field: "result".into(),
            rt: rt.err().unwrap_or_else(|| "ok".into()),
            buildah: bh.err().unwrap_or_else(|| "ok".into()),
        }],
    }
}

/// Whether this buildah understands `RUN <<EOF` (1.35 and later).
fn buildah_has_heredocs(lab: &Lab) -> bool {
    let ctx = lab.dir.join("probe");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nRUN <<EOF\ntrue\nEOF\n",
    )
    .unwrap();
    let out = run(lab
        .buildah()
        .args([
            "bud",
            "--pull=never",
            "--isolation",
            "chroot",
            "-t",
            "probe",
        ])
        .arg(&ctx));
    out.code == 0
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

#[test]
fn rt_build_matches_buildah_on_the_corpus() {
    if !can_build() {
        return;
    }
    if !has_tool("buildah") || !has_tool("umoci") {
        eprintln!("skipping: needs buildah and umoci (hack/deps.sh installs them)");
        return;
    }
    // Every corpus dir is an entry and every entry has a dir: nothing is
    // silently left out.
    let dirs: BTreeSet<String> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let names: BTreeSet<String> = ENTRIES.iter().map(|e| e.name.to_string()).collect();
    assert_eq!(dirs, names, "tests/corpus dirs and ENTRIES differ");

    let only: Option<Vec<String>> = std::env::var("RT_DIFF_ONLY")
        .ok()
        .map(|s| s.split(',').map(str::to_string).collect());
    let strict = std::env::var_os("RT_DIFF_STRICT").is_some();

    let (dir, store) = store_with_busybox("differential");
    let lab = Lab {
        dir: dir.clone(),
        store,
    };
    let layout = dir.join("busybox-layout");
    let out = run(lab
        .buildah()
        .args(["pull", "-q"])
        .arg(format!("oci:{}:busybox", layout.display())));
    assert_eq!(out.code, 0, "buildah pull: {}", out.stderr);
    let id = out.stdout.trim().to_string();
    let out = run(lab.buildah().args(["tag", &id, "busybox"]));
    assert_eq!(out.code, 0, "buildah tag: {}", out.stderr);
    let heredocs = buildah_has_heredocs(&lab);
    eprintln!(
        "buildah {} heredocs",
        if heredocs { "supports" } else { "lacks" }
    );

    // Anything older than this comes from the base image or the context;
    // newer timestamps were made by the build and are not compared.
    let build_start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        - 1;

    let mut unexplained = 0;
    let mut known_bugs_seen: BTreeSet<&str> = BTreeSet::new();
    let mut deviations_seen: BTreeSet<&str> = BTreeSet::new();
    let mut report = String::new();
    for entry in ENTRIES {
        if only
            .as_ref()
            .is_some_and(|o| !o.iter().any(|n| n == entry.name))
        {
            continue;
        }
        let t0 = std::time::Instant::now();
        let ctx = dir.join("ctx").join(entry.name);
        copy_context(&corpus_dir().join(entry.name), &ctx);
        let mut images: Vec<(String, PathBuf, String)> = entry
            .pre
            .iter()
            .map(|(sub, tag)| {
                (
                    format!("{}/{sub}", entry.name),
                    ctx.join(sub),
                    tag.to_string(),
                )
            })
            .collect();
        images.push((
            entry.name.to_string(),
            ctx.clone(),
            format!("diff-{}", entry.name),
        ));
        let mut lines = Vec::new();
        let unexplained_before = unexplained;
        for (label, ctx, tag) in &images {
            let with_run = has_run(&ctx.join("Dockerfile"));
            let diffs = compare_one(
                &lab,
                ctx,
                tag,
                entry.build_args,
                heredocs,
                &dir.join("out").join(label),
                build_start,
            );
            for d in diffs {
                let bug = KNOWN_RT_BUILD_BUGS
                    .iter()
                    .find(|a| allowance_matches(a, entry.name, with_run, &d));
                let dev = DEVIATIONS
                    .iter()
                    .find(|a| allowance_matches(a, entry.name, with_run, &d));
                let tag = if let Some(a) = dev {
                    deviations_seen.insert(a.name);
                    format!("allowed ({}: {})", a.name, a.why)
                } else if let Some(a) = bug {
                    known_bugs_seen.insert(a.name);
                    if strict {
                        unexplained += 1;
                    }
                    format!("KNOWN RT-BUILD BUG ({}: {})", a.name, a.why)
                } else {
                    unexplained += 1;
                    "DIFFERENCE".to_string()
                };
                lines.push(format!(
                    "  [{label}] {} {}: {tag}\n      rt-build: {}\n      buildah:  {}",
                    d.subject,
                    d.field,
                    d.rt.trim_end().replace('\n', "\n                "),
                    d.buildah.trim_end().replace('\n', "\n                "),
                ));
            }
        }
        let head = format!(
            "== {} ({:.1}s): {}\n",
            entry.name,
            t0.elapsed().as_secs_f64(),
            match (lines.len(), unexplained - unexplained_before) {
                (0, _) => "same".to_string(),
                (1, 0) => "1 difference, explained".to_string(),
                (n, 0) => format!("{n} differences, all explained"),
                (n, u) => format!("{n} difference(s), {u} unexplained"),
            }
        );
        eprint!("{head}");
        report.push_str(&head);
        for l in &lines {
            eprintln!("{l}");
            report.push_str(l);
            report.push('\n');
        }
    }
    if only.is_none() {
        for a in KNOWN_RT_BUILD_BUGS {
            if !known_bugs_seen.contains(a.name) {
                eprintln!(
                    "note: known rt-build bug {} no longer seen: delete it from KNOWN_RT_BUILD_BUGS",
                    a.name
                );
            }
        }
        // A deviation that never matched may be stale (or masked by an
        // rt-build difference on the same subject): say so, so it is
        // looked at, without failing on it.
        for a in DEVIATIONS {
            if !deviations_seen.contains(a.name) {
                eprintln!("note: deviation {} never matched", a.name);
            }
        }
    }
    assert_eq!(unexplained, 0, "unexplained differences:\n{report}");
}
