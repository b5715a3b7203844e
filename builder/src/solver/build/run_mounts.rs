//! `RUN --mount`, BuildKit's types:
//! - `bind` (default): `source` (default the root) of `from` (a stage, an
//!   image, or by default the build context, .dockerignore applied),
//!   read-only unless `rw`, whose writes are thrown away (the mount is a
//!   throw-away copy or overlay then);
//! - `cache`: a persistent directory (see `cache_mounts`);
//! - `tmpfs`: an empty tmpfs, `size` optional;
//! - `secret`: a `--secret` given on the command line, as a read-only file
//!   (default `/run/secrets/<id>`, mode 0400) and/or an environment
//!   variable (`env=`); missing secrets are skipped unless `required`;
//! - `ssh`: refused (no agent forwarding).
//!
//! What a mount contributes to the step's cache key is decided before the
//! lookup: its definition, and for bind/cache `from` the source's identity
//! (the context's content checksum, or the stage's filesystem key), never
//! a cache directory's or a secret's content. Mount points the runtime had
//! to create are dropped from the layer afterwards (`layer::stubs`).

use super::steps::SourceRoot;
use super::{Builder, State};
use crate::frontend::dockerfile::mount::{Mount, parse_size};
use crate::image::layer::paths::{clean, resolve_full};
use crate::image::store::fsutil::TempDir;
use crate::solver::cache_mounts::{self, CacheDir, NewDirOptions};
use crate::solver::copy::{self, Dest, Filter};
use crate::solver::snapshot::{ReadOnlyView, Snapshot};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// A mount with its target made absolute and its `from` resolved.
pub struct PlannedMount {
    spec: Mount,
    target: String,
    from: Option<State>,
}

/// The mounts of one running step; everything they need stays alive
/// (views, throw-away copies, cache locks, secret files) until dropped.
#[derive(Default)]
pub struct LiveMounts {
    /// OCI runtime-spec mount entries, parents before children.
    pub entries: Vec<Value>,
    /// `NAME=value` from secret mounts with `env=`; not in any key.
    pub env: Vec<String>,
    views: Vec<ReadOnlyView>,
    snaps: Vec<Snapshot>,
    dirs: Vec<TempDir>,
    caches: Vec<CacheDir>,
    secrets_dir: Option<SecretsDir>,
}

impl LiveMounts {
    /// Mounts a file holding `data` at `target` (a RUN heredoc script,
    /// resolv.conf); the file lives in a temp dir as long as the mounts do.
    pub fn add_file(
        &mut self,
        tmp: &Path,
        target: &str,
        data: &[u8],
        mode: u32,
        readonly: bool,
    ) -> Result<(), String> {
        use std::os::unix::fs::PermissionsExt;
        let dir = TempDir::new(tmp, "script")?;
        let file = dir.path.join("file");
        std::fs::write(&file, data).map_err(|e| format!("{}: {e}", file.display()))?;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode))
            .map_err(|e| format!("{}: {e}", file.display()))?;
        self.entries.push(bind_entry(target, &file, readonly));
        self.dirs.push(dir);
        Ok(())
    }

    /// Targets that need a mount point in the rootfs.
    pub fn targets(&self) -> Vec<String> {
        self.entries
            .iter()
            .filter_map(|e| e["destination"].as_str().map(String::from))
            .collect()
    }
}

impl Drop for LiveMounts {
    fn drop(&mut self) {
        // Overlay snapshots sit on views: unmount them first.
        self.snaps.clear();
        self.views.clear();
        self.dirs.clear();
        self.caches.clear();
        self.secrets_dir.take();
    }
}

/// Secret files live on a private tmpfs (never on disk) when possible.
struct SecretsDir {
    dir: TempDir,
    mounted: bool,
}

impl Drop for SecretsDir {
    fn drop(&mut self) {
        if self.mounted {
            let _ = crate::solver::snapshot::umount(&self.dir.path);
        }
    }
}

fn absolute_target(target: &str, cwd: &str) -> String {
    let joined = if target.starts_with('/') {
        PathBuf::from(target)
    } else {
        Path::new(cwd).join(target)
    };
    format!("/{}", clean(&joined).display())
}

fn bind_entry(target: &str, source: &Path, readonly: bool) -> Value {
    let mut options = vec!["rbind"];
    if readonly {
        options.push("ro");
    }
    json!({"destination": target, "type": "bind", "source": source, "options": options})
}

