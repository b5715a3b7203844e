//! The build executor: runs the planned stages in order (dependencies
//! first), each instruction as a metadata step (config only, no layer) or
//! a filesystem step (RUN, COPY, ADD, WORKDIR) on a snapshot whose upper
//! dir becomes the step's layer.
//!
//! Cache keys (BuildKit's scheme): each filesystem state has a key, the
//! base image's manifest digest (or "scratch") to start with; a
//! filesystem step's key hashes the parent key with the step's full
//! definition: for RUN the argv, environment (ENV and every ARG in scope
//! with a value, so an ARG counts from its first use; proxy ARGs
//! excluded), cwd, user and network; for COPY/ADD the content checksum of
//! the sources (no mtimes), destination, owner, mode and flags. Metadata
//! steps change no key, so a LABEL edit reruns nothing. A hit reuses the
//! recorded layer and its creation time, so a fully cached rebuild gives
//! the same image digest.

pub mod meta;
mod onbuild;
pub mod parallel;
mod run_mounts;
mod steps;

use crate::frontend::context::ignore::IgnoreRules;
use crate::frontend::dockerfile::Dockerfile;
use crate::frontend::dockerfile::ast::Kind;
use crate::frontend::dockerfile::evaluate::EvaluatedStage;
use crate::frontend::dockerfile::evaluate::Step;
use crate::frontend::dockerfile::plan::{Base, BuildOptions, Plan};
use crate::image::import;
use crate::image::layer::LayerInfo;
use crate::image::store::{Image, Store};
use crate::image::{self, Descriptor, History, ImageConfig};
use crate::solver::cache;
use crate::solver::checksum::FileHashes;
use crate::solver::progress::Progress;
use crate::solver::snapshot::Mode;
use std::collections::HashMap;
use std::path::PathBuf;

pub struct Request<'a> {
    /// Canonical path of the build context.
    pub context: PathBuf,
    pub df: &'a Dockerfile,
    pub plan: &'a Plan,
    pub stages: &'a [EvaluatedStage],
    /// Build args and target, to evaluate a base image's ONBUILD triggers.
    pub options: &'a BuildOptions,
    /// `--secret` sources, read when a RUN mounts them.
    pub secrets: &'a crate::solver::secrets::Secrets,
    pub ignore: &'a IgnoreRules,
    pub no_cache: bool,
    pub progress: crate::solver::progress::Mode,
    pub snapshot_mode: Mode,
    /// SOURCE_DATE_EPOCH: history/config times and clamped file mtimes.
    pub source_date_epoch: Option<u64>,
    /// How new layers are compressed.
    pub compression: crate::image::layer::LayerCompression,
    /// Set when independent stages may build in child processes.
    pub spawner: Option<parallel::Spawner>,
    /// Set in such a child: the one stage it builds.
    pub child: Option<parallel::ChildStage>,
    /// `--pull`: whether FROM / COPY --from names go to their registry.
    pub pull: crate::image::registry::PullPolicy,
    /// How registries are reached (`--insecure-registry`).
    pub registries: &'a crate::image::registry::Settings,
}

/// A filesystem + config state: a stage while it is being built.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct State {
    pub config: ImageConfig,
    pub layers: Vec<Descriptor>,
    pub fs_key: String,
    pub last_created: Option<String>,
}

impl State {
    /// The overlay lower dirs of this state, bottom first: a layer this
    /// process holds on its tmpfs (`hot`) from there, else the store's
    /// unpacked-layer cache (unpacking it if needed).
    fn lowers(&self, store: &Store) -> Result<Vec<PathBuf>, String> {
        let mut out = Vec::with_capacity(self.layers.len());
        for (desc, diff_id) in self.layers.iter().zip(&self.config.rootfs.diff_ids) {
            match crate::solver::hot::lookup(diff_id) {
                Some(dir) => out.push(dir),
                None => out.extend(import::unpacked_layers(
                    store,
                    std::slice::from_ref(desc),
                    std::slice::from_ref(diff_id),
                )?),
            }
        }
        Ok(out)
    }

