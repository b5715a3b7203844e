//! The filesystem steps: RUN, COPY/ADD and WORKDIR. Each computes its
//! cache key first (no filesystem work on a hit), then runs on a snapshot
//! and commits the upper dir as a layer.

use super::meta::{command_args, workdir};
use super::{Builder, State};
use crate::frontend::dockerfile::ast::{Add, CommandLine, Copy, CopySource, Instruction, Run};
use crate::frontend::dockerfile::evaluate::Step;
use crate::image::RunConfig;
use crate::image::layer::paths::{clean, resolve_parent};
use crate::image::layer::stubs::MountStubs;
use crate::image::layer::{LayerInfo, LayerOptions, write_layer};
use crate::solver::cache;
use crate::solver::chmod;
use crate::solver::copy::{self, Dest, Filter, Match};
use crate::solver::hot;
use crate::solver::progress::StepLog;
use crate::solver::runner::{self, RunSpec};
use crate::solver::snapshot::{Mode, ReadOnlyView, Snapshot};
use serde_json::json;
use std::path::{Path, PathBuf};

/// COPY and ADD share everything but a few flags.
pub struct CopyArgs<'a> {
    pub is_add: bool,
    pub sources: &'a [CopySource],
    pub dest: &'a str,
    pub from: Option<&'a str>,
    pub chown: Option<&'a str>,
    pub chmod: Option<&'a str>,
    pub link: bool,
    pub parents: bool,
    pub excludes: &'a [String],
    pub unpack: Option<bool>,
    /// ADD --checksum, for URL sources.
    pub checksum: Option<&'a str>,
}

impl<'a> CopyArgs<'a> {
    pub fn from_copy(c: &'a Copy) -> Self {
        CopyArgs {
            is_add: false,
            sources: &c.sources,
            dest: &c.dest,
            from: c.from.as_deref(),
            chown: c.chown.as_deref(),
            chmod: c.chmod.as_deref(),
            link: c.link,
            parents: c.parents,
            excludes: &c.excludes,
            unpack: None,
            checksum: None,
        }
    }

    pub fn from_add(a: &'a Add) -> Self {
        CopyArgs {
            is_add: true,
            sources: &a.sources,
            dest: &a.dest,
            from: None,
            chown: a.chown.as_deref(),
            chmod: a.chmod.as_deref(),
            link: a.link,
            parents: false,
            excludes: &a.excludes,
            unpack: a.unpack,
            checksum: a.checksum.as_deref(),
        }
    }
}

/// Where COPY (and RUN --mount from=) reads from.
pub(super) enum SourceRoot {
    Context,
    /// A stage or image state (read through a read-only view).
    State(Box<State>),
}

/// A source resolved before the cache lookup.
enum Resolved {
    Paths(Vec<Match>),
    Heredoc {
        name: String,
        content: String,
    },
    Url {
        name: Option<String>,
        data: Vec<u8>,
        mtime: Option<i64>,
    },
}