impl Builder<'_> {
    /// Resolves the mounts and their cache-key part, before the lookup.
    pub(super) fn plan_mounts(
        &mut self,
        mounts: &[Mount],
        cwd: &str,
    ) -> Result<(Vec<PlannedMount>, Vec<Value>), String> {
        let mut planned = Vec::new();
        let mut keys = Vec::new();
        for m in mounts {
            let target = match m.kind.as_str() {
                "ssh" => {
                    return Err(
                        "RUN --mount=type=ssh is not supported (rt-build forwards no SSH agent)"
                            .into(),
                    );
                }
                "secret" => {
                    let id = secret_id(m)?;
                    match &m.target {
                        Some(t) => absolute_target(t, cwd),
                        None if m.options.contains_key("env") => String::new(),
                        None => format!("/run/secrets/{id}"),
                    }
                }
                _ => absolute_target(m.target.as_deref().unwrap_or("/"), cwd),
            };
            if target == "/" {
                return Err(format!("--mount type={}: cannot mount over /", m.kind));
            }
            let mut from = None;
            let mut key = json!({"type": m.kind, "target": target, "source": m.source,
                "options": m.options, "readonly": m.readonly()});
            if matches!(m.kind.as_str(), "bind" | "cache") {
                match (m.kind.as_str(), m.from.as_deref()) {
                    // A cache mount without from= starts empty.
                    ("cache", None) => {}
                    (_, from_ref) => match self.source_root(from_ref)? {
                        SourceRoot::Context => {
                            key["from"] = json!(self.context_sum(m.source.as_deref())?);
                        }
                        SourceRoot::State(s) => {
                            key["from"] = json!(s.fs_key);
                            from = Some(*s);
                        }
                    },
                }
            }
            if m.kind == "secret" {
                key["id"] = json!(secret_id(m)?);
            }
            keys.push(key);
            planned.push(PlannedMount {
                spec: m.clone(),
                target,
                from,
            });
        }
        // Parents are mounted before what is mounted inside them.
        planned.sort_by_key(|p| p.target.matches('/').count());
        Ok((planned, keys))
    }

    /// The context's content checksum under `source` (ignore rules applied).
    fn context_sum(&mut self, source: Option<&str>) -> Result<String, String> {
        let root = self.req.context.clone();
        let filter = Filter::new(Some(self.req.ignore), &[])?;
        let pattern = source.unwrap_or(".");
        let matches = copy::expand(&root, pattern, &filter)?;
        let files = copy::list_files(&root, &matches, &filter)?;
        let top: Vec<PathBuf> = matches.iter().map(|m| m.rel.clone()).collect();
        self.hashes.checksum(&root, &files, &top)
    }

    /// Sets the mounts up for one run (after a cache miss).
    pub(super) fn live_mounts(&self, planned: &[PlannedMount]) -> Result<LiveMounts, String> {
        let mut live = LiveMounts::default();
        let tmp = self.store.tmp_dir();
        for p in planned {
            let m = &p.spec;
            match m.kind.as_str() {
                "bind" => {
                    let source = self.bind_source(&mut live, p)?;
                    live.entries
                        .push(bind_entry(&p.target, &source, m.readonly()));
                }
                "cache" => {
                    let view;
                    let seed = match &p.from {
                        Some(s) => {
                            view = ReadOnlyView::new(
                                &tmp,
                                &s.lowers(self.store)?,
                                self.req.snapshot_mode,
                            )?;
                            let rel = clean(Path::new(m.source.as_deref().unwrap_or("/")));
                            Some(resolve_full(&view.root, &rel)?)
                        }
                        None => None,
                    };
                    let id = m
                        .options
                        .get("id")
                        .cloned()
                        .unwrap_or_else(|| p.target.clone());
                    let sharing = m
                        .options
                        .get("sharing")
                        .map(String::as_str)
                        .unwrap_or("shared");
                    let dir = cache_mounts::acquire(
                        &self.store.state_dir(),
                        &id,
                        sharing,
                        &NewDirOptions {
                            mode: m.mode().unwrap_or(0o755),
                            uid: m.number("uid").unwrap_or(0),
                            gid: m.number("gid").unwrap_or(0),
                            seed: seed.as_deref(),
                        },
                    )?;
                    live.entries
                        .push(bind_entry(&p.target, &dir.path, m.readonly()));
                    live.caches.push(dir);
                }
                "tmpfs" => {
                    let mut options = vec!["nosuid".to_string(), "nodev".to_string()];
                    if let Some(s) = m.options.get("size") {
                        options.push(format!("size={}", parse_size(s)?));
                    }
                    live.entries
                        .push(json!({"destination": p.target, "type": "tmpfs",
                        "source": "tmpfs", "options": options}));
                }
                "secret" => self.secret(&mut live, p)?,
                other => return Err(format!("--mount type={other} is not supported")),
            }
        }
        Ok(live)
    }

    /// The host path a bind mount shows: the source itself when read-only
    /// (and nothing must be filtered out), else a throw-away copy/overlay.
    fn bind_source(&self, live: &mut LiveMounts, p: &PlannedMount) -> Result<PathBuf, String> {
        let m = &p.spec;
        let tmp = self.store.tmp_dir();
        let rel = clean(Path::new(m.source.as_deref().unwrap_or("/")));
        let shown = m.source.as_deref().unwrap_or("/");
        let Some(state) = &p.from else {
            let context = &self.req.context;
            let filtered = !self.req.ignore.patterns().is_empty();
            if m.readonly() && !filtered {
                let host = resolve_full(context, &rel)?;
                if std::fs::symlink_metadata(&host).is_err() {
                    return Err(format!(
                        "--mount source {shown}: not found in the build context"
                    ));
                }
                return Ok(host);
            }
            // A filtered (and writable) copy of the context's source.
            let filter = Filter::new(Some(self.req.ignore), &[])?;
            let matches = copy::expand(context, m.source.as_deref().unwrap_or("."), &filter)?;
            let dir = TempDir::new(&tmp, "mnt")?;
            let dest = Dest {
                rootfs: &dir.path,
                path: "/m".into(),
                owner: Some((0, 0)),
                chmod: None,
                parents: false,
                links: Default::default(),
            };
            copy::copy_matches(context, &matches, &dest, &filter, false)?;
            let out = dir.path.join("m");
            live.dirs.push(dir);
            return Ok(out);
        };
        let view = ReadOnlyView::new(&tmp, &state.lowers(self.store)?, self.req.snapshot_mode)?;
        let host = resolve_full(&view.root, &rel)?;
        let meta = std::fs::metadata(&host).map_err(|_| {
            format!(
                "--mount source {shown}: not found in {}",
                m.from.as_deref().unwrap_or("the source")
            )
        })?;
        let out = if m.readonly() {
            host
        } else if meta.is_dir() {
            let snap = Snapshot::prepare(&tmp, &[host], self.req.snapshot_mode)?;
            let merged = snap.merged.clone();
            live.snaps.push(snap);
            merged
        } else {
            let dir = TempDir::new(&tmp, "mnt")?;
            let copy = dir.path.join("f");
            std::fs::copy(&host, &copy).map_err(|e| format!("--mount source {shown}: {e}"))?;
            live.dirs.push(dir);
            copy
        };
        live.views.push(view);
        Ok(out)
    }

    fn secret(&self, live: &mut LiveMounts, p: &PlannedMount) -> Result<(), String> {
        let m = &p.spec;
        let id = secret_id(m)?;
        let Some(data) = crate::solver::secrets::read(self.req.secrets, &id)? else {
            if m.required() {
                return Err(format!(
                    "secret {id:?} is required but was not given (--secret id={id},src=FILE)"
                ));
            }
            return Ok(());
        };
        if let Some(var) = m.options.get("env") {
            let text = String::from_utf8(data.clone())
                .map_err(|_| format!("secret {id:?}: not UTF-8, cannot go into {var}"))?;
            live.env.push(format!("{var}={text}"));
        }
        if p.target.is_empty() {
            return Ok(());
        }
        if live.secrets_dir.is_none() {
            let dir = TempDir::new(&self.store.tmp_dir(), "secrets")?;
            let mounted = crate::solver::snapshot::mount(
                "tmpfs",
                &dir.path,
                "tmpfs",
                0,
                "mode=0700,size=16m",
            )
            .is_ok();
            live.secrets_dir = Some(SecretsDir { dir, mounted });
        }
        let dir = &live.secrets_dir.as_ref().expect("just set").dir.path;
        let file = dir.join(crate::image::store::fsutil::unique_name("s"));
        std::fs::write(&file, &data).map_err(|e| format!("secret {id:?}: {e}"))?;
        std::os::unix::fs::chown(
            &file,
            Some(m.number("uid").unwrap_or(0)),
            Some(m.number("gid").unwrap_or(0)),
        )
        .map_err(|e| format!("secret {id:?}: {e}"))?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            &file,
            std::fs::Permissions::from_mode(m.mode().unwrap_or(0o400)),
        )
        .map_err(|e| format!("secret {id:?}: {e}"))?;
        live.entries.push(bind_entry(&p.target, &file, true));
        Ok(())
    }
}

/// A secret's id; BuildKit defaults it to the target's base name.
fn secret_id(m: &Mount) -> Result<String, String> {
    if let Some(id) = m.options.get("id") {
        return Ok(id.clone());
    }
    m.target
        .as_deref()
        .and_then(|t| Path::new(t).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| "--mount type=secret needs an id (or a target)".to_string())
}
