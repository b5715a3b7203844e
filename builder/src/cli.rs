//! The `rt-build` command line, shaped like `docker build` (and `docker
//! pull/push/images/tag/rmi/login`) so users can type what they know.

use crate::frontend::context::ignore;
use crate::frontend::dockerfile::evaluate::{EvaluatedStage, evaluate};
use crate::frontend::dockerfile::plan::{BuildOptions, Plan, plan};
use crate::frontend::dockerfile::scope::Platform;
use crate::frontend::dockerfile::{Dockerfile, parse};
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

#[derive(Debug, Parser)]
#[command(
    name = "rt-build",
    version,
    about = "Build OCI images from Dockerfiles",
    subcommand_negates_reqs = true
)]
pub struct Cli {
    /// Image store (an OCI layout); default /var/lib/rt, or
    /// $XDG_DATA_HOME/rt when not root
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Reach this registry (HOST[:PORT]) over plain HTTP (repeatable;
    /// loopback registries are plain HTTP anyway)
    #[arg(long = "insecure-registry", global = true, value_name = "HOST")]
    pub insecure_registries: Vec<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub build: BuildFlags,
}

#[derive(Debug, Args)]
pub struct BuildFlags {
    /// Name of the Dockerfile (default: CONTEXT/Dockerfile; `-` reads stdin)
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<String>,
    /// Name and optionally a tag (name:tag), repeatable
    #[arg(short = 't', long = "tag", value_name = "NAME")]
    pub tags: Vec<String>,
    /// Set a build-time variable (K=V, or K to take it from the environment)
    #[arg(long = "build-arg", value_name = "K=V")]
    pub build_args: Vec<String>,
    /// Build this stage (and what it needs) instead of the last one
    #[arg(long, value_name = "STAGE")]
    pub target: Option<String>,
    /// Do not use the build cache
    #[arg(long)]
    pub no_cache: bool,
    /// When FROM / COPY --from images come from their registry: always,
    /// missing (only when not in the store), never
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = crate::image::registry::PullPolicy::Missing)]
    pub pull: crate::image::registry::PullPolicy,
    /// Secret for RUN --mount=type=secret: id=ID,src=FILE or id=ID,env=VAR (repeatable)
    #[arg(long = "secret", value_name = "SPEC")]
    pub secrets: Vec<String>,
    /// Target platform (only linux/amd64 is supported)
    #[arg(long, default_value = "linux/amd64")]
    pub platform: String,
    /// Output: type=oci-archive|docker-archive|bundle|local,dest=PATH or
    /// type=registry,name=REF (repeatable)
    #[arg(short = 'o', long = "output", value_name = "SPEC")]
    pub outputs: Vec<String>,
    /// Progress output style
    #[arg(long, value_enum, default_value_t = Progress::Auto)]
    pub progress: Progress,
    /// Parse and plan only: print stages and instructions as JSON
    #[arg(long)]
    pub parse_only: bool,
    /// Compression of new layers: gzip|zstd[,level=N] (gzip level 0-9,
    /// default 6; zstd 1-22, default 3)
    #[arg(long, value_name = "ALGO[,level=N]", default_value = "gzip")]
    pub compression: String,
    /// Internal (parallel stages): build only this stage, as a child of
    /// another rt-build.
    #[arg(long = "internal-stage", hide = true, requires = "internal_stage_io")]
    pub internal_stage: Option<usize>,
    /// Internal: the child's inputs/output directory.
    #[arg(long = "internal-stage-io", hide = true, requires = "internal_stage")]
    pub internal_stage_io: Option<PathBuf>,
    /// Build context directory
    #[arg(value_name = "CONTEXT", required = true)]
    pub context: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Progress {
    Auto,
    Plain,
    Tty,
    Quiet,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build an image from a Dockerfile (the same as without a verb, for
    /// hands used to `docker build` and `buildah build`)
    Build(BuildFlags),
    /// Parse a Dockerfile and print its stages and instructions as JSON
    Parse {
        /// The Dockerfile (default: ./Dockerfile; `-` reads stdin)
        #[arg(default_value = "Dockerfile")]
        file: String,
        /// Set a build-time variable (repeatable)
        #[arg(long = "build-arg", value_name = "K=V")]
        build_args: Vec<String>,
        /// Plan up to this stage
        #[arg(long, value_name = "STAGE")]
        target: Option<String>,
    },
    /// List images in the store (as `docker images`)
    Images {
        /// Only the image IDs
        #[arg(short, long)]
        quiet: bool,
        /// Full image IDs
        #[arg(long)]
        no_trunc: bool,
    },
    /// Remove images, then their blobs no other image or cache entry needs
    Rmi {
        /// Images to remove (name:tag or ID)
        names: Vec<String>,
    },
    /// Drop the build cache (step cache and RUN --mount=type=cache dirs)
    /// and every blob no image needs
    Prune,
    /// Give an image another name
    Tag {
        /// The stored image (name:tag or ID)
        source: String,
        /// The new name
        target: String,
    },
    /// Show an image's config and manifest
    Inspect {
        /// Image (name:tag or ID)
        name: String,
    },
    /// Import oci:DIR[:ref], oci-archive:FILE[:ref] or docker-archive:FILE[:ref] as NAME
    Import {
        /// oci:DIR[:ref], oci-archive:FILE[:ref] or docker-archive:FILE[:ref]
        source: String,
        /// Name to store the image under
        name: String,
    },
    /// Unpack an image into an OCI runtime bundle
    Unpack {
        /// Image (name:tag or ID)
        image: String,
        /// Bundle directory to write (config.json and rootfs/)
        bundle: String,
    },
    /// Pull an image from its registry into the store (under its short
    /// name: busybox:latest, host:port/repo:tag)
    Pull {
        /// [REGISTRY/]REPOSITORY[:TAG|@DIGEST]
        reference: String,
    },
    /// Push a stored image to the registry its name (or DEST) names
    Push {
        /// Stored image (name:tag)
        name: String,
        /// Where to push it (REGISTRY/REPOSITORY[:TAG]; default: NAME)
        destination: Option<String>,
    },
    /// Check credentials against a registry and store them in
    /// $DOCKER_CONFIG/config.json (default ~/.docker/config.json)
    Login {
        /// User name
        #[arg(short = 'u', long = "username", value_name = "USER")]
        username: Option<String>,
        /// Password (visible to other users in ps: prefer --password-stdin)
        #[arg(
            short = 'p',
            long = "password",
            value_name = "PASS",
            conflicts_with = "password_stdin"
        )]
        password: Option<String>,
        /// Read the password from stdin (one line)
        #[arg(long)]
        password_stdin: bool,
        /// Registry (HOST[:PORT]; default docker.io)
        server: Option<String>,
    },
    /// Remove a registry's stored credentials
    Logout {
        /// Registry (HOST[:PORT]; default docker.io)
        server: Option<String>,
    },
}