impl Builder<'_> {
    fn layer_options(&self) -> LayerOptions {
        LayerOptions {
            clamp_mtime: self.req.source_date_epoch,
            compression: self.req.compression,
        }
    }

    /// Unmounts the snapshot and turns its upper dir into a layer (kept as
    /// the layer's lower dir for later steps).
    fn commit(&self, snap: &mut Snapshot) -> Result<Option<LayerInfo>, String> {
        snap.finish()?;
        let layer = write_layer(self.store, &snap.upper, &self.layer_options())?;
        if let Some(l) = &layer {
            self.keep_upper(snap, l)?;
        }
        Ok(layer)
    }

    /// A committed upper dir becomes the layer's lower dir for later
    /// steps: where it is, on this process's tmpfs (`hot`), or else in the
    /// store's unpacked-layer cache.
    fn keep_upper(&self, snap: &Snapshot, l: &LayerInfo) -> Result<(), String> {
        if !hot::holds(&snap.upper) {
            let dest = self.store.unpacked_dir(&l.diff_id)?;
            if snap.volatile && !dest.exists() {
                crate::image::store::unsynced::mark(self.store, &l.diff_id)?;
            }
            return snap.take_upper(&dest);
        }
        if hot::lookup(&l.diff_id).is_some() {
            return Ok(());
        }
        let Some(dir) = hot::layer_dir(&l.diff_id) else {
            return Ok(());
        };
        if let Some(parent) = dir.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        snap.take_upper(&dir)?;
        hot::keep(&l.diff_id, dir);
        Ok(())
    }

    /// Runs the body of a COPY, ADD or WORKDIR on a snapshot of `lowers`
    /// and commits it: with the upper dir on this process's tmpfs when
    /// there is one (see `hot`: the same overlay and code, far fewer disk
    /// inode allocations), and on disk when hot layers are off or the
    /// attempt fails there (a full tmpfs, say), so the result never
    /// depends on the tmpfs.
    fn snapshot_step(
        &self,
        lowers: &[PathBuf],
        body: &dyn Fn(&mut Snapshot) -> Result<(), String>,
    ) -> Result<Option<LayerInfo>, String> {
        if self.req.snapshot_mode == Mode::Auto
            && let Some(tmp) = hot::area(self.store)
        {
            let attempt = Snapshot::prepare_overlay(&tmp, lowers).and_then(|mut snap| {
                body(&mut snap)?;
                self.commit(&mut snap)
            });
            if let Ok(layer) = attempt {
                return Ok(layer);
            }
        }
        let mut snap = Snapshot::prepare(&self.store.tmp_dir(), lowers, self.req.snapshot_mode)?;
        body(&mut snap)?;
        self.commit(&mut snap)
    }

    pub(super) fn run_step(
        &mut self,
        state: &mut State,
        step: &Step,
        run: &Run,
        log: &mut StepLog,
    ) -> Result<bool, String> {
        let network = crate::solver::netns::Network::from_flag(run.network.as_deref())?;
        let c = &state.config.config;
        let (args, script) = run_heredocs(c, run)?;
        let run_env =
            step.run_env
                .clone()
                .unwrap_or(crate::frontend::dockerfile::scope::RunEnvironment {
                    env: vec![],
                    proxy: vec![],
                });
        // BuildKit's RUN environment: the names in the order they first
        // entered it (the base image's Env, ENV, ARG with a value), each
        // with its latest value (an ARG declared after an ENV of its name
        // replaces it in place); the image's Env fills in any name the
        // stage's scope did not see. Linear: a stage may set 100,000
        // variables.
        let mut names: std::collections::HashSet<String> =
            run_env.env.iter().map(|(k, _)| k.clone()).collect();
        let mut env: Vec<String> = run_env
            .env
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        for e in c.env.iter().flatten() {
            let k = e.split('=').next().unwrap_or_default();
            if names.insert(k.to_string()) {
                env.push(e.clone());
            }
        }
        if !names.contains("PATH") {
            env.insert(0, format!("PATH={}", crate::image::DEFAULT_PATH));
        }
        let cwd = c
            .working_dir
            .clone()
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| "/".into());
        let user = c.user.clone().unwrap_or_default();
        let (planned_mounts, mount_keys) = self.plan_mounts(&run.mounts, &cwd)?;
        let mut definition = json!({
            "parent": state.fs_key,
            "run": {"args": args, "env": env, "cwd": cwd, "user": user, "network": network.name()},
        });
        if !mount_keys.is_empty() {
            definition["run"]["mounts"] = json!(mount_keys);
        }
        if let Some(sc) = &script {
            definition["run"]["script"] = json!({"path": sc.path, "content": sc.content});
        }
        let key = cache::key(&definition);
        let created_by = format!("RUN {}", args.join(" "));
        let proxy: Vec<String> = run_env
            .proxy
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        self.cached_step(state, key, created_by, |b, st| {
            let lowers = st.lowers(b.store)?;
            let mut snap = Snapshot::prepare(&b.store.tmp_dir(), &lowers, b.req.snapshot_mode)?;
            let mut live = b.live_mounts(&planned_mounts)?;
            let tmp = b.store.tmp_dir();
            if let Some(sc) = &script {
                live.add_file(&tmp, &sc.path, sc.content.as_bytes(), 0o755, true)?;
            }
            let netns = match network {
                crate::solver::netns::Network::Sandbox => Some(b.sandbox_net()?),
                _ => None,
            };
            // As BuildKit: name resolution as the host has it (through the
            // sandbox's forwarder when the host's resolver is on its own
            // loopback), and a hosts file for localhost; writes to them are
            // thrown away with the step.
            let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
            let resolv = crate::solver::netns::resolv_conf(network, &host_resolv);
            live.add_file(&tmp, "/etc/resolv.conf", resolv.as_bytes(), 0o644, false)?;
            let hosts = crate::solver::netns::hosts(runner::HOSTNAME);
            live.add_file(&tmp, "/etc/hosts", hosts.as_bytes(), 0o644, false)?;
            let mut targets = runner::mount_points();
            targets.extend(live.targets());
            // Mount points the runtime will create are not content.
            let stubs = MountStubs::record(&snap.merged, &targets);
            let cwd_host = resolve_parent(&snap.merged, Path::new(&cwd), true)?;
            if !cwd_host.exists() {
                std::fs::create_dir(&cwd_host)
                    .map_err(|e| format!("creating WORKDIR {cwd}: {e}"))?;
            }
            let u = crate::solver::users::resolve(&snap.merged, &user)
                .map_err(|e| format!("USER {user:?}: {e}"))?;
            if !names.contains("HOME") {
                env.push(format!(
                    "HOME={}",
                    u.home.clone().unwrap_or_else(|| "/".into())
                ));
            }
            let mut full_env = env.clone();
            full_env.extend(proxy);
            full_env.extend(live.env.iter().cloned());
            let spec = RunSpec {
                args: args.clone(),
                env: full_env,
                cwd: cwd.clone(),
                uid: u.uid,
                gid: u.gid,
                additional_gids: u.additional_gids,
                network,
                netns,
                mounts: live.entries.clone(),
            };
            let code = runner::run(
                &b.store.state_dir().join("run"),
                &b.store.tmp_dir(),
                &snap.merged,
                &spec,
                &mut |bytes| log.output(bytes),
            )?;
            log.flush();
            drop(live);
            if code != 0 {
                let mut msg = format!(
                    "process {:?} did not complete successfully: exit code: {code}",
                    args.join(" ")
                );
                if !log.tail.is_empty() {
                    let tail: Vec<String> = log.tail.iter().cloned().collect();
                    msg.push_str("\n--- last output lines ---\n");
                    msg.push_str(&tail.join("\n"));
                }
                return Err(msg);
            }
            snap.finish()?;
            stubs.clean(&snap.upper);
            let layer = write_layer(b.store, &snap.upper, &b.layer_options())?;
            if let Some(l) = &layer {
                b.keep_upper(&snap, l)?;
            }
            Ok(layer)
        })
    }

    pub(super) fn workdir_step(
        &mut self,
        state: &mut State,
        path: &str,
        _log: &mut StepLog,
    ) -> Result<bool, String> {
        let dir = workdir(&state.config.config, path);
        state.config.config.working_dir = Some(dir.clone());
        // Missing directories are made as the current USER (BuildKit's
        // Mkdir WithParents WithUser), so the user is part of the key.
        let user = state.config.config.user.clone().unwrap_or_default();
        let key = cache::key(&json!({"parent": state.fs_key, "mkdir": dir, "user": user}));
        self.cached_step(state, key, format!("WORKDIR {dir}"), |b, st| {
            let lowers = st.lowers(b.store)?;
            b.snapshot_step(&lowers, &|snap| {
                let owner = if user.is_empty() {
                    (0, 0)
                } else {
                    let u = crate::solver::users::resolve(&snap.merged, &user)
                        .map_err(|e| format!("USER {user:?}: {e}"))?;
                    (u.uid, u.gid)
                };
                crate::solver::copy::mkdir_all(&snap.merged, Path::new(&dir), owner)?;
                Ok(())
            })
        })
    }

    /// Finds `--from`'s stage (by name or index) or image.
    pub(super) fn source_root(&mut self, from: Option<&str>) -> Result<SourceRoot, String> {
        let Some(from) = from else {
            return Ok(SourceRoot::Context);
        };
        let lower = from.to_ascii_lowercase();
        let df = self.req.df;
        let index = df
            .stages
            .iter()
            .position(|s| s.name.as_deref() == Some(lower.as_str()))
            .or_else(|| from.parse::<usize>().ok().filter(|i| *i < df.stages.len()));
        if let Some(i) = index {
            return self
                .done
                .get(&i)
                .cloned()
                .map(|s| SourceRoot::State(Box::new(s)))
                .ok_or_else(|| format!("--from={from}: stage not built yet"));
        }
        if !self.images.contains_key(from) {
            let img = self.image(from)?;
            self.images
                .insert(from.to_string(), super::state_of_image(&img));
        }
        Ok(SourceRoot::State(Box::new(self.images[from].clone())))
    }

    pub(super) fn copy_step(
        &mut self,
        state: &mut State,
        inst: &Instruction,
        a: CopyArgs,
        _log: &mut StepLog,
    ) -> Result<bool, String> {
        let mode = match a.chmod {
            Some(m) => Some(chmod::parse(m)?),
            None => None,
        };
        let root = self.source_root(a.from)?;
        let view = match &root {
            SourceRoot::Context => None,
            SourceRoot::State(s) => Some(ReadOnlyView::new(
                &self.store.tmp_dir(),
                &s.lowers(self.store)?,
                self.req.snapshot_mode,
            )?),
        };
        let src_root: PathBuf = match &view {
            Some(v) => v.root.clone(),
            None => self.req.context.clone(),
        };
        let ignore = matches!(root, SourceRoot::Context).then_some(self.req.ignore);
        let filter = Filter::new(ignore, a.excludes)?;
        // Resolve the sources and checksum them before any other work.
        let mut resolved = Vec::new();
        let mut sums = Vec::new();
        for s in a.sources {
            match s {
                CopySource::Heredoc(h) => {
                    sums.push(json!({"heredoc": h.name, "content": crate::image::digest::sha256_bytes(h.content.as_bytes())}));
                    resolved.push(Resolved::Heredoc {
                        name: h.name.clone(),
                        content: h.content.clone(),
                    });
                }
                CopySource::Path(p) if a.is_add && crate::solver::fetch::is_url(p) => {
                    let d = crate::solver::fetch::get(p)?;
                    if let Some(sum) = a.checksum {
                        crate::solver::fetch::verify_checksum(p, sum, &d.data)?;
                    }
                    sums.push(
                        json!({"url": p, "content": crate::image::digest::sha256_bytes(&d.data)}),
                    );
                    resolved.push(Resolved::Url {
                        name: crate::solver::fetch::file_name(&d.url),
                        data: d.data,
                        mtime: d.mtime,
                    });
                }
                CopySource::Path(p) if a.checksum.is_some() => {
                    return Err(format!(
                        "{p}: ADD --checksum is only supported for http(s) sources"
                    ));
                }
                CopySource::Path(p) => {
                    let matches = copy::expand(&src_root, p, &filter)?;
                    let sum = match &root {
                        SourceRoot::Context => {
                            let files = copy::list_files(&src_root, &matches, &filter)?;
                            let top: Vec<PathBuf> = matches.iter().map(|m| m.rel.clone()).collect();
                            self.hashes.checksum(&src_root, &files, &top)?
                        }
                        // A stage/image is identified by its filesystem key.
                        SourceRoot::State(s) => s.fs_key.clone(),
                    };
                    let rels: Vec<String> = matches
                        .iter()
                        .map(|m| m.rel.display().to_string())
                        .collect();
                    sums.push(json!({"pattern": p, "matches": rels, "sum": sum}));
                    resolved.push(Resolved::Paths(matches));
                }
            }
        }
        let dest = if a.dest.starts_with('/') {
            a.dest.to_string()
        } else {
            let wd = state
                .config
                .config
                .working_dir
                .clone()
                .unwrap_or_else(|| "/".into());
            let mut d = format!("{}/{}", wd.trim_end_matches('/'), a.dest);
            if a.dest == "." || a.dest == "./" {
                d = format!("{}/", wd.trim_end_matches('/'));
            }
            d
        };
        let numeric_owner = a
            .chown
            .is_none_or(|c| c.split(':').all(|p| p.parse::<u32>().is_ok()));
        let parent_key = if a.link && numeric_owner {
            serde_json::Value::Null
        } else {
            json!(state.fs_key)
        };
        // Files from a stage or an image keep their owners unless --chown
        // says otherwise; the context's (and heredocs', URLs') become 0:0.
        let keep_owners = a.chown.is_none() && matches!(root, SourceRoot::State(_));
        let definition = json!({
            "parent": parent_key,
            "op": if a.is_add { "add" } else { "copy" },
            "sources": sums, "dest": dest, "chown": a.chown, "chmod": a.chmod,
            "link": a.link, "parents": a.parents, "excludes": a.excludes, "unpack": a.unpack,
        });
        let key = cache::key(&definition);
        let created_by = inst.original.trim().to_string();
        let is_add = a.is_add;
        let (chown, link, parents, unpack) =
            (a.chown.map(String::from), a.link, a.parents, a.unpack);
        self.cached_step(state, key, created_by, move |b, st| {
            let lowers = if link { Vec::new() } else { st.lowers(b.store)? };
            // COPY --link --chown=NAME: the name is the image's, not the
            // empty base's the layer is made on.
            let link_owner = match &chown {
                Some(c) if link && !numeric_owner => {
                    let v = ReadOnlyView::new(&b.store.tmp_dir(), &st.lowers(b.store)?, b.req.snapshot_mode)?;
                    Some(crate::solver::users::resolve_chown(&v.root, c)?)
                }
                _ => None,
            };
            b.snapshot_step(&lowers, &|snap| {
            let owner = match &chown {
                None if keep_owners => None,
                None => Some((0, 0)),
                Some(_) if link_owner.is_some() => link_owner,
                Some(c) => Some(crate::solver::users::resolve_chown(&snap.merged, c)?),
            };
            let d = Dest { rootfs: &snap.merged, path: dest.clone(), owner, chmod: mode.as_ref(), parents, links: Default::default() };
            let multiple = resolved.len() > 1;
            for r in &resolved {
                match r {
                    Resolved::Heredoc { name, content } => {
                        let into = d.is_dir(multiple)?;
                        copy::write_file(&d, name, content.as_bytes(), 0o644, into)?;
                    }
                    Resolved::Url { name, data, mtime } => {
                        let into = d.is_dir(multiple)?;
                        let name = match (into, name) {
                            (true, Some(n)) => n.clone(),
                            (true, None) => return Err("cannot determine a file name from the URL; give a destination file".into()),
                            (false, _) => String::new(),
                        };
                        copy::write_file(&d, &name, data, 0o600, into)?;
                        if let Some(t) = mtime {
                            let target = if into { clean(Path::new(&dest)).join(&name) } else { clean(Path::new(&dest)) };
                            let host = resolve_parent(&snap.merged, &target, false)?;
                            let ft = filetime::FileTime::from_unix_time(*t, 0);
                            let _ = filetime::set_file_times(&host, ft, ft);
                        }
                    }
                    Resolved::Paths(matches) => {
                        if is_add && unpack != Some(false) {
                            let (archives, plain): (Vec<Match>, Vec<Match>) =
                                matches.iter().cloned().partition(|m| is_local_archive(&src_root, &m.rel));
                            for m in &archives {
                                let dir = d.ensure_dir(&clean(Path::new(&dest)))?;
                                let f = std::fs::File::open(crate::image::layer::paths::resolve_full(&src_root, &m.rel)?).map_err(|e| e.to_string())?;
                                let opts = crate::image::layer::unpack::UnpackOptions {
                                    target: crate::image::layer::unpack::Target::Flat,
                                    owner: chown.as_ref().and(owner),
                                };
                                crate::image::layer::unpack::unpack(f, &dir, opts, &m.rel.display().to_string())?;
                            }
                            if !plain.is_empty() {
                                copy::copy_matches(&src_root, &plain, &d, &filter, multiple)?;
                            }
                        } else {
                            copy::copy_matches(&src_root, matches, &d, &filter, multiple)?;
                        }
                    }
                }
            }
            Ok(())
            })
        })
    }
}

