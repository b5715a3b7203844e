//! Processes rt starts: the container's init (clone into namespaces) and
//! the channel it reports back on.

pub mod channel;
pub mod idmap;
pub mod namespaces;
pub mod netns_ahead;
pub mod userns_join;

pub use channel::{Channel, Msg};