/// Everything `--parse-only` and `parse` print.
#[derive(Serialize)]
struct ParseReport<'a> {
    dockerfile: &'a Dockerfile,
    plan: &'a Plan,
    evaluated: &'a [EvaluatedStage],
    #[serde(skip_serializing_if = "Option::is_none")]
    dockerignore: Option<IgnoreReport>,
}

#[derive(Serialize)]
struct IgnoreReport {
    file: Option<String>,
    patterns: Vec<String>,
}

/// One `--output` value, `type=...,dest=...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputSpec {
    pub kind: String,
    pub attrs: BTreeMap<String, String>,
}

pub fn parse_output(spec: &str) -> Result<OutputSpec, String> {
    // `-o dir` is shorthand for `type=local,dest=dir`.
    if !spec.contains('=') {
        let mut attrs = BTreeMap::new();
        attrs.insert("dest".to_string(), spec.to_string());
        return Ok(OutputSpec {
            kind: "local".into(),
            attrs,
        });
    }
    let mut kind = None;
    let mut attrs = BTreeMap::new();
    for field in spec.split(',') {
        let (k, v) = field
            .split_once('=')
            .ok_or_else(|| format!("--output {spec:?}: {field:?} is not key=value"))?;
        if k == "type" {
            kind = Some(v.to_string());
        } else {
            attrs.insert(k.to_string(), v.to_string());
        }
    }
    let kind = kind.ok_or_else(|| {
        format!("--output {spec:?}: missing type=oci-archive|docker-archive|bundle|local")
    })?;
    if !matches!(
        kind.as_str(),
        "local"
            | "oci"
            | "docker"
            | "oci-archive"
            | "docker-archive"
            | "bundle"
            | "image"
            | "registry"
    ) {
        return Err(format!(
            "--output: unknown type {kind:?} (oci-archive, docker-archive, bundle, local, image or registry)"
        ));
    }
    if kind == "registry"
        || (kind == "image" && attrs.get("push").map(String::as_str) == Some("true"))
    {
        let name = attrs
            .get("name")
            .ok_or_else(|| format!("--output type={kind} needs name=REF (the image to push)"))?;
        crate::image::registry::Reference::parse(name)
            .map_err(|e| format!("--output {spec:?}: {e}"))?;
        return Ok(OutputSpec { kind, attrs });
    }
    if kind != "image" && !attrs.contains_key("dest") {
        return Err(format!("--output type={kind} needs dest=PATH"));
    }
    Ok(OutputSpec { kind, attrs })
}

/// `K=V`, or `K` alone meaning "the value of K in my environment" (skipped
/// when unset, as Docker does).
pub fn parse_build_args(args: &[String]) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for a in args {
        match a.split_once('=') {
            Some(("", _)) => return Err(format!("--build-arg {a:?}: empty name")),
            Some((k, v)) => {
                out.insert(k.to_string(), v.to_string());
            }
            None => {
                if let Ok(v) = std::env::var(a) {
                    out.insert(a.clone(), v);
                }
            }
        }
    }
    Ok(out)
}

