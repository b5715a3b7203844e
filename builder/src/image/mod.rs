//! Images at rest and in transit: the OCI types (`oci`), the store and its
//! garbage collection, layers (writing, unpacking, compression), imports
//! and exports, registries, and runtime bundles.

pub mod archive;
pub mod bundle;
pub mod digest;
pub mod export;
pub mod import;
pub mod layer;
pub mod oci;
pub mod registry;
pub mod store;

// Manifests, configs and media types are what `crate::image` means.
pub use oci::*;