    fn push_layer(&mut self, l: &LayerInfo) {
        self.layers
            .push(Descriptor::new(&l.media_type, l.digest.clone(), l.size));
        self.config.rootfs.diff_ids.push(l.diff_id.clone());
    }
}

pub struct Builder<'a> {
    pub store: &'a Store,
    pub req: &'a Request<'a>,
    pub progress: Progress,
    pub hashes: FileHashes,
    /// Finished stages by index.
    pub done: HashMap<usize, State>,
    /// Images named by COPY --from, resolved once.
    pub images: HashMap<String, State>,
    /// The RUN network sandbox, made at the first RUN that needs it and
    /// shared by the build's later RUN steps.
    pub net: Option<crate::solver::netns::SandboxNet>,
}

impl Builder<'_> {
    /// The sandbox's namespace file, starting the sandbox if needed.
    pub fn sandbox_net(&mut self) -> Result<PathBuf, String> {
        if self.net.is_none() {
            self.net = Some(crate::solver::netns::SandboxNet::start(
                &self.store.tmp_dir(),
            )?);
        }
        Ok(self
            .net
            .as_ref()
            .map(|n| n.path().to_path_buf())
            .unwrap_or_default())
    }
}

/// A base image's state. Base images without (complete) history get one
/// entry per unaccounted layer, as BuildKit does, so tools that pair
/// history with layers (umoci stat) see consistent data.
pub fn state_of_image(img: &Image) -> State {
    let mut config = img.config.clone();
    let described = config.history.iter().filter(|h| !h.empty_layer).count();
    let missing = config.rootfs.diff_ids.len().saturating_sub(described);
    let filler = History {
        created: Some(config.created.clone().unwrap_or_else(|| EPOCH.into())),
        created_by: Some("(layer without history)".into()),
        ..Default::default()
    };
    config
        .history
        .splice(0..0, std::iter::repeat_n(filler, missing));
    State {
        config,
        layers: img
            .manifest
            .layers
            .iter()
            .map(import::oci_layer_descriptor)
            .collect(),
        fs_key: cache::key(&serde_json::json!({"base": img.manifest_desc.digest})),
        last_created: img.config.created.clone(),
    }
}

/// Builds the target stage; returns the stored image (not yet tagged), or
/// None in a child builder, which hands its stage's state to its parent.
pub fn build(store: &Store, req: &Request) -> Result<Option<Image>, String> {
    crate::solver::runner::reap_stale(&store.state_dir().join("run"));
    let mut b = Builder {
        store,
        req,
        progress: Progress::new(req.progress),
        hashes: FileHashes::load(&store.state_dir()),
        done: HashMap::new(),
        images: HashMap::new(),
        net: None,
    };
    let deps = |s: usize| {
        req.plan
            .stages
            .iter()
            .find(|p| p.index == s)
            .map(|p| p.stage_deps.clone())
            .unwrap_or_default()
    };
    let result = (|| {
        match (&req.child, &req.spawner) {
            (Some(child), _) => b.done = child.inputs()?,
            (None, Some(spawner)) => {
                let stages = parallel::parallel_stages(&req.plan.order, req.plan.target, &deps);
                if !stages.is_empty() {
                    b.build_in_children(spawner, &stages, &deps)?;
                }
            }
            (None, None) => {}
        }
        for stage in req.stages {
            let wanted = req.child.as_ref().is_none_or(|c| c.stage == stage.index);
            if !wanted || b.done.contains_key(&stage.index) {
                continue;
            }
            let state = b.stage(stage)?;
            b.done.insert(stage.index, state);
        }
        Ok::<(), String>(())
    })();
    // Hashes learned so far stay useful even when a step failed.
    let saved = b.hashes.save();
    if result.is_ok() {
        b.progress.note(&format!(
            "#context {} files checked, {} read",
            b.hashes.checked, b.hashes.hashed
        ));
    }
    b.progress.finish();
    result?;
    saved?;
    if let Some(child) = &req.child {
        let state = b.done.get(&child.stage).ok_or("the stage was not built")?;
        child.write_output(state)?;
        return Ok(None);
    }
    let state = b
        .done
        .remove(&req.plan.target)
        .ok_or("the target stage was not built")?;
    let mut config = state.config.clone();
    config.created = state.last_created.clone();
    let desc = store.write_image(&config, &state.layers)?;
    store.load_image(&desc).map(Some)
}

