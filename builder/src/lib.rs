//! rt-build: turns Dockerfiles into OCI images, running RUN steps through
//! rt's library. Front end (`dockerfile`, `context`, `glob`), image store
//! (`store`, `image`, `digest`), layers (`layer`, `archive`, `snapshot`),
//! execution (`build`, `runner`, `copy`, `checksum`, `cache`), and the
//! ways images get in and out (`import`, `export`, `bundle`, `fetch`).

pub mod archive;
pub mod build;
pub mod bundle;
pub mod cache;
pub mod cache_mounts;
pub mod checksum;
pub mod chmod;
pub mod cli;
pub mod context;
pub mod copy;
pub mod digest;
pub mod dockerfile;
pub mod export;
pub mod fetch;
pub mod glob;
pub mod image;
pub mod import;
pub mod layer;
pub mod netns;
pub mod progress;
pub mod registry;
pub mod runner;
pub mod secrets;
pub mod snapshot;
pub mod store;
pub mod users;