/// A light check of `name[:tag]` so typos fail before any work is done.
pub fn validate_tag(tag: &str) -> Result<(), String> {
    let (name, version) = match tag.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => (n, Some(t)),
        _ => (tag, None),
    };
    let name_ok = !name.is_empty()
        && name.split('/').all(|c| {
            !c.is_empty()
                && c.chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-:".contains(ch))
        });
    let tag_ok = version.is_none_or(|t| {
        !t.is_empty()
            && t.len() <= 128
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            && !t.starts_with(['.', '-'])
    });
    if name_ok && tag_ok {
        Ok(())
    } else {
        Err(format!(
            "invalid tag {tag:?}: expected lowercase name[:tag]"
        ))
    }
}

/// Reads the Dockerfile; returns its text and the name used in messages.
fn read_dockerfile(path: &str) -> Result<(String, String), String> {
    let bytes = if path == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| format!("reading Dockerfile from stdin: {e}"))?;
        buf
    } else {
        std::fs::read(path).map_err(|e| format!("{path}: cannot read Dockerfile: {e}"))?
    };
    let shown = if path == "-" {
        "Dockerfile".to_string()
    } else {
        path.trim_start_matches("./").to_string()
    };
    match String::from_utf8(bytes) {
        Ok(s) => Ok((s, shown)),
        Err(e) => {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
            Err(format!("{shown}:{line}: file is not valid UTF-8"))
        }
    }
}

fn analyse(
    text: &str,
    shown: &str,
    opts: &BuildOptions,
) -> Result<(Dockerfile, Plan, Vec<EvaluatedStage>), String> {
    let df = parse(text, shown).map_err(|e| e.to_string())?;
    let plan = plan(&df, opts).map_err(|e| e.to_string())?;
    let evaluated = evaluate(&df, &plan, opts).map_err(|e| e.to_string())?;
    Ok((df, plan, evaluated))
}

fn print_json<T: Serialize>(value: &T) -> Result<(), String> {
    let text = serde_json::to_string_pretty(value).map_err(|e| format!("encoding JSON: {e}"))?;
    println!("{text}");
    Ok(())
}

fn run_parse(file: &str, build_args: &[String], target: Option<String>) -> Result<(), String> {
    let opts = BuildOptions {
        build_args: parse_build_args(build_args)?,
        target,
        platform: Platform::default(),
    };
    let (text, shown) = read_dockerfile(file)?;
    let (df, plan, evaluated) = analyse(&text, &shown, &opts)?;
    print_json(&ParseReport {
        dockerfile: &df,
        plan: &plan,
        evaluated: &evaluated,
        dockerignore: None,
    })
}

/// `-o type=registry,name=REF` and `-o type=image,name=REF,push=true`:
/// the references to push the built image to.
fn push_targets(outputs: &[String]) -> Result<Vec<crate::image::registry::Reference>, String> {
    let mut out = Vec::new();
    for o in outputs {
        let spec = parse_output(o)?;
        let push = spec.kind == "registry"
            || (spec.kind == "image" && spec.attrs.get("push").map(String::as_str) == Some("true"));
        if push && let Some(name) = spec.attrs.get("name") {
            out.push(crate::image::registry::Reference::parse(name)?);
        }
    }
    Ok(out)
}

fn registry_settings(cli: &Cli) -> crate::image::registry::Settings {
    crate::image::registry::Settings {
        insecure: cli.insecure_registries.clone(),
        tls_always: Vec::new(),
        certs_dir: None,
    }
}

