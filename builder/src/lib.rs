//! rt-build: turns Dockerfiles into OCI images, running RUN steps through
//! rt's library. This crate currently holds the front end: the Dockerfile
//! parser, variable substitution, stage planning and `.dockerignore`.

pub mod cli;
pub mod context;
pub mod dockerfile;
pub mod glob;
