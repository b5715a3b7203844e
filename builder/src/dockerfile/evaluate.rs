//! Walks the stages a build needs and substitutes variables the way Docker
//! does: in ADD, COPY, ENV, EXPOSE, FROM, LABEL, STOPSIGNAL, USER, VOLUME,
//! WORKDIR (and ARG defaults), never in RUN, CMD, ENTRYPOINT, SHELL or
//! HEALTHCHECK (the shell expands those at run time), and not in ONBUILD
//! triggers (expanded when the child image runs them). Each instruction
//! sees the values from *before* it, so `ENV a=b c=$a` uses the old `a`.

use super::ast::*;
use super::error::DockerfileError;
use super::expand::{expand, expand_heredoc};
use super::plan::{Base, BuildOptions, Plan};
use super::scope::{RunEnvironment, Scope};
use super::values::{validate_port, validate_signal};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// The instruction with its variables substituted.
    pub instruction: Instruction,
    /// For RUN: the environment the command gets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_env: Option<RunEnvironment>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvaluatedStage {
    pub index: usize,
    pub name: Option<String>,
    pub base: Base,
    pub steps: Vec<Step>,
    /// Variables at the end of the stage (inherited by `FROM <this stage>`).
    pub scope: Scope,
}

struct Ctx<'a> {
    file: &'a str,
    escape: char,
    opts: &'a BuildOptions,
    global: &'a Scope,
}

