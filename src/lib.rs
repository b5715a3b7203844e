//! rt: a low-level OCI container runtime.
pub mod cli;
pub mod seccomp;