fn run_build(
    flags: &BuildFlags,
    root: Option<&Path>,
    registries: &crate::image::registry::Settings,
) -> Result<(), String> {
    let context = flags
        .context
        .clone()
        .ok_or("a build context directory is required")?;
    if !context.is_dir() {
        return Err(format!(
            "{}: build context is not a directory",
            context.display()
        ));
    }
    let platform = Platform::parse(&flags.platform)?;
    let secrets = crate::solver::secrets::parse_all(&flags.secrets)?;
    for tag in &flags.tags {
        validate_tag(tag)?;
    }
    for o in &flags.outputs {
        parse_output(o)?;
    }
    let opts = BuildOptions {
        build_args: parse_build_args(&flags.build_args)?,
        target: flags.target.clone(),
        platform,
    };
    let file = match &flags.file {
        Some(f) => f.clone(),
        None => context.join("Dockerfile").display().to_string(),
    };
    let (text, shown) = read_dockerfile(&file)?;
    let (df, plan, evaluated) = analyse(&text, &shown, &opts)?;
    let dockerfile_path = if file == "-" {
        context.join("Dockerfile")
    } else {
        PathBuf::from(&file)
    };
    let (rules, ignore_file) =
        ignore::load(Path::new(&context), &dockerfile_path).map_err(|e| e.to_string())?;

    if flags.progress != Progress::Quiet && flags.internal_stage.is_none() {
        for w in &df.warnings {
            eprintln!("warning: {}:{}: {}", df.file, w.line, w.message);
        }
        if !plan.unused_build_args.is_empty() {
            eprintln!(
                "warning: build-args not consumed by any ARG: {}",
                plan.unused_build_args.join(", ")
            );
        }
    }
    if flags.parse_only {
        return print_json(&ParseReport {
            dockerfile: &df,
            plan: &plan,
            evaluated: &evaluated,
            dockerignore: Some(IgnoreReport {
                file: ignore_file.map(|p| p.display().to_string()),
                patterns: rules.patterns(),
            }),
        });
    }
    let store = open_store(root)?;
    let outputs = flags
        .outputs
        .iter()
        .map(|o| {
            let spec = parse_output(o)?;
            if spec.kind == "image" || spec.kind == "registry" {
                return Ok(None);
            }
            crate::image::export::parse(&spec.kind, &spec.attrs).map(Some)
        })
        .collect::<Result<Vec<_>, String>>()?;
    let context = std::fs::canonicalize(&context)
        .map_err(|e| format!("{}: build context: {e}", context.display()))?;
    let source_date_epoch = opts
        .build_args
        .get("SOURCE_DATE_EPOCH")
        .cloned()
        .or_else(|| std::env::var("SOURCE_DATE_EPOCH").ok())
        .map(|v| {
            v.parse::<u64>()
                .map_err(|_| format!("SOURCE_DATE_EPOCH={v:?}: expected Unix seconds"))
        })
        .transpose()?;
    let compression = crate::image::layer::LayerCompression::parse(&flags.compression)?;
    let child = match (flags.internal_stage, &flags.internal_stage_io) {
        (Some(stage), Some(io)) => Some(crate::solver::build::parallel::ChildStage {
            stage,
            io: io.clone(),
        }),
        _ => None,
    };
    let snapshot_mode = match std::env::var("RT_BUILD_SNAPSHOTTER").as_deref() {
        Ok("copy") => crate::solver::snapshot::Mode::Copy,
        _ => crate::solver::snapshot::Mode::Auto,
    };
    // Overlay mounts go into a private mount namespace: never the host's.
    crate::solver::runner::private_mount_namespace()?;
    let req = crate::solver::build::Request {
        context,
        df: &df,
        plan: &plan,
        stages: &evaluated,
        options: &opts,
        secrets: &secrets,
        ignore: &rules,
        no_cache: flags.no_cache,
        progress: match flags.progress {
            // A child's progress is read by its parent, line by line.
            _ if child.is_some() => crate::solver::progress::Mode::Plain,
            Progress::Quiet => crate::solver::progress::Mode::Quiet,
            Progress::Plain => crate::solver::progress::Mode::Plain,
            Progress::Tty => crate::solver::progress::Mode::Tty,
            Progress::Auto => crate::solver::progress::Mode::auto(),
        },
        snapshot_mode,
        source_date_epoch,
        compression,
        spawner: match child {
            Some(_) => None,
            None => crate::solver::build::parallel::Spawner::from_env(file == "-"),
        },
        child,
        pull: flags.pull,
        registries,
    };
    let pushes = push_targets(&flags.outputs)?;
    // No garbage collection while this build's blobs are unnamed.
    let _gc = crate::image::store::gc::hold(&store)?;
    let Some(img) = crate::solver::build::build(&store, &req)? else {
        return Ok(()); // a child: its parent names and exports
    };
    for tag in &flags.tags {
        store.set_ref(tag, &img.manifest_desc)?;
    }
    for out in outputs.iter().flatten() {
        crate::image::export::write(&store, &img, out, &flags.tags)?;
    }
    for dest in &pushes {
        crate::image::registry::push::push(
            &store,
            registries,
            &img,
            dest,
            flags.progress == Progress::Quiet,
        )
        .map_err(|e| format!("pushing to {dest}: {e}"))?;
    }
    if flags.progress != Progress::Quiet {
        eprintln!("#done writing image {}", img.manifest_desc.digest);
        for tag in &flags.tags {
            eprintln!("#done naming to {tag}");
        }
    }
    println!("{}", img.manifest_desc.digest);
    Ok(())
}

fn open_store(root: Option<&Path>) -> Result<crate::image::store::Store, String> {
    let root = root
        .map(Path::to_path_buf)
        .unwrap_or_else(crate::image::store::default_root);
    crate::image::store::Store::open(&root)
}

fn find_image(
    store: &crate::image::store::Store,
    name: &str,
) -> Result<crate::image::store::Image, String> {
    let desc = store
        .resolve(name)?
        .ok_or_else(|| format!("no image named {name:?} in {}", store.root.display()))?;
    store.load_image(&desc)
}

/// `name[:tag]` → (repository, tag), `latest` when no tag is given.
fn split_name(name: &str) -> (&str, &str) {
    match name.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo, tag),
        _ => (name, "latest"),
    }
}

