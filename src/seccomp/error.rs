//! Errors that name the offending config field or the refusing syscall.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeccompError {
    /// The `linux.seccomp` section is invalid. `field` is its JSON path, e.g.
    /// `linux.seccomp.syscalls[3].names[0]`.
    Config { field: String, message: String },
    /// The kernel refused to install the filter.
    Install {
        message: String,
        errno: Option<nix::errno::Errno>,
    },
    /// The compiler produced an invalid program: a bug in this module.
    Internal(String),
}

impl SeccompError {
    pub(crate) fn config(field: impl Into<String>, message: impl Into<String>) -> Self {
        SeccompError::Config {
            field: field.into(),
            message: message.into(),
        }
    }

    pub(crate) fn install(message: impl Into<String>, errno: Option<nix::errno::Errno>) -> Self {
        SeccompError::Install {
            message: message.into(),
            errno,
        }
    }
}

impl fmt::Display for SeccompError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SeccompError::Config { field, message } => write!(f, "{field}: {message}"),
            SeccompError::Install {
                message,
                errno: Some(e),
            } => {
                write!(f, "linux.seccomp: {message}: {}", e.desc())
            }
            SeccompError::Install {
                message,
                errno: None,
            } => write!(f, "linux.seccomp: {message}"),
            SeccompError::Internal(m) => write!(f, "linux.seccomp: internal compiler error: {m}"),
        }
    }
}

impl std::error::Error for SeccompError {}
