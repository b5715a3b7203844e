//! The build context: what a build may read from the user's directory.

pub mod ignore;
