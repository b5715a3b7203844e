//! Integration tests: drive the runtime binary as root on busybox bundles.
//!
//! The binary under test is `$RT_BIN` if set (e.g. /usr/sbin/runc, the
//! reference), else the rt binary cargo builds. Run:
//! `RT_BIN=/usr/sbin/runc cargo test --test integration -- --test-threads=2`.

mod common;

mod buildah;
mod checkpoint;
mod containerd;
mod docker;
mod errors;
mod events;
mod exec;
mod fds;
mod hooks;
mod idmap;
mod layout;
mod lifecycle;
mod logging;
mod mounts;
mod namespaces;
mod podman;
mod process;
mod reliability;
mod resources;
mod rootless;
mod scheduling;
mod seccomp;
mod security;
mod spec;
mod terminal;
mod userns;
