//! One error type for the whole runtime: a message plus the chain of steps
//! that led to it, printed outermost first ("create: mount /proc: EPERM").
//! runc callers match substrings of the final text, so the innermost cause
//! keeps its exact wording (e.g. "container does not exist").

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    msg: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(msg: impl Into<String>) -> Self {
        Error { msg: msg.into() }
    }

    /// Builds an error from an errno returned by a syscall, worded like Go's
    /// syscall errors ("operation not permitted") because Docker and Podman
    /// classify runtime failures by that text.
    pub fn errno(step: impl fmt::Display, errno: nix::Error) -> Self {
        Error::new(format!("{step}: {}", errno_text(errno)))
    }

    pub fn message(&self) -> &str {
        &self.msg
    }

    /// Prefixes the message with the step that failed.
    pub fn context(self, step: impl fmt::Display) -> Self {
        Error::new(format!("{step}: {}", self.msg))
    }
}

/// strerror-style lower-case text, as runc prints it.
pub fn errno_text(errno: nix::Error) -> String {
    let s = errno.desc();
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for Error {}

impl From<nix::Error> for Error {
    fn from(e: nix::Error) -> Self {
        Error::new(errno_text(e))
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        match e.raw_os_error() {
            Some(code) => Error::new(errno_text(nix::Error::from_raw(code))),
            None => Error::new(e.to_string()),
        }
    }
}

/// `.ctx("step")` on any result whose error converts into [`Error`].
pub trait Context<T> {
    fn ctx(self, step: impl fmt::Display) -> Result<T>;
    fn with_ctx<F: FnOnce() -> String>(self, step: F) -> Result<T>;
}

impl<T, E: Into<Error>> Context<T> for std::result::Result<T, E> {
    fn ctx(self, step: impl fmt::Display) -> Result<T> {
        self.map_err(|e| e.into().context(step))
    }
    fn with_ctx<F: FnOnce() -> String>(self, step: F) -> Result<T> {
        self.map_err(|e| e.into().context(step()))
    }
}

/// Early return with a formatted [`Error`].
#[macro_export]
macro_rules! bail {
    ($($arg:tt)*) => { return Err($crate::error::Error::new(format!($($arg)*))) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_prefixes_outermost_first() {
        let e: Result<()> = Err(Error::new("no such file or directory"));
        let e = e.ctx("open /x").ctx("create").unwrap_err();
        assert_eq!(e.message(), "create: open /x: no such file or directory");
    }

    #[test]
    fn errno_text_is_lower_case_like_go() {
        assert_eq!(errno_text(nix::Error::EPERM), "operation not permitted");
        assert_eq!(errno_text(nix::Error::ENOENT), "no such file or directory");
    }
}
