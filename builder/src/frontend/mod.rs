//! The front end: what is to be built. The Dockerfile is parsed, planned
//! (stages, dependencies, target) and evaluated (variables substituted)
//! before anything runs; the context is filtered by `.dockerignore`.

pub mod context;
pub mod dockerfile;
pub mod glob;
