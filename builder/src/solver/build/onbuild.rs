//! A base image's ONBUILD triggers, run as if written right after the
//! child's FROM (BuildKit's semantics). Each stored trigger is parsed as a
//! one-instruction Dockerfile; chaining ONBUILD, FROM and MAINTAINER are
//! refused as Docker refuses them. The triggers are evaluated together
//! with the stage's own instructions, so an ENV or ARG a trigger sets is
//! seen by what follows.

use crate::frontend::dockerfile::evaluate::{Step, evaluate_instructions};
use crate::frontend::dockerfile::plan::{Base, BuildOptions, Plan};
use crate::frontend::dockerfile::scope::Scope;
use crate::frontend::dockerfile::{Dockerfile, Instruction, Kind, parse};

/// Parses the triggers; each becomes an instruction positioned at the
/// child's FROM line (where BuildKit reports trigger errors).
pub fn parse_triggers(triggers: &[String], from_line: usize) -> Result<Vec<Instruction>, String> {
    let mut out = Vec::new();
    for trigger in triggers {
        let named = |e: &str| format!("ONBUILD trigger {:?} of the base image: {e}", trigger);
        let keyword = trigger
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        match keyword.as_str() {
            "" => return Err(named("empty trigger")),
            "ONBUILD" => {
                return Err(named(
                    "chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
                ));
            }
            "FROM" | "MAINTAINER" => {
                return Err(named(&format!(
                    "{keyword} isn't allowed as an ONBUILD trigger"
                )));
            }
            _ => {}
        }
        let df = parse(&format!("FROM scratch\n{trigger}\n"), "trigger")
            .map_err(|e| named(&e.message))?;
        let [stage] = df.stages.as_slice() else {
            return Err(named("a trigger must be a single instruction"));
        };
        let [inst] = stage.instructions.as_slice() else {
            return Err(named("a trigger must be a single instruction"));
        };
        if matches!(inst.kind, Kind::Onbuild { .. }) {
            return Err(named("chaining ONBUILD isn't allowed"));
        }
        out.push(Instruction {
            line: from_line,
            end_line: from_line,
            ..inst.clone()
        });
    }
    Ok(out)
}

/// The stage's steps with the triggers in front, evaluated from the
/// stage's starting scope plus the base's Env (which BuildKit substitutes
/// in the stage's words and the triggers').
pub fn steps_with_triggers(
    df: &Dockerfile,
    plan: &Plan,
    opts: &BuildOptions,
    parent_scope: Option<&Scope>,
    base_env: &[String],
    triggers: &[Instruction],
    index: usize,
) -> Result<Vec<Step>, String> {
    let mut scope = match (&plan.stages[index].base, parent_scope) {
        (Base::Stage(_), Some(s)) => s.clone(),
        _ => Scope::default(),
    };
    // The base's Env is what its ENV values really are: a parent stage's
    // scope was evaluated before its own base image was known, so its
    // values of variables that image set (`ENV PATH=/x:$PATH`) are
    // replaced by the ones the parent's build produced.
    for kv in base_env {
        if let Some((k, v)) = kv.split_once('=') {
            scope.seed_env(k, v.to_string());
        }
    }
    let mut all = triggers.to_vec();
    all.extend(df.stages[index].instructions.iter().cloned());
    evaluate_instructions(df, plan, opts, &mut scope, &all).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triggers_parse_at_the_from_line() {
        let t = parse_triggers(&["RUN echo x > /y".into(), "COPY a /b".into()], 7).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].line, 7);
        assert_eq!(t[0].original, "RUN echo x > /y");
        assert!(matches!(t[1].kind, Kind::Copy(_)));
    }

    #[test]
    fn heredoc_trigger_keeps_its_body() {
        let t = parse_triggers(&["RUN <<EOF\necho hi\nEOF".into()], 1).unwrap();
        let Kind::Run(r) = &t[0].kind else {
            panic!("not a RUN: {:?}", t[0].kind)
        };
        assert_eq!(r.heredocs[0].content, "echo hi\n");
    }

    #[test]
    fn refused_triggers_are_named() {
        for (t, want) in [
            ("ONBUILD RUN x", "ONBUILD ONBUILD"),
            ("FROM alpine", "FROM isn't allowed"),
            ("maintainer me", "MAINTAINER isn't allowed"),
            ("RUNN x", "unknown instruction"),
        ] {
            let e = parse_triggers(&[t.into()], 3).unwrap_err();
            assert!(e.contains(want), "{t}: {e}");
            assert!(e.contains(&format!("{t:?}")), "{t}: {e}");
        }
    }
}