/// A RUN heredoc that is run as a file (`RUN <<EOF` whose body starts
/// with `#!`): mounted read-only at `path`, mode 0755.
#[derive(Debug, PartialEq, Eq)]
struct Script {
    path: String,
    content: String,
}

/// Where BuildKit puts a heredoc script it runs as a file.
const SCRIPT_DIR: &str = "/dev/pipes";

/// The RUN argv with its here-documents, as BuildKit forms it:
/// - `RUN <<EOF` (the command is one heredoc marker and nothing else):
///   the body *is* the script. A body starting with `#!` is mounted as an
///   executable file and the shell runs that file (so the interpreter
///   line is honoured); any other body is given to the shell as its
///   command text. Handing `<<EOF` + body to `sh -c` instead would make
///   the shell read the document and run no command at all.
/// - anything else (`RUN cat <<EOF > f`, several documents): the command
///   text is followed by each body and its delimiter, for the shell to
///   read as here-documents.
///
/// Heredocs need the shell form (BuildKit refuses them in exec form).
fn run_heredocs(c: &RunConfig, run: &Run) -> Result<(Vec<String>, Option<Script>), String> {
    if run.heredocs.is_empty() {
        return Ok((command_args(c, &run.command), None));
    }
    let CommandLine::Shell(text) = &run.command else {
        return Err("heredocs are only supported with the shell form of RUN".into());
    };
    let mut shell = crate::solver::build::meta::shell_of(c);
    let only_marker = run.heredocs.len() == 1
        && crate::frontend::dockerfile::heredoc::parse_marker(text.trim())
            .is_some_and(|m| m.name == run.heredocs[0].name);
    if only_marker {
        let h = &run.heredocs[0];
        if h.content.starts_with("#!") {
            let path = format!("{SCRIPT_DIR}/{}", h.name);
            shell.push(path.clone());
            return Ok((
                shell,
                Some(Script {
                    path,
                    content: h.content.clone(),
                }),
            ));
        }
        shell.push(h.content.clone());
        return Ok((shell, None));
    }
    let mut full = text.clone();
    for h in &run.heredocs {
        full.push('\n');
        full.push_str(&h.content);
        full.push_str(&h.name);
    }
    full.push('\n');
    shell.push(full);
    Ok((shell, None))
}

/// ADD extracts a local file whose (decompressed) start is a tar header.
fn is_local_archive(root: &Path, rel: &Path) -> bool {
    use std::io::Read;
    let Ok(host) = crate::image::layer::paths::resolve_full(root, rel) else {
        return false;
    };
    if !host.is_file() {
        return false;
    }
    let Ok(f) = std::fs::File::open(&host) else {
        return false;
    };
    let Ok((mut r, _)) = crate::image::archive::decompress(f, "") else {
        return false;
    };
    let mut head = vec![0u8; 512];
    let mut n = 0;
    while n < 512 {
        match r.read(&mut head[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    crate::image::archive::looks_like_tar(&head[..n])
}
