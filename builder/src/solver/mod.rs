//! The solver: runs the evaluated steps. `build` is the executor (stages,
//! RUN/COPY/ADD/WORKDIR, parallel stages), `cache` and `checksum` decide
//! what can be reused, `snapshot` gives each step its filesystem (`hot`: on a tmpfs for
//! COPY and WORKDIR),
//! `runner` and `netns` its container and network, `copy`/`chmod`/`users`
//! the COPY/ADD semantics, `fetch` ADD's URLs, `progress` the output.

pub mod build;
pub mod cache;
pub mod cache_mounts;
pub mod checksum;
pub mod chmod;
pub mod copy;
pub mod fetch;
pub mod hot;
pub mod netns;
pub mod progress;
pub mod runner;
pub mod secrets;
pub mod snapshot;
pub mod users;