/// Docker's "About an hour ago" style, from seconds elapsed.
fn ago(secs: i64) -> String {
    let unit = |n: i64, one: &str, many: &str| {
        if n == 1 {
            format!("{one} ago")
        } else {
            format!("{n} {many} ago")
        }
    };
    match secs {
        s if s < 1 => "Less than a second ago".into(),
        s if s < 60 => unit(s, "1 second", "seconds"),
        s if s < 3600 => unit(s / 60, "About a minute", "minutes"),
        s if s < 86400 => unit(s / 3600, "About an hour", "hours"),
        s if s < 86400 * 14 => unit(s / 86400, "1 day", "days"),
        s if s < 86400 * 60 => unit(s / (86400 * 7), "1 week", "weeks"),
        s if s < 86400 * 365 * 2 => unit(s / (86400 * 30), "1 month", "months"),
        s => unit(s / (86400 * 365), "1 year", "years"),
    }
}

/// Decimal units with three significant digits, as Docker prints sizes
/// (1.04MB, 12.3kB, 512B).
fn human_size(n: u64) -> String {
    let mut v = n as f64;
    let mut unit = 0;
    let units = ["B", "kB", "MB", "GB", "TB", "PB"];
    while v >= 1000.0 && unit + 1 < units.len() {
        v /= 1000.0;
        unit += 1;
    }
    let decimals = if v < 10.0 {
        2
    } else if v < 100.0 {
        1
    } else {
        0
    };
    let text = format!("{v:.decimals$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        &text
    };
    format!("{text}{}", units[unit])
}

/// `docker images`: REPOSITORY, TAG, IMAGE ID (the config digest), CREATED,
/// SIZE (the layers as stored, compressed).
fn run_images(root: Option<&Path>, quiet: bool, no_trunc: bool) -> Result<(), String> {
    let store = open_store(root)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let mut rows = Vec::new();
    for d in store.index()?.manifests {
        let name = d.ref_name().unwrap_or("<none>").to_string();
        let (repo, tag) = split_name(&name);
        let (id, size, created) = match store.load_image(&d) {
            Ok(img) => (
                img.manifest.config.digest.clone(),
                human_size(img.manifest.layers.iter().map(|l| l.size).sum::<u64>()),
                img.config
                    .created
                    .as_deref()
                    .and_then(crate::image::parse_rfc3339)
                    .map_or_else(|| "N/A".to_string(), |t| ago(now - t)),
            ),
            Err(_) => (d.digest.clone(), "?".into(), "<unreadable>".into()),
        };
        let id = if no_trunc {
            id
        } else {
            id.trim_start_matches("sha256:").chars().take(12).collect()
        };
        rows.push([repo.to_string(), tag.to_string(), id, created, size]);
    }
    if quiet {
        for r in &rows {
            println!("{}", r[2]);
        }
        return Ok(());
    }
    let header = ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"];
    let width = |i: usize| {
        rows.iter()
            .map(|r| r[i].len())
            .chain([header[i].len()])
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..4).map(width).collect();
    let line = |cols: [&str; 5]| {
        let mut s = String::new();
        for (i, c) in cols.iter().enumerate().take(4) {
            s.push_str(&format!("{c:<w$}   ", w = widths[i]));
        }
        s.push_str(cols[4]);
        s
    };
    println!("{}", line(header));
    for r in &rows {
        println!("{}", line([&r[0], &r[1], &r[2], &r[3], &r[4]]));
    }
    Ok(())
}

