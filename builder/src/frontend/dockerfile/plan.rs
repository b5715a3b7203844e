//! Build planning: the global ARG scope, each stage's base (scratch, an
//! image, or an earlier stage), the stage dependency graph (FROM stage,
//! COPY --from, RUN --mount from=), `--target` resolution, and the list of
//! stages the target actually needs, in build order.

use super::ast::{Dockerfile, Kind, Stage};
use super::error::{DockerfileError, QUOTE_CHARS, shorten};
use super::expand::{Meter, expand_metered};
use super::scope::{PROXY_ARGS, Platform, Scope};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// `--build-arg K=V` values.
    pub build_args: BTreeMap<String, String>,
    /// `--target`; the last stage when `None`.
    pub target: Option<String>,
    pub platform: Platform,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Base {
    Scratch,
    Image(String),
    Stage(usize),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StagePlan {
    pub index: usize,
    pub name: Option<String>,
    pub base: Base,
    /// `FROM --platform=` after expansion.
    pub platform: Option<String>,
    /// Stages this one needs (base stage and --from stages), ascending.
    pub stage_deps: Vec<usize>,
    /// Images named by COPY --from / RUN --mount from= (not stages).
    pub image_deps: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub target: usize,
    /// The stages the target needs, dependencies first, target last.
    pub order: Vec<usize>,
    pub stages: Vec<StagePlan>,
    /// The global ARG scope after `--build-arg` overrides.
    pub global: Scope,
    /// `--build-arg`s no ARG declares (Docker warns about these).
    pub unused_build_args: Vec<String>,
}

/// Where a `--from` / `from=` reference points.
enum FromRef {
    Stage(usize),
    Image(String),
}

fn err(df: &Dockerfile, line: usize, msg: String) -> DockerfileError {
    DockerfileError::new(&df.file, line, msg)
}

/// Global scope: automatic platform ARGs, then the ARGs before the first
/// FROM, each overridable by `--build-arg`.
pub fn global_scope(df: &Dockerfile, opts: &BuildOptions) -> Result<Scope, DockerfileError> {
    global_scope_metered(df, opts, &Meter::default())
}

/// [`global_scope`] drawing on a build's shared [`Meter`]: the ARG values
/// count against its budget, so `ARG a2=${a1}${a1}` doubling line after
/// line stops with an error instead of eating the memory.
fn global_scope_metered(
    df: &Dockerfile,
    opts: &BuildOptions,
    meter: &Meter,
) -> Result<Scope, DockerfileError> {
    let mut scope = Scope::default();
    for (k, v) in opts.platform.automatic_args() {
        scope.declare(&k, Some(v));
    }
    let escape = df.directives.escape;
    for inst in &df.global_args {
        let Kind::Arg { args } = &inst.kind else {
            continue;
        };
        for decl in args {
            let fail = |e: String| {
                err(
                    df,
                    inst.line,
                    format!("ARG {}: {e}", shorten(&decl.name, QUOTE_CHARS)),
                )
                .with_excerpt(&inst.original)
            };
            let value = match (opts.build_args.get(&decl.name), &decl.default) {
                (Some(v), _) => Some(v.clone()),
                (None, Some(d)) => Some(expand_metered(d, escape, &scope, meter).map_err(fail)?),
                (None, None) => None,
            };
            let size = value.as_ref().map_or(0, String::len);
            meter.charge_stored(size).map_err(fail)?;
            scope.declare(&decl.name, value);
        }
    }
    Ok(scope)
}

fn stage_by_name(df: &Dockerfile, name: &str) -> Option<usize> {
    let lower = name.to_ascii_lowercase();
    df.stages
        .iter()
        .position(|s| s.name.as_deref() == Some(lower.as_str()))
}

/// Stage name → index, built once per plan: looking names up by a scan
/// of the stages for every `--from` made planning quadratic in the
/// number of stages. Names are lower case and unique (the parser checks).
struct StageNames<'a>(HashMap<&'a str, usize>);