impl Ctx<'_> {
    fn word(
        &self,
        scope: &Scope,
        inst: &Instruction,
        text: &str,
    ) -> Result<String, DockerfileError> {
        expand(text, self.escape, &|n| scope.lookup(n)).map_err(|e| self.error(inst, e))
    }

    fn error(&self, inst: &Instruction, message: String) -> DockerfileError {
        DockerfileError::new(
            self.file,
            inst.line,
            format!("{}: {message}", inst.kind.keyword()),
        )
        .with_excerpt(&inst.original)
    }

    fn opt(
        &self,
        scope: &Scope,
        inst: &Instruction,
        text: &Option<String>,
    ) -> Result<Option<String>, DockerfileError> {
        text.as_ref().map(|t| self.word(scope, inst, t)).transpose()
    }

    fn words(
        &self,
        scope: &Scope,
        inst: &Instruction,
        texts: &[String],
    ) -> Result<Vec<String>, DockerfileError> {
        texts.iter().map(|t| self.word(scope, inst, t)).collect()
    }

    fn sources(
        &self,
        scope: &Scope,
        inst: &Instruction,
        sources: &[CopySource],
    ) -> Result<Vec<CopySource>, DockerfileError> {
        sources
            .iter()
            .map(|s| match s {
                CopySource::Path(p) => Ok(CopySource::Path(self.word(scope, inst, p)?)),
                CopySource::Heredoc(h) if h.expand => {
                    let content = expand_heredoc(&h.content, self.escape, &|n| scope.lookup(n))
                        .map_err(|e| self.error(inst, format!("heredoc <<{}: {e}", h.name)))?;
                    Ok(CopySource::Heredoc(super::heredoc::Heredoc {
                        content,
                        ..h.clone()
                    }))
                }
                CopySource::Heredoc(h) => Ok(CopySource::Heredoc(h.clone())),
            })
            .collect()
    }

    /// Substitutes one instruction and applies its effect on the scope.
    fn step(&self, scope: &mut Scope, inst: &Instruction) -> Result<Step, DockerfileError> {
        let mut run_env = None;
        let kind = match &inst.kind {
            Kind::Env { pairs } => {
                let pairs = pairs
                    .iter()
                    .map(|p| {
                        Ok(KeyValue {
                            key: self.word(scope, inst, &p.key)?,
                            value: self.word(scope, inst, &p.value)?,
                        })
                    })
                    .collect::<Result<Vec<_>, DockerfileError>>()?;
                for p in &pairs {
                    scope.set_env(&p.key, p.value.clone());
                }
                Kind::Env { pairs }
            }
            Kind::Arg { args } => {
                let mut resolved = Vec::new();
                for decl in args {
                    let value = match (self.opts.build_args.get(&decl.name), &decl.default) {
                        (Some(v), _) => Some(v.clone()),
                        (None, Some(d)) => Some(self.word(scope, inst, d)?),
                        // Re-declaring a global ARG brings its value in.
                        (None, None) => self.global.arg_value(&decl.name),
                    };
                    scope.declare(&decl.name, value.clone());
                    resolved.push(ArgDecl {
                        name: decl.name.clone(),
                        default: value,
                    });
                }
                Kind::Arg { args: resolved }
            }
            Kind::Label { pairs } => Kind::Label {
                pairs: pairs
                    .iter()
                    .map(|p| {
                        Ok(KeyValue {
                            key: self.word(scope, inst, &p.key)?,
                            value: self.word(scope, inst, &p.value)?,
                        })
                    })
                    .collect::<Result<Vec<_>, DockerfileError>>()?,
            },
            Kind::Expose { ports } => {
                let ports = self.words(scope, inst, ports)?;
                for p in &ports {
                    validate_port(p).map_err(|e| self.error(inst, e))?;
                }
                Kind::Expose { ports }
            }
            Kind::User { user } => Kind::User {
                user: self.word(scope, inst, user)?,
            },
            Kind::Workdir { path } => Kind::Workdir {
                path: self.word(scope, inst, path)?,
            },
            Kind::Stopsignal { signal } => {
                let signal = self.word(scope, inst, signal)?;
                validate_signal(&signal).map_err(|e| self.error(inst, e))?;
                Kind::Stopsignal { signal }
            }
            Kind::Volume { paths } => Kind::Volume {
                paths: self.words(scope, inst, paths)?,
            },
            Kind::Copy(c) => Kind::Copy(Copy {
                sources: self.sources(scope, inst, &c.sources)?,
                dest: self.word(scope, inst, &c.dest)?,
                // --from only sees global ARGs; the planner resolved it.
                from: c.from.as_ref().map(|f| {
                    expand(f, self.escape, &|n| self.global.lookup(n)).unwrap_or_else(|_| f.clone())
                }),
                chown: self.opt(scope, inst, &c.chown)?,
                chmod: self.opt(scope, inst, &c.chmod)?,
                link: c.link,
                parents: c.parents,
                excludes: self.words(scope, inst, &c.excludes)?,
            }),
            Kind::Add(a) => Kind::Add(Add {
                sources: self.sources(scope, inst, &a.sources)?,
                dest: self.word(scope, inst, &a.dest)?,
                chown: self.opt(scope, inst, &a.chown)?,
                chmod: self.opt(scope, inst, &a.chmod)?,
                checksum: self.opt(scope, inst, &a.checksum)?,
                excludes: self.words(scope, inst, &a.excludes)?,
                ..a.clone()
            }),
            Kind::Run(_) => {
                run_env = Some(scope.run_environment(&self.opts.build_args));
                inst.kind.clone()
            }
            other => other.clone(),
        };
        Ok(Step {
            instruction: Instruction {
                kind,
                ..inst.clone()
            },
            run_env,
        })
    }
}

/// Evaluates the stages of `plan.order`, in that order.
pub fn evaluate(
    df: &Dockerfile,
    plan: &Plan,
    opts: &BuildOptions,
) -> Result<Vec<EvaluatedStage>, DockerfileError> {
    let ctx = Ctx {
        file: &df.file,
        escape: df.directives.escape,
        opts,
        global: &plan.global,
    };
    let mut done: Vec<EvaluatedStage> = Vec::new();
    for &index in &plan.order {
        let stage = &df.stages[index];
        let base = plan.stages[index].base.clone();
        // A stage built on another stage starts with its ARGs and ENV.
        let mut scope = match &base {
            Base::Stage(parent) => done
                .iter()
                .find(|s| s.index == *parent)
                .map(|s| s.scope.clone())
                .unwrap_or_default(),
            _ => Scope::default(),
        };
        let steps = stage
            .instructions
            .iter()
            .map(|inst| ctx.step(&mut scope, inst))
            .collect::<Result<Vec<_>, _>>()?;
        done.push(EvaluatedStage {
            index,
            name: stage.name.clone(),
            base,
            steps,
            scope,
        });
    }
    Ok(done)
}
