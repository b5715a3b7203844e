//! rt-build: turns Dockerfiles into OCI images, running RUN steps through
//! rt's library. The folders follow BuildKit's pipeline:
//! - `frontend`: the Dockerfile (parsing, planning, evaluation) and the
//!   build context (.dockerignore, globs);
//! - `solver`: the steps as they run: the executor (`build`), the step
//!   cache and source checksums, RUN containers and their network,
//!   snapshots, COPY/ADD file semantics, progress;
//! - `image`: OCI images at rest and in transit: the store, layers,
//!   import/export, registries, runtime bundles.

pub mod cli;
pub mod frontend;
pub mod image;
pub mod solver;