impl<'a> StageNames<'a> {
    fn new(df: &'a Dockerfile) -> StageNames<'a> {
        let mut names = HashMap::new();
        for s in &df.stages {
            if let Some(name) = s.name.as_deref() {
                names.entry(name).or_insert(s.index);
            }
        }
        StageNames(names)
    }

    fn get(&self, name: &str) -> Option<usize> {
        match self.0.get(name) {
            Some(&i) => Some(i),
            None => self.0.get(name.to_ascii_lowercase().as_str()).copied(),
        }
    }
}

fn resolve_from_ref(
    df: &Dockerfile,
    global: &Scope,
    raw: &str,
    line: usize,
    what: &str,
    meter: &Meter,
    names: &StageNames,
) -> Result<FromRef, DockerfileError> {
    // Only global ARGs are visible here (BuildKit's rule for --from).
    let value = expand_metered(raw, df.directives.escape, global, meter)
        .map_err(|e| err(df, line, format!("{what}: {e}")))?;
    if value.is_empty() {
        return Err(err(
            df,
            line,
            format!(
                "{what}={} expands to an empty name",
                shorten(raw, QUOTE_CHARS)
            ),
        ));
    }
    if let Ok(index) = value.parse::<usize>() {
        if index >= df.stages.len() {
            return Err(err(
                df,
                line,
                format!(
                    "{what}={value}: there is no stage {index} (this Dockerfile has stages 0..{})",
                    df.stages.len() - 1
                ),
            ));
        }
        return Ok(FromRef::Stage(index));
    }
    Ok(match names.get(&value) {
        Some(i) => FromRef::Stage(i),
        None => FromRef::Image(value),
    })
}

fn plan_stage(
    df: &Dockerfile,
    global: &Scope,
    stage: &Stage,
    meter: &Meter,
    names: &StageNames,
) -> Result<StagePlan, DockerfileError> {
    let escape = df.directives.escape;
    let image = expand_metered(&stage.from.image, escape, global, meter)
        .map_err(|e| err(df, stage.line, format!("FROM: {e}")))?;
    if image.is_empty() {
        return Err(err(
            df,
            stage.line,
            format!(
                "base name ({}) should not be blank",
                shorten(&stage.from.image, QUOTE_CHARS)
            ),
        ));
    }
    // A stage can be based on an earlier stage only; `FROM golang AS golang`
    // therefore means the image.
    let lower = image.to_ascii_lowercase();
    let base = match names.get(&lower).filter(|&i| i < stage.index) {
        Some(i) => Base::Stage(i),
        None if lower == "scratch" => Base::Scratch,
        None => Base::Image(image),
    };
    let platform = match &stage.from.platform {
        Some(p) => Some(
            expand_metered(p, escape, global, meter)
                .map_err(|e| err(df, stage.line, format!("FROM --platform: {e}")))?,
        ),
        None => None,
    };
    let mut stage_deps = Vec::new();
    let mut image_deps = Vec::new();
    if let Base::Stage(i) = base {
        stage_deps.push(i);
    }
    let mut add = |r: FromRef| match r {
        FromRef::Stage(i) => stage_deps.push(i),
        FromRef::Image(img) => image_deps.push(img),
    };
    for inst in &stage.instructions {
        match &inst.kind {
            Kind::Copy(c) => {
                if let Some(from) = &c.from {
                    add(resolve_from_ref(
                        df,
                        global,
                        from,
                        inst.line,
                        "COPY --from",
                        meter,
                        names,
                    )?);
                }
            }
            Kind::Run(r) => {
                for m in &r.mounts {
                    if let Some(from) = &m.from {
                        add(resolve_from_ref(
                            df,
                            global,
                            from,
                            inst.line,
                            "RUN --mount from",
                            meter,
                            names,
                        )?);
                    }
                }
            }
            _ => {}
        }
    }
    stage_deps.sort_unstable();
    stage_deps.dedup();
    image_deps.sort();
    image_deps.dedup();
    Ok(StagePlan {
        index: stage.index,
        name: stage.name.clone(),
        base,
        platform,
        stage_deps,
        image_deps,
    })
}

/// Resolves `--target` (case-insensitive) to a stage index.
pub fn resolve_target(df: &Dockerfile, target: Option<&str>) -> Result<usize, DockerfileError> {
    let Some(name) = target else {
        return Ok(df.stages.len() - 1);
    };
    stage_by_name(df, name).ok_or_else(|| {
        let names: Vec<String> = df.stages.iter().filter_map(|s| s.name.clone()).collect();
        let listed = if names.is_empty() {
            "this Dockerfile has no named stages (use FROM image AS name)".to_string()
        } else {
            format!("stages are: {}", names.join(", "))
        };
        DockerfileError::new(
            &df.file,
            0,
            format!("target stage {name:?} could not be found; {listed}"),
        )
    })
}

/// Depth-first post-order from the target: every stage appears after the
/// stages it needs. A stage met again while still on the path is a cycle.
fn build_order(
    df: &Dockerfile,
    stages: &[StagePlan],
    target: usize,
) -> Result<Vec<usize>, DockerfileError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    let mut marks = vec![Mark::New; stages.len()];
    let mut order = Vec::new();
    // Explicit stack of (stage, next dependency position) instead of
    // recursion, so a huge generated Dockerfile cannot overflow the stack.
    let mut stack = vec![(target, 0usize)];
    marks[target] = Mark::OnPath;
    while let Some(&mut (stage, ref mut next)) = stack.last_mut() {
        if let Some(&dep) = stages[stage].stage_deps.get(*next) {
            *next += 1;
            match marks[dep] {
                Mark::Done => {}
                Mark::OnPath => {
                    let s = &df.stages[dep];
                    return Err(DockerfileError::new(
                        &df.file,
                        s.line,
                        format!(
                            "circular dependency detected on stage: {}",
                            s.display_name()
                        ),
                    ));
                }
                Mark::New => {
                    marks[dep] = Mark::OnPath;
                    stack.push((dep, 0));
                }
            }
        } else {
            marks[stage] = Mark::Done;
            order.push(stage);
            stack.pop();
        }
    }
    Ok(order)
}

