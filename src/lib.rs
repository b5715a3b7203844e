//! rt: a low-level OCI container runtime, compatible with runc's command
//! line, usable as a library (`container::{create, start, kill, delete}`).

pub mod cgroups;
pub mod checkpoint;
pub mod cli;
pub mod container;
pub mod error;
pub mod exe_protection;
#[cfg(test)]
mod fuzzing;
pub mod hooks;
pub mod init;
pub mod logging;
pub mod mounts;
pub mod process;
pub mod raw_thread;
pub mod rootless;
pub mod seccomp;
pub mod spec;
pub mod state;
pub mod sys;

pub use error::{Error, Result};