impl Builder<'_> {
    pub fn now(&self) -> String {
        match self.req.source_date_epoch {
            Some(t) => image::rfc3339(t as i64, 0),
            None => image::now_rfc3339(),
        }
    }

    /// An image named by FROM or COPY --from: the store, a transport
    /// (`oci:`...), or its registry as `--pull` allows.
    pub fn image(&self, name: &str) -> Result<Image, String> {
        crate::image::registry::resolve_image(
            self.store,
            name,
            self.req.pull,
            self.req.registries,
            self.req.progress != crate::solver::progress::Mode::Plain,
        )
    }

    fn stage_name(&self, stage: &EvaluatedStage) -> String {
        stage
            .name
            .clone()
            .unwrap_or_else(|| format!("stage-{}", stage.index))
    }

    /// The stage's starting state, and the base's ONBUILD triggers (taken
    /// out of the config: the child runs them, its image does not keep them).
    fn base(&mut self, stage: &EvaluatedStage) -> Result<(State, Vec<String>), String> {
        let mut state = match &stage.base {
            Base::Scratch => State {
                config: ImageConfig::scratch(),
                layers: Vec::new(),
                fs_key: "scratch".into(),
                last_created: None,
            },
            Base::Stage(i) => self
                .done
                .get(i)
                .cloned()
                .ok_or_else(|| format!("stage {i} was not built before its use"))?,
            Base::Image(r) => state_of_image(&self.image(r)?),
        };
        let triggers = state.config.config.on_build.take().unwrap_or_default();
        Ok((state, triggers))
    }

    /// The stage's steps, evaluated anew with the base's Env, with the
    /// base's ONBUILD triggers in front.
    fn stage_steps(
        &self,
        stage: &EvaluatedStage,
        state: &State,
        triggers: &[String],
        from_line: usize,
    ) -> Result<Vec<Step>, String> {
        // The stage was evaluated before its base was known. The base's
        // Env is in scope for the stage's words (`ENV PATH=/x:$PATH`
        // extends the image's PATH, as BuildKit does), so a stage whose
        // base has an Env is evaluated again with it (on a stage, the
        // parent's scope comes first and the Env fills in what the
        // parent's own base image set).
        let base_env = state.config.config.env.as_deref().unwrap_or_default();
        if triggers.is_empty() && base_env.is_empty() {
            return Ok(stage.steps.clone());
        }
        let parsed = onbuild::parse_triggers(triggers, from_line)?;
        let parent_scope = match &stage.base {
            Base::Stage(p) => self
                .req
                .stages
                .iter()
                .find(|s| s.index == *p)
                .map(|s| &s.scope),
            _ => None,
        };
        onbuild::steps_with_triggers(
            self.req.df,
            self.req.plan,
            self.req.options,
            parent_scope,
            base_env,
            &parsed,
            stage.index,
        )
    }

    fn stage(&mut self, stage: &EvaluatedStage) -> Result<State, String> {
        let df_stage = &self.req.df.stages[stage.index];
        let name = self.stage_name(stage);
        let from_text = match &df_stage.from.alias {
            Some(a) => format!("FROM {} AS {a}", df_stage.from.image),
            None => format!("FROM {}", df_stage.from.image),
        };
        let from_error = |e: String| format!("{}:{}: FROM: {e}", self.req.df.file, df_stage.line);
        let (mut state, triggers) = self.base(stage).map_err(from_error)?;
        let steps = self
            .stage_steps(stage, &state, &triggers, df_stage.line)
            .map_err(from_error)?;
        let total = steps.len() + 1;
        let log = self
            .progress
            .step(&format!("[{name} 1/{total}] {from_text}"));
        log.done();
        let mut flags = meta::StageFlags::default();
        for (i, step) in steps.iter().enumerate() {
            let inst = &step.instruction;
            // Triggers show as BuildKit shows them: `ONBUILD RUN ...`.
            let shown = if i < triggers.len() {
                format!("ONBUILD {}", inst.original.trim())
            } else {
                inst.original.trim().to_string()
            };
            let label = format!("[{name} {}/{total}] {shown}", i + 2);
            let mut author = state.config.author.clone();
            if meta::apply(
                &mut state.config.config,
                &mut author,
                &inst.kind,
                &mut flags,
            ) {
                state.config.author = author;
                // Metadata steps take the time of the last filesystem change
                // (so cached rebuilds are byte-identical); epoch 0 before any.
                let created = Some(match self.req.source_date_epoch {
                    Some(t) => image::rfc3339(t as i64, 0),
                    None => state.last_created.clone().unwrap_or_else(|| EPOCH.into()),
                });
                state.config.history.push(History {
                    created,
                    created_by: Some(inst.original.trim().to_string()),
                    comment: Some(COMMENT.into()),
                    empty_layer: true,
                    ..Default::default()
                });
                continue;
            }
            let mut log = self.progress.step(&label);
            let outcome = match &inst.kind {
                Kind::Run(run) => self.run_step(&mut state, step, run, &mut log),
                Kind::Copy(c) => {
                    self.copy_step(&mut state, inst, steps::CopyArgs::from_copy(c), &mut log)
                }
                Kind::Add(a) => {
                    self.copy_step(&mut state, inst, steps::CopyArgs::from_add(a), &mut log)
                }
                Kind::Workdir { path } => self.workdir_step(&mut state, path, &mut log),
                other => Err(format!("{} cannot appear here", other.keyword())),
            };
            match outcome {
                Ok(cached) => {
                    if cached {
                        log.cached();
                    } else {
                        log.done();
                    }
                }
                Err(e) => {
                    log.error(e.lines().next().unwrap_or(""));
                    return Err(format!(
                        "{}:{}: [{name} {}/{total}] {shown}: {e}",
                        self.req.df.file,
                        inst.line,
                        i + 2,
                    ));
                }
            }
        }
        Ok(state)
    }

    /// Looks the key up; on a miss runs `work` (which returns the layer)
    /// and records it. Applies the result to `state`. Returns "was cached".
    pub fn cached_step(
        &mut self,
        state: &mut State,
        key: String,
        created_by: String,
        work: impl FnOnce(&mut Self, &State) -> Result<Option<LayerInfo>, String>,
    ) -> Result<bool, String> {
        let wanted = self.req.compression.media_type();
        let hit = if self.req.no_cache {
            None
        } else {
            // A layer recorded with another compression than asked for
            // is a miss: the image must have the layers --compression says.
            cache::lookup(self.store, &key)
                .filter(|r| r.layer.as_ref().is_none_or(|l| l.media_type == wanted))
        };
        let cached = hit.is_some();
        let record = match hit {
            Some(r) => r,
            None => {
                let layer = work(self, state)?;
                let rec = cache::Record {
                    layer,
                    created: self.now(),
                };
                cache::save(self.store, &key, &rec)?;
                rec
            }
        };
        if let Some(l) = &record.layer {
            state.push_layer(l);
        }
        state.config.history.push(History {
            created: Some(record.created.clone()),
            created_by: Some(created_by),
            comment: Some(COMMENT.into()),
            empty_layer: record.layer.is_none(),
            ..Default::default()
        });
        state.fs_key = key;
        state.last_created = Some(record.created);
        Ok(cached)
    }
}

const COMMENT: &str = "rt-build.dockerfile.v0";
const EPOCH: &str = "1970-01-01T00:00:00Z";