pub fn plan(df: &Dockerfile, opts: &BuildOptions) -> Result<Plan, DockerfileError> {
    let meter = Meter::default();
    let names = StageNames::new(df);
    let global = global_scope_metered(df, opts, &meter)?;
    let stages = df
        .stages
        .iter()
        .map(|s| plan_stage(df, &global, s, &meter, &names))
        .collect::<Result<Vec<_>, _>>()?;
    let target = resolve_target(df, opts.target.as_deref())?;
    let order = build_order(df, &stages, target)?;
    // Every declared ARG name, gathered once (not one scan of the file
    // per --build-arg).
    let mut declared_names = HashSet::new();
    if !opts.build_args.is_empty() {
        let all = df
            .global_args
            .iter()
            .chain(df.stages.iter().flat_map(|s| s.instructions.iter()));
        for inst in all {
            if let Kind::Arg { args } = &inst.kind {
                declared_names.extend(args.iter().map(|a| a.name.as_str()));
            }
        }
    }
    let declared = |name: &str| declared_names.contains(name);
    let unused_build_args = opts
        .build_args
        .keys()
        .filter(|k| !PROXY_ARGS.contains(&k.as_str()) && !declared(k))
        .cloned()
        .collect();
    Ok(Plan {
        target,
        order,
        stages,
        global,
        unused_build_args,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frontend::dockerfile::parse;

    fn planned(
        src: &str,
        args: &[(&str, &str)],
        target: Option<&str>,
    ) -> Result<Plan, DockerfileError> {
        let df = parse(src, "Dockerfile").unwrap();
        let opts = BuildOptions {
            build_args: args
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            target: target.map(str::to_string),
            platform: Platform::default(),
        };
        plan(&df, &opts)
    }

    #[test]
    fn global_args_reach_from_and_build_args_override() {
        let src = "ARG TAG=3.19\nARG REPO=alpine\nFROM $REPO:${TAG}\n";
        assert_eq!(
            planned(src, &[], None).unwrap().stages[0].base,
            Base::Image("alpine:3.19".into())
        );
        let p = planned(src, &[("TAG", "3.20")], None).unwrap();
        assert_eq!(p.stages[0].base, Base::Image("alpine:3.20".into()));
    }

    #[test]
    fn global_default_can_use_earlier_global_args() {
        let src = "ARG V=1\nARG IMG=app:v$V\nFROM $IMG\n";
        assert_eq!(
            planned(src, &[("V", "9")], None).unwrap().stages[0].base,
            Base::Image("app:v9".into())
        );
    }

    #[test]
    fn automatic_platform_args_in_from() {
        let p = planned(
            "FROM --platform=$BUILDPLATFORM golang:$TARGETARCH\n",
            &[],
            None,
        )
        .unwrap();
        assert_eq!(p.stages[0].platform.as_deref(), Some("linux/amd64"));
        assert_eq!(p.stages[0].base, Base::Image("golang:amd64".into()));
    }

    #[test]
    fn undeclared_build_arg_is_not_visible_in_from_and_reported_unused() {
        let p = planned(
            "FROM alpine${TAG:+:}$TAG\n",
            &[("TAG", "3"), ("HTTP_PROXY", "http://p")],
            None,
        )
        .unwrap();
        assert_eq!(p.stages[0].base, Base::Image("alpine".into()));
        assert_eq!(p.unused_build_args, vec!["TAG".to_string()]);
    }

    #[test]
    fn blank_base_is_an_error_at_the_from_line() {
        let e = planned("ARG B\nFROM $B\n", &[], None).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("should not be blank"), "{}", e.message);
    }

    #[test]
    fn bases_scratch_stage_and_self_named_image() {
        let p = planned(
            "FROM scratch AS Build\nFROM BUILD\nFROM golang AS golang\n",
            &[],
            None,
        )
        .unwrap();
        assert_eq!(p.stages[0].base, Base::Scratch);
        assert_eq!(p.stages[1].base, Base::Stage(0));
        assert_eq!(p.stages[2].base, Base::Image("golang".into()));
    }

    const GRAPH: &str = "FROM alpine AS base
FROM base AS build
RUN make
FROM alpine AS unrelated
RUN sleep 100
FROM base AS test
RUN --mount=type=bind,from=build,target=/b ls /b
FROM scratch AS final
COPY --from=build /app /app
";

    #[test]
    fn only_needed_stages_in_build_order() {
        assert_eq!(planned(GRAPH, &[], None).unwrap().order, vec![0, 1, 4]);
        let p = planned(GRAPH, &[], Some("TEST")).unwrap();
        assert_eq!(p.target, 3);
        assert_eq!(p.order, vec![0, 1, 3]);
        assert_eq!(
            planned(GRAPH, &[], Some("unrelated")).unwrap().order,
            vec![2]
        );
        assert_eq!(p.stages[3].stage_deps, vec![0, 1]);
    }

    #[test]
    fn unknown_target_lists_stages() {
        let e = planned(GRAPH, &[], Some("prod")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Dockerfile: target stage \"prod\" could not be found; stages are: base, build, unrelated, test, final"
        );
    }

    #[test]
    fn copy_from_index_image_and_global_arg() {
        let src = "ARG SRC=one\nFROM alpine AS one\nFROM alpine\nARG SRC=nope\nCOPY --from=0 /a /a\nCOPY --from=$SRC /b /b\nCOPY --from=nginx:1 /c /c\n";
        let p = planned(src, &[], None).unwrap();
        assert_eq!(p.stages[1].stage_deps, vec![0]);
        assert_eq!(p.stages[1].image_deps, vec!["nginx:1".to_string()]);
        assert_eq!(p.order, vec![0, 1]);
    }

    #[test]
    fn copy_from_bad_index() {
        let e = planned("FROM a\nFROM b\nCOPY --from=5 /x /y\n", &[], None).unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("there is no stage 5"), "{}", e.message);
    }

    #[test]
    fn cycles_are_detected() {
        let e = planned("FROM busybox AS s0\nCOPY --from=s0 f /\n", &[], None).unwrap_err();
        assert!(
            e.message
                .contains("circular dependency detected on stage: s0"),
            "{}",
            e.message
        );
        let src =
            "FROM busybox AS s0\nCOPY --from=s1 f /\nFROM busybox AS s1\nCOPY --from=s0 f /\n";
        let e = planned(src, &[], None).unwrap_err();
        assert!(e.message.contains("circular dependency"), "{}", e.message);
    }

    #[test]
    fn later_stage_reference_by_copy_is_allowed() {
        let src = "FROM a AS first\nCOPY --from=second /x /x\nFROM b AS second\n";
        let p = planned(src, &[], Some("first")).unwrap();
        assert_eq!(p.order, vec![1, 0]);
    }
}
