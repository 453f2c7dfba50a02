//! Local mode: the engine over manifest files instead of a cluster.
//!
//! `validate` checks manifests; `plan` and `apply` ([`command`]) run the core over them
//! against a database ([`engine`]: one transaction, rolled back by `plan`) and print the result ([`render`]).

pub mod cel_formats;
pub mod codes;
pub mod command;
pub mod database;
pub mod desired;
pub mod engine;
pub mod manifest;
pub mod metadata_check;
pub mod references;
pub mod render;
pub mod schema_check;
pub mod syncs;
pub mod tenants;
pub mod validate;
