//! Local mode: the engine over manifest files instead of a cluster.

pub mod manifest;
pub mod references;
pub mod schema_check;
pub mod validate;