fn run_rmi(root: Option<&Path>, names: &[String]) -> Result<(), String> {
    let store = open_store(root)?;
    let mut untagged = Vec::new();
    let mut failed = None;
    for name in names {
        let full = crate::image::store::normalize_name(name);
        let removed = store.update_index(|index| {
            let (gone, kept) = index.manifests.drain(..).partition(|d| {
                d.ref_name().map(crate::image::store::normalize_name) == Some(full.clone())
            });
            index.manifests = kept;
            Ok::<Vec<_>, String>(gone)
        })?;
        if removed.is_empty() {
            failed = Some(format!("no image named {name:?}"));
            break;
        }
        println!("Untagged: {full}");
        untagged.extend(removed);
    }
    if !untagged.is_empty() {
        // The removed images' own layers go even when the step cache
        // records them; other cached layers stay (see store::gc).
        let released = crate::image::store::gc::blobs_of(&store, &untagged);
        match crate::image::store::gc::collect(&store, &released)? {
            Some(r) => println!(
                "Deleted: {} blobs ({} bytes), {} unpacked layers, {} cache entries",
                r.blobs, r.bytes, r.unpacked, r.cache_records
            ),
            None => eprintln!(
                "rt-build: a build or import is running on this store: blobs not collected (run `rt-build prune` later)"
            ),
        }
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn run_prune(root: Option<&Path>) -> Result<(), String> {
    let store = open_store(root)?;
    let (records, mounts, report) = crate::image::store::gc::prune(&store)?;
    let r = report.unwrap_or_default();
    println!(
        "Deleted build cache: {records} step entries, {mounts} cache mounts; {} blobs ({} bytes), {} unpacked layers",
        r.blobs, r.bytes, r.unpacked
    );
    Ok(())
}

fn run_tag(root: Option<&Path>, source: &str, target: &str) -> Result<(), String> {
    validate_tag(target)?;
    let store = open_store(root)?;
    let img = find_image(&store, source)?;
    store.set_ref(target, &img.manifest_desc)
}

/// `docker image inspect`'s shape (a JSON array, Id = the config digest,
/// RepoTags, Created, Architecture, Os, Config, RootFS, Size), plus what
/// an OCI store adds: the manifest descriptor and manifest, and the whole
/// image config as stored (`Image`).
fn run_inspect(root: Option<&Path>, name: &str) -> Result<(), String> {
    let store = open_store(root)?;
    let img = find_image(&store, name)?;
    let tags: Vec<String> = store
        .index()?
        .manifests
        .iter()
        .filter(|d| d.digest == img.manifest_desc.digest)
        .filter_map(|d| d.ref_name())
        .map(|n| {
            let (repo, tag) = split_name(n);
            format!("{repo}:{tag}")
        })
        .collect();
    let c = &img.config;
    print_json(&serde_json::json!([{
        "Id": img.manifest.config.digest,
        "RepoTags": tags,
        "RepoDigests": [],
        "Created": c.created,
        "Author": c.author,
        "Architecture": c.architecture,
        "Os": c.os,
        "Config": c.config,
        "RootFS": {"Type": "layers", "Layers": c.rootfs.diff_ids},
        "Size": img.manifest.layers.iter().map(|l| l.size).sum::<u64>(),
        "Descriptor": img.manifest_desc,
        "Manifest": img.manifest,
        "Image": img.config,
    }]))
}

fn run_import(root: Option<&Path>, source: &str, name: &str) -> Result<(), String> {
    validate_tag(name)?;
    let store = open_store(root)?;
    let _gc = crate::image::store::gc::hold(&store)?;
    let img = crate::image::import::resolve(&store, source)?;
    unpack_for_builds(&store, &img)?;
    store.set_ref(name, &img.manifest_desc)?;
    println!("{}", img.manifest_desc.digest);
    Ok(())
}

/// As `docker pull` and `docker load` do, an imported or pulled image's
/// layers are unpacked at once (into the store's unpacked-layer cache), so
/// a build FROM it starts without unpacking, and a layer that cannot be
/// unpacked fails the import, not a later build.
fn unpack_for_builds(
    store: &crate::image::store::Store,
    img: &crate::image::store::Image,
) -> Result<(), String> {
    crate::image::import::unpacked_layers(store, &img.manifest.layers, &img.config.rootfs.diff_ids)
        .map(|_| ())
}

fn run_unpack(root: Option<&Path>, name: &str, bundle: &str) -> Result<(), String> {
    let store = open_store(root)?;
    let img = find_image(&store, name)?;
    crate::image::bundle::write_bundle(&store, &img, Path::new(bundle))
}

fn run_pull(
    root: Option<&Path>,
    settings: &crate::image::registry::Settings,
    reference: &str,
) -> Result<(), String> {
    let r = crate::image::registry::Reference::parse(reference)?;
    let store = open_store(root)?;
    let _gc = crate::image::store::gc::hold(&store)?;
    let img = crate::image::registry::pull::pull(&store, settings, &r, false)?;
    unpack_for_builds(&store, &img)?;
    store.set_ref(&r.familiar(), &img.manifest_desc)?;
    eprintln!("#done {r} stored as {}", r.familiar());
    println!("{}", img.manifest_desc.digest);
    Ok(())
}

fn run_push(
    root: Option<&Path>,
    settings: &crate::image::registry::Settings,
    name: &str,
    destination: Option<&str>,
) -> Result<(), String> {
    let store = open_store(root)?;
    let img = find_image(&store, name)?;
    let dest = crate::image::registry::Reference::parse(destination.unwrap_or(name))?;
    let report = crate::image::registry::push::push(&store, settings, &img, &dest, false)
        .map_err(|e| format!("pushing {name} to {dest}: {e}"))?;
    println!("{}", report.manifest_digest);
    Ok(())
}

/// The registry a `login`/`logout` argument names: `host[:port]`, also
/// accepted as a URL (`https://host/v2/`); none means Docker Hub.
fn login_server(server: Option<&str>) -> Result<String, String> {
    let s = server.unwrap_or(crate::image::registry::reference::DOCKER_HUB);
    let s = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .unwrap_or(s);
    let host = s.split('/').next().unwrap_or("");
    let host = match host {
        "index.docker.io" | "registry-1.docker.io" => crate::image::registry::reference::DOCKER_HUB,
        h => h,
    };
    if host.is_empty()
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
    {
        return Err(format!("{s:?} is not a registry host[:port]"));
    }
    Ok(host.to_string())
}

fn run_login(
    settings: &crate::image::registry::Settings,
    username: Option<&str>,
    password: Option<&str>,
    password_stdin: bool,
    server: Option<&str>,
) -> Result<(), String> {
    let registry = login_server(server)?;
    let user = username
        .filter(|u| !u.is_empty())
        .ok_or("login: a user name is required (-u USER)")?;
    let password = match (password, password_stdin) {
        (Some(p), _) => {
            eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
            p.to_string()
        }
        (None, true) => {
            let mut line = String::new();
            std::io::stdin()
                .take(64 << 10)
                .read_to_string(&mut line)
                .map_err(|e| format!("login: reading the password from stdin: {e}"))?;
            line.trim_end_matches(['\n', '\r']).to_string()
        }
        (None, false) => {
            return Err("login: give the password with -p PASS or --password-stdin".into());
        }
    };
    if password.is_empty() {
        return Err("login: empty password".into());
    }
    let creds = crate::image::registry::credentials::Credentials {
        user: user.to_string(),
        password,
    };
    let api_host = if registry == crate::image::registry::reference::DOCKER_HUB {
        "registry-1.docker.io"
    } else {
        registry.as_str()
    };
    // GET /v2/ with the credentials (Basic, or for a token realm a
    // token fetched with them): a 401 means they are wrong.
    let client = crate::image::registry::client::Client::with_credentials(
        settings,
        &registry,
        api_host,
        "",
        Some(creds.clone()),
    )?;
    client
        .ping()
        .map_err(|e| format!("login to {registry} failed: {e}"))?;
    crate::image::registry::credentials::store(&registry, Some(&creds))?;
    println!("Login Succeeded");
    Ok(())
}

fn run_logout(server: Option<&str>) -> Result<(), String> {
    let registry = login_server(server)?;
    if crate::image::registry::credentials::store(&registry, None)? {
        println!("Removing login credentials for {registry}");
    } else {
        println!("Not logged in to {registry}");
    }
    Ok(())
}

/// Runs the CLI and returns the process exit code.
/// The whole command line as clap sees it, for the man pages and shell
/// completions that `hack/docgen` writes from it.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

pub fn main() -> i32 {
    let cli = Cli::parse();
    let root = cli.root.as_deref();
    let registries = registry_settings(&cli);
    let result = match &cli.command {
        Some(Command::Parse {
            file,
            build_args,
            target,
        }) => run_parse(file, build_args, target.clone()),
        Some(Command::Images { quiet, no_trunc }) => run_images(root, *quiet, *no_trunc),
        Some(Command::Rmi { names }) => run_rmi(root, names),
        Some(Command::Prune) => run_prune(root),
        Some(Command::Tag { source, target }) => run_tag(root, source, target),
        Some(Command::Inspect { name }) => run_inspect(root, name),
        Some(Command::Import { source, name }) => run_import(root, source, name),
        Some(Command::Unpack { image, bundle }) => run_unpack(root, image, bundle),
        Some(Command::Pull { reference }) => run_pull(root, &registries, reference),
        Some(Command::Push { name, destination }) => {
            run_push(root, &registries, name, destination.as_deref())
        }
        Some(Command::Login {
            username,
            password,
            password_stdin,
            server,
        }) => run_login(
            &registries,
            username.as_deref(),
            password.as_deref(),
            *password_stdin,
            server.as_deref(),
        ),
        Some(Command::Logout { server }) => run_logout(server.as_deref()),
        // RUN steps clone rt-build itself into the build container; it must
        // not be the writable on-disk binary there (CVE-2019-5736, see
        // rt's src/exe_protection.rs). This may re-execute rt-build.
        None => rt::exe_protection::ensure()
            .map_err(|e| e.to_string())
            .and_then(|()| run_build(&cli.build, root, &registries)),
        Some(Command::Build(flags)) => rt::exe_protection::ensure()
            .map_err(|e| e.to_string())
            .and_then(|()| run_build(flags, root, &registries)),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("rt-build: {e}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn docker_style_flags_parse() {
        let cli = Cli::try_parse_from([
            "rt-build",
            "-f",
            "x.df",
            "-t",
            "a:1",
            "-t",
            "b",
            "--build-arg",
            "K=V",
            "--target",
            "t",
            "--no-cache",
            "--progress",
            "plain",
            "-o",
            "type=oci,dest=o.tar",
            ".",
        ])
        .unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.build.tags, vec!["a:1", "b"]);
        assert_eq!(cli.build.progress, Progress::Plain);
        assert!(cli.build.no_cache);
        assert_eq!(cli.build.context, Some(PathBuf::from(".")));
    }

    #[test]
    fn docker_style_listing_helpers() {
        assert_eq!(human_size(512), "512B");
        assert_eq!(human_size(1_035_045), "1.04MB");
        assert_eq!(human_size(12_300), "12.3kB");
        assert_eq!(human_size(1_000_000), "1MB");
        assert_eq!(split_name("app"), ("app", "latest"));
        assert_eq!(split_name("host:5000/app:v1"), ("host:5000/app", "v1"));
        assert_eq!(split_name("host:5000/app"), ("host:5000/app", "latest"));
        assert_eq!(ago(30), "30 seconds ago");
        assert_eq!(ago(90), "About a minute ago");
        assert_eq!(ago(7200), "2 hours ago");
    }

    #[test]
    fn build_verb_takes_the_same_flags() {
        let cli = Cli::try_parse_from([
            "rt-build",
            "--root",
            "/s",
            "build",
            "-t",
            "a",
            "--no-cache",
            "-f",
            "D",
            "ctx",
        ])
        .unwrap();
        let Some(Command::Build(b)) = cli.command else {
            panic!("not the build verb: {:?}", cli.command);
        };
        assert_eq!(b.tags, vec!["a"]);
        assert!(b.no_cache);
        assert_eq!(b.file.as_deref(), Some("D"));
        assert_eq!(b.context, Some(PathBuf::from("ctx")));
        assert_eq!(cli.root, Some(PathBuf::from("/s")));
        // `build` with no context is an error, as `docker build` is.
        assert!(Cli::try_parse_from(["rt-build", "build", "-t", "a"]).is_err());
    }

    #[test]
    fn subcommands_parse_without_context() {
        let cli = Cli::try_parse_from(["rt-build", "tag", "a", "b"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Tag { .. })));
        assert!(Cli::try_parse_from(["rt-build"]).is_err());
    }

    #[test]
    fn outputs() {
        let o = parse_output("type=local,dest=out").unwrap();
        assert_eq!(
            (o.kind.as_str(), o.attrs["dest"].as_str()),
            ("local", "out")
        );
        assert_eq!(parse_output("outdir").unwrap().kind, "local");
        assert!(
            parse_output("type=zip,dest=x")
                .unwrap_err()
                .contains("unknown type")
        );
        assert!(
            parse_output("type=bundle")
                .unwrap_err()
                .contains("needs dest")
        );
        assert!(
            parse_output("dest=x,foo")
                .unwrap_err()
                .contains("not key=value")
        );
        assert!(parse_output("type=image,name=x").is_ok());
    }

    #[test]
    fn registry_outputs_flags_and_login_servers() {
        assert!(parse_output("type=registry,name=127.0.0.1:5000/a:1").is_ok());
        assert!(
            parse_output("type=registry")
                .unwrap_err()
                .contains("needs name=REF")
        );
        assert!(parse_output("type=registry,name=Bad").is_err());
        let t = push_targets(&[
            "type=registry,name=h.io/a:1".into(),
            "type=image,name=x".into(),
            "type=image,name=h.io/b,push=true".into(),
        ])
        .unwrap();
        let shown: Vec<String> = t.iter().map(|r| r.to_string()).collect();
        assert_eq!(shown, ["h.io/a:1", "h.io/b:latest"]);
        assert_eq!(login_server(None).unwrap(), "docker.io");
        assert_eq!(
            login_server(Some("https://index.docker.io/v1/")).unwrap(),
            "docker.io"
        );
        assert_eq!(
            login_server(Some("http://127.0.0.1:5000/v2/")).unwrap(),
            "127.0.0.1:5000"
        );
        assert!(login_server(Some("a b")).is_err());
        let cli = Cli::try_parse_from([
            "rt-build",
            "--insecure-registry",
            "r.lan:5000",
            "--pull",
            "never",
            ".",
        ])
        .unwrap();
        assert_eq!(cli.build.pull, crate::image::registry::PullPolicy::Never);
        assert_eq!(registry_settings(&cli).insecure, vec!["r.lan:5000"]);
        assert_eq!(
            Cli::try_parse_from(["rt-build", "."]).unwrap().build.pull,
            crate::image::registry::PullPolicy::Missing
        );
    }

    #[test]
    fn build_args() {
        let a = parse_build_args(&["A=1".into(), "B=".into(), "C=x=y".into()]).unwrap();
        assert_eq!(a["A"], "1");
        assert_eq!(a["B"], "");
        assert_eq!(a["C"], "x=y");
        assert!(parse_build_args(&["=v".into()]).is_err());
        let a = parse_build_args(&["RT_BUILD_SURELY_UNSET_VAR".into()]).unwrap();
        assert!(a.is_empty());
    }

    #[test]
    fn tags() {
        for ok in [
            "app",
            "app:1.0",
            "registry.local:5000/team/app:v2",
            "a_b-c.d",
        ] {
            assert_eq!(validate_tag(ok), Ok(()), "{ok}");
        }
        for bad in ["App", "app:", "app:-x", "", "a//b", "app:has space"] {
            assert!(validate_tag(bad).is_err(), "{bad}");
        }
    }
}
