//! The typed syntax tree of a Dockerfile. Every string is the *source* text
//! (quotes and `$vars` intact); `expand` produces substituted copies.

use super::directives::Directives;
use super::heredoc::Heredoc;
use super::mount::Mount;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub line: usize,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dockerfile {
    /// The file name used in error messages.
    pub file: String,
    pub directives: Directives,
    /// ARG instructions before the first FROM (the global scope).
    pub global_args: Vec<Instruction>,
    pub stages: Vec<Stage>,
    pub warnings: Vec<Warning>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stage {
    pub index: usize,
    /// `AS name`, lowercased (stage names are case-insensitive).
    pub name: Option<String>,
    pub from: From,
    /// Line of the FROM instruction.
    pub line: usize,
    pub instructions: Vec<Instruction>,
}

impl Stage {
    /// The name BuildKit shows for unnamed stages.
    pub fn display_name(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| format!("stage-{}", self.index))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Instruction {
    pub line: usize,
    pub end_line: usize,
    /// The joined instruction text as written (without heredoc bodies).
    pub original: String,
    #[serde(flatten)]
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "instruction", rename_all = "UPPERCASE")]
pub enum Kind {
    From(From),
    Run(Run),
    Cmd {
        command: CommandLine,
    },
    Entrypoint {
        command: CommandLine,
    },
    Env {
        pairs: Vec<KeyValue>,
    },
    Arg {
        args: Vec<ArgDecl>,
    },
    Label {
        pairs: Vec<KeyValue>,
    },
    Expose {
        ports: Vec<String>,
    },
    User {
        user: String,
    },
    Workdir {
        path: String,
    },
    Volume {
        paths: Vec<String>,
    },
    Copy(Copy),
    Add(Add),
    Shell {
        shell: Vec<String>,
    },
    Stopsignal {
        signal: String,
    },
    Healthcheck(Healthcheck),
    Onbuild {
        /// The trigger as it will be stored in the image config.
        expression: String,
        trigger: Box<Instruction>,
    },
    Maintainer {
        name: String,
    },
}

impl Kind {
    pub fn keyword(&self) -> &'static str {
        match self {
            Kind::From(_) => "FROM",
            Kind::Run(_) => "RUN",
            Kind::Cmd { .. } => "CMD",
            Kind::Entrypoint { .. } => "ENTRYPOINT",
            Kind::Env { .. } => "ENV",
            Kind::Arg { .. } => "ARG",
            Kind::Label { .. } => "LABEL",
            Kind::Expose { .. } => "EXPOSE",
            Kind::User { .. } => "USER",
            Kind::Workdir { .. } => "WORKDIR",
            Kind::Volume { .. } => "VOLUME",
            Kind::Copy(_) => "COPY",
            Kind::Add(_) => "ADD",
            Kind::Shell { .. } => "SHELL",
            Kind::Stopsignal { .. } => "STOPSIGNAL",
            Kind::Healthcheck(_) => "HEALTHCHECK",
            Kind::Onbuild { .. } => "ONBUILD",
            Kind::Maintainer { .. } => "MAINTAINER",
        }
    }
}

/// Every instruction keyword, for "did you mean" suggestions.
pub const KEYWORDS: &[&str] = &[
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct From {
    pub image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
}

/// Shell form is run through the current SHELL; exec form is run as is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CommandLine {
    Shell(String),
    Exec(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Run {
    pub command: CommandLine,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub heredocs: Vec<Heredoc>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<Mount>,
    /// `--network=default|none|host`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// `--security=sandbox|insecure`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArgDecl {
    pub name: String,
    /// `None` for `ARG name`, `Some("")` for `ARG name=`.
    pub default: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CopySource {
    Path(String),
    Heredoc(Heredoc),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Copy {
    pub sources: Vec<CopySource>,
    pub dest: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chown: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chmod: Option<String>,
    pub link: bool,
    pub parents: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub excludes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Add {
    pub sources: Vec<CopySource>,
    pub dest: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chown: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chmod: Option<String>,
    pub link: bool,
    pub keep_git_dir: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub excludes: Vec<String>,
    /// `--unpack=true|false`; `None` means the default (local archives yes,
    /// remote ones no).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unpack: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Healthcheck {
    /// `HEALTHCHECK NONE`: disable any inherited check.
    pub disable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test: Option<CommandLine>,
    /// Durations in nanoseconds, `None` when not given (inherit default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval_ns: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_ns: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_period_ns: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_interval_ns: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
}
