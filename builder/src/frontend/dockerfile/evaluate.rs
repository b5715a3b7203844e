//! Walks the stages a build needs and substitutes variables the way Docker
//! does: in ADD, COPY, ENV, EXPOSE, FROM, LABEL, STOPSIGNAL, USER, VOLUME,
//! WORKDIR (and ARG defaults), never in RUN, CMD, ENTRYPOINT, SHELL or
//! HEALTHCHECK (the shell expands those at run time), and not in ONBUILD
//! triggers (expanded when the child image runs them). Each instruction
//! sees the values from *before* it, so `ENV a=b c=$a` uses the old `a`.

use super::ast::*;
use super::error::DockerfileError;
use super::expand::{Meter, expand_heredoc, expand_metered};
use super::lines::MAX_LINE;
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
    /// Size limits and work budgets, shared by all the build's stages.
    meter: Meter,
}

impl<'a> Ctx<'a> {
    fn new(df: &'a Dockerfile, plan: &'a Plan, opts: &'a BuildOptions) -> Ctx<'a> {
        Ctx {
            file: &df.file,
            escape: df.directives.escape,
            opts,
            global: &plan.global,
            meter: Meter::default(),
        }
    }

    fn word(
        &self,
        scope: &Scope,
        inst: &Instruction,
        text: &str,
    ) -> Result<String, DockerfileError> {
        expand_metered(text, self.escape, scope, &self.meter).map_err(|e| self.error(inst, e))
    }

    /// The value of ARG or ENV `name`: expanded, and counted against the
    /// build's budget for stored values. Errors name the variable.
    fn value(
        &self,
        scope: &Scope,
        inst: &Instruction,
        name: &str,
        text: &str,
    ) -> Result<String, DockerfileError> {
        let named = |e: String| self.error(inst, format!("{name}: {e}"));
        let value = expand_metered(text, self.escape, scope, &self.meter).map_err(named)?;
        self.meter.charge_stored(value.len()).map_err(named)?;
        Ok(value)
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
                    let content =
                        expand_heredoc(&h.content, self.escape, scope, &self.meter, MAX_LINE)
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
                        let key = self.word(scope, inst, &p.key)?;
                        let value = self.value(scope, inst, &key, &p.value)?;
                        Ok(KeyValue { key, value })
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
                        (None, Some(d)) => Some(self.value(scope, inst, &decl.name, d)?),
                        // Re-declaring a global ARG brings its value in.
                        (None, None) => self.global.arg_value(&decl.name),
                    };
                    // Without a value, an ARG leaves the build's
                    // environment as it was (BuildKit adds only a value):
                    // a value declared before stays, an ENV stays in front.
                    if value.is_some() || !scope.is_declared(&decl.name) {
                        scope.declare(&decl.name, value.clone());
                    }
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
                    expand_metered(f, self.escape, self.global, &self.meter)
                        .unwrap_or_else(|_| f.clone())
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
                let env = scope.run_environment(&self.opts.build_args);
                let size: usize = env.env.iter().map(|(k, v)| k.len() + v.len()).sum();
                self.meter
                    .charge_output(size)
                    .map_err(|e| self.error(inst, e))?;
                run_env = Some(env);
                inst.kind.clone()
            }
            other => other.clone(),
        };
        Ok(Step {
            // Field by field: `..inst.clone()` would also clone the
            // unexpanded kind only to drop it.
            instruction: Instruction {
                line: inst.line,
                end_line: inst.end_line,
                original: inst.original.clone(),
                kind,
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
    let ctx = Ctx::new(df, plan, opts);
    let mut done: Vec<EvaluatedStage> = Vec::new();
    // Stage index → position in `done`: no scan of `done` per stage.
    let mut position: Vec<Option<usize>> = vec![None; df.stages.len()];
    for &index in &plan.order {
        let stage = &df.stages[index];
        let base = plan.stages[index].base.clone();
        // A stage built on another stage starts with its ARGs and ENV.
        let mut scope = match &base {
            Base::Stage(parent) => match position.get(*parent).copied().flatten() {
                Some(i) => {
                    let inherited = &done[i].scope;
                    ctx.meter
                        .charge_output(inherited.byte_size())
                        .map_err(|e| {
                            DockerfileError::new(&df.file, stage.line, format!("FROM: {e}"))
                        })?;
                    inherited.clone()
                }
                None => Scope::default(),
            },
            _ => Scope::default(),
        };
        // Sized up front: collecting Results cannot know the length, and
        // regrowing a vector of big steps shows up for 100k-line files.
        let mut steps = Vec::with_capacity(stage.instructions.len());
        for inst in &stage.instructions {
            steps.push(ctx.step(&mut scope, inst)?);
        }
        if let Some(slot) = position.get_mut(index) {
            *slot = Some(done.len());
        }
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

/// Evaluates `instructions` of one stage from `scope` on: used at build
/// time when a base image's ONBUILD triggers go in front of a stage's own
/// instructions (only then is the base image's config known).
pub fn evaluate_instructions(
    df: &Dockerfile,
    plan: &Plan,
    opts: &BuildOptions,
    scope: &mut Scope,
    instructions: &[Instruction],
) -> Result<Vec<Step>, DockerfileError> {
    let ctx = Ctx::new(df, plan, opts);
    instructions
        .iter()
        .map(|inst| ctx.step(scope, inst))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frontend::dockerfile::parse;
    use crate::frontend::dockerfile::plan::plan;
    use crate::frontend::dockerfile::scope::Platform;

    fn run(src: &str, args: &[(&str, &str)]) -> Result<Vec<EvaluatedStage>, DockerfileError> {
        let df = parse(src, "Dockerfile").unwrap();
        let opts = BuildOptions {
            build_args: args
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            target: None,
            platform: Platform::default(),
        };
        let p = plan(&df, &opts)?;
        evaluate(&df, &p, &opts)
    }

    /// The LABEL pairs of the last stage, after substitution.
    fn labels(src: &str, args: &[(&str, &str)]) -> Vec<(String, String)> {
        let stages = run(src, args).unwrap();
        let mut out = Vec::new();
        for step in &stages.last().unwrap().steps {
            if let Kind::Label { pairs } = &step.instruction.kind {
                out.extend(pairs.iter().map(|p| (p.key.clone(), p.value.clone())));
            }
        }
        out
    }

    fn label(src: &str, args: &[(&str, &str)]) -> String {
        labels(src, args).pop().unwrap().1
    }

    #[test]
    fn global_arg_needs_redeclaring_in_stage() {
        assert_eq!(label("ARG V=1\nFROM a\nLABEL v=[$V]\n", &[]), "[]");
        assert_eq!(label("ARG V=1\nFROM a\nARG V\nLABEL v=[$V]\n", &[]), "[1]");
        assert_eq!(
            label("ARG V=1\nFROM a\nARG V\nLABEL v=$V\n", &[("V", "2")]),
            "2"
        );
    }

    #[test]
    fn arg_precedence_build_arg_then_stage_default_then_global() {
        assert_eq!(label("ARG V=g\nFROM a\nARG V=s\nLABEL v=$V\n", &[]), "s");
        assert_eq!(
            label("ARG V=g\nFROM a\nARG V=s\nLABEL v=$V\n", &[("V", "b")]),
            "b"
        );
        assert_eq!(label("FROM a\nARG V\nLABEL v=${V-unset}\n", &[]), "unset");
    }

    #[test]
    fn arg_is_visible_only_after_its_declaration() {
        assert_eq!(
            labels(
                "FROM a\nLABEL before=[$V]\nARG V=x\nLABEL after=[$V]\n",
                &[]
            ),
            vec![
                ("before".to_string(), "[]".to_string()),
                ("after".to_string(), "[x]".to_string())
            ]
        );
    }

    /// BuildKit's rules: of an ENV and an ARG with a value, the later one;
    /// an ARG without a value changes nothing.
    #[test]
    fn the_later_of_env_and_arg_wins() {
        let df = "FROM a\nARG A=arg\nENV A=env\nARG A=again\nLABEL l=$A\n";
        assert_eq!(label(df, &[("A", "cli")]), "cli");
        assert_eq!(label(df, &[]), "again");
        assert_eq!(
            label("FROM a\nARG A=arg\nENV A=env\nLABEL l=$A\n", &[]),
            "env"
        );
        assert_eq!(label("FROM a\nENV A=env\nARG A\nLABEL l=$A\n", &[]), "env");
        assert_eq!(label("FROM a\nARG A=1\nARG A\nLABEL l=$A\n", &[]), "1");
        assert_eq!(
            label("FROM a\nARG A=1\nENV A=env\nARG A\nLABEL l=$A\n", &[]),
            "env"
        );
        let stages = run(
            "FROM a\nENV A=env\nARG A=arg\nRUN true\nENV A=env2\nRUN true\n",
            &[],
        )
        .unwrap();
        let runs: Vec<_> = stages[0]
            .steps
            .iter()
            .filter_map(|s| s.run_env.as_ref())
            .map(|e| e.env.clone())
            .collect();
        let kv = |v: &str| vec![("A".to_string(), v.to_string())];
        assert_eq!(runs, vec![kv("arg"), kv("env2")]);
    }

    #[test]
    fn env_pairs_see_values_from_before_the_instruction() {
        let stages = run("FROM a\nENV a=1\nENV a=2 b=$a\n", &[]).unwrap();
        assert_eq!(
            stages[0].scope.env,
            vec![
                ("a".to_string(), "2".to_string()),
                ("b".to_string(), "1".to_string())
            ]
        );
    }

    #[test]
    fn quoting_in_env_values() {
        let stages = run("FROM a\nENV X=v\nENV A='$X' B=\"$X y\" C=$X\\ z\n", &[]).unwrap();
        let env = &stages[0].scope.env;
        assert_eq!(env[1], ("A".to_string(), "$X".to_string()));
        assert_eq!(env[2], ("B".to_string(), "v y".to_string()));
        assert_eq!(env[3], ("C".to_string(), "v z".to_string()));
    }

    #[test]
    fn platform_args_need_declaration_inside_stage() {
        assert_eq!(label("FROM a\nLABEL a=[$TARGETARCH]\n", &[]), "[]");
        assert_eq!(
            label("FROM a\nARG TARGETARCH\nLABEL a=$TARGETARCH\n", &[]),
            "amd64"
        );
        assert_eq!(
            label("FROM a\nARG TARGETPLATFORM\nLABEL a=$TARGETPLATFORM\n", &[]),
            "linux/amd64"
        );
    }

    #[test]
    fn run_is_left_to_the_shell_and_gets_an_environment() {
        let stages = run(
            "FROM a\nARG V=1\nENV E=2\nRUN echo $V $E\n",
            &[("HTTP_PROXY", "http://p:3128")],
        )
        .unwrap();
        let step = &stages[0].steps[2];
        assert_eq!(
            step.instruction.kind,
            Kind::Run(Run {
                command: CommandLine::Shell("echo $V $E".into()),
                heredocs: vec![],
                mounts: vec![],
                network: None,
                security: None,
            })
        );
        let env = step.run_env.as_ref().unwrap();
        assert_eq!(
            env.env,
            vec![
                ("V".to_string(), "1".to_string()),
                ("E".to_string(), "2".to_string())
            ]
        );
        assert_eq!(
            env.proxy,
            vec![("HTTP_PROXY".to_string(), "http://p:3128".to_string())]
        );
    }

    #[test]
    fn declared_proxy_arg_joins_the_cache_relevant_env() {
        let stages = run(
            "FROM a\nARG HTTP_PROXY\nRUN x\n",
            &[("HTTP_PROXY", "http://p")],
        )
        .unwrap();
        let env = stages[0].steps[1].run_env.as_ref().unwrap();
        assert!(env.proxy.is_empty());
        assert_eq!(
            env.env,
            vec![("HTTP_PROXY".to_string(), "http://p".to_string())]
        );
    }

    #[test]
    fn cmd_entrypoint_shell_healthcheck_are_not_expanded() {
        let stages = run(
            "FROM a\nENV X=1\nCMD echo $X\nENTRYPOINT [\"$X\"]\nHEALTHCHECK CMD test $X\n",
            &[],
        )
        .unwrap();
        let kinds: Vec<_> = stages[0]
            .steps
            .iter()
            .map(|s| s.instruction.kind.clone())
            .collect();
        assert_eq!(
            kinds[1],
            Kind::Cmd {
                command: CommandLine::Shell("echo $X".into())
            }
        );
        assert_eq!(
            kinds[2],
            Kind::Entrypoint {
                command: CommandLine::Exec(vec!["$X".into()])
            }
        );
    }

    #[test]
    fn expanded_instructions() {
        let src = "FROM a\nARG D=/srv U=app P=8080 S=SIGINT N=x\nWORKDIR $D/${N}\nUSER $U:$U\nEXPOSE $P/tcp\nVOLUME $D/data\nSTOPSIGNAL $S\nCOPY --chown=$U --chmod=${MODE:-644} $N.txt $D/\nADD $N.tgz $D/\n";
        let stages = run(src, &[]).unwrap();
        let kinds: Vec<_> = stages[0]
            .steps
            .iter()
            .map(|s| s.instruction.kind.clone())
            .collect();
        assert_eq!(
            kinds[1],
            Kind::Workdir {
                path: "/srv/x".into()
            }
        );
        assert_eq!(
            kinds[2],
            Kind::User {
                user: "app:app".into()
            }
        );
        assert_eq!(
            kinds[3],
            Kind::Expose {
                ports: vec!["8080/tcp".into()]
            }
        );
        assert_eq!(
            kinds[4],
            Kind::Volume {
                paths: vec!["/srv/data".into()]
            }
        );
        assert_eq!(
            kinds[5],
            Kind::Stopsignal {
                signal: "SIGINT".into()
            }
        );
        let Kind::Copy(c) = &kinds[6] else { panic!() };
        assert_eq!(
            (c.chown.as_deref(), c.chmod.as_deref()),
            (Some("app"), Some("644"))
        );
        assert_eq!(c.sources, vec![CopySource::Path("x.txt".into())]);
        assert_eq!(c.dest, "/srv/");
        let Kind::Add(a) = &kinds[7] else { panic!() };
        assert_eq!(a.sources, vec![CopySource::Path("x.tgz".into())]);
    }

    #[test]
    fn values_are_validated_after_expansion() {
        let e = run("FROM a\nARG P=http\nEXPOSE $P\n", &[]).unwrap_err();
        assert_eq!(e.line, 3);
        assert!(
            e.message.starts_with("EXPOSE: invalid port"),
            "{}",
            e.message
        );
        let e = run("FROM a\nARG S=NOPE\nSTOPSIGNAL $S\n", &[]).unwrap_err();
        assert!(e.message.contains("invalid signal"), "{}", e.message);
    }

    #[test]
    fn required_variable_error_has_line_and_message() {
        let e = run("FROM a\nRUN true\nWORKDIR ${APP_DIR:?set APP_DIR}\n", &[]).unwrap_err();
        assert_eq!(
            e.to_string().lines().next().unwrap(),
            "Dockerfile:3: WORKDIR: APP_DIR: set APP_DIR"
        );
    }

    #[test]
    fn copy_heredoc_expansion_follows_delimiter_quoting() {
        let src = "FROM a\nARG PORT=80\nCOPY <<EOF <<'RAW' /etc/\nport=$PORT \"q\"\nEOF\nport=$PORT\nRAW\n";
        let stages = run(src, &[]).unwrap();
        let Kind::Copy(c) = &stages[0].steps[1].instruction.kind else {
            panic!()
        };
        let contents: Vec<_> = c
            .sources
            .iter()
            .map(|s| match s {
                CopySource::Heredoc(h) => h.content.clone(),
                CopySource::Path(p) => p.clone(),
            })
            .collect();
        assert_eq!(
            contents,
            vec!["port=80 \"q\"\n".to_string(), "port=$PORT\n".to_string()]
        );
    }

    #[test]
    fn child_stage_inherits_args_and_env() {
        assert_eq!(
            labels(
                "FROM a AS p\nARG X=1\nENV Y=2\nFROM p\nLABEL x=$X y=$Y\n",
                &[]
            ),
            vec![
                ("x".to_string(), "1".to_string()),
                ("y".to_string(), "2".to_string())
            ]
        );
        // An image base (not a stage) starts empty.
        assert_eq!(
            label("FROM a AS p\nARG X=1\nFROM b\nLABEL x=[$X]\n", &[]),
            "[]"
        );
    }

    #[test]
    fn onbuild_trigger_is_kept_verbatim() {
        let stages = run("FROM a\nARG X=1\nONBUILD COPY $X /y\n", &[]).unwrap();
        let Kind::Onbuild { expression, .. } = &stages[0].steps[1].instruction.kind else {
            panic!()
        };
        assert_eq!(expression, "COPY $X /y");
    }
}
