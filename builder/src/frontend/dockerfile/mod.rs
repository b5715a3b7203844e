//! The Dockerfile front end: text → typed, positioned instructions grouped
//! into build stages. Nothing here touches the filesystem or the network.

pub mod ast;
pub mod directives;
pub mod error;
pub mod evaluate;
pub mod expand;
pub mod flags;
pub mod heredoc;
pub mod instructions;
pub mod lines;
pub mod mount;
pub mod plan;
pub mod scope;
pub mod suggest;
pub mod values;
pub mod words;

#[cfg(test)]
mod tests;

pub use ast::{Dockerfile, Instruction, Kind, Stage};
pub use error::DockerfileError;
use std::collections::HashMap;

/// Parses a whole Dockerfile. `file` is only used in error messages.
pub fn parse(source: &str, file: &str) -> Result<Dockerfile, DockerfileError> {
    let scanned = lines::scan(source, file)?;
    let escape = scanned.directives.escape;
    let mut global_args = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    // Stage name → index, so the duplicate check is not a scan per FROM.
    let mut names: HashMap<String, usize> = HashMap::new();
    for line in &scanned.lines {
        let instruction = instructions::parse_line(line, escape, file)?;
        if let Kind::From(from) = &instruction.kind {
            if let Some(alias) = &from.alias
                && let Some(prev) = names.get(alias.as_str()).map(|&i| &stages[i])
            {
                return Err(DockerfileError::new(
                    file,
                    instruction.line,
                    format!(
                        "duplicate stage name {} (first defined on line {})",
                        error::quote(alias),
                        prev.line
                    ),
                )
                .with_excerpt(&instruction.original));
            }
            if let Some(alias) = &from.alias {
                names.insert(alias.clone(), stages.len());
            }
            stages.push(Stage {
                index: stages.len(),
                name: from.alias.clone(),
                from: from.clone(),
                line: instruction.line,
                instructions: Vec::new(),
            });
            continue;
        }
        match stages.last_mut() {
            Some(stage) => stage.instructions.push(instruction),
            None if matches!(instruction.kind, Kind::Arg { .. }) => global_args.push(instruction),
            None => {
                return Err(DockerfileError::new(
                    file,
                    instruction.line,
                    format!(
                        "no build stage in current context: {} must come after FROM (only ARG may precede the first FROM)",
                        instruction.kind.keyword()
                    ),
                )
                .with_excerpt(&instruction.original));
            }
        }
    }
    if stages.is_empty() {
        let line = scanned.lines.last().map(|l| l.start_line).unwrap_or(1);
        let message = if scanned.lines.is_empty() {
            "the Dockerfile has no instructions"
        } else {
            "no FROM instruction: a Dockerfile needs at least one build stage"
        };
        return Err(DockerfileError::new(file, line, message));
    }
    Ok(Dockerfile {
        file: file.to_string(),
        directives: scanned.directives,
        global_args,
        stages,
        warnings: scanned.warnings,
    })
}
