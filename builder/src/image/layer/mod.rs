//! Layers: an overlay upper dir becomes an OCI layer tar (`write`), and a
//! layer tar becomes either an overlay lower dir or changes applied to a
//! flat rootfs (`unpack`). `paths` keeps every host path inside its root.

pub mod paths;
pub mod pgzip;
pub mod stubs;
pub mod unpack;
pub mod write;

pub use write::{LayerCompression, LayerInfo, LayerOptions, write_layer};
