//! accountops: a multi-tenant platform's accounts as Kubernetes resources.
#![forbid(unsafe_code)]

pub mod api;
pub mod core;
pub mod jitter;
pub mod local;
pub mod logs;
pub mod mail;
pub mod operator;
pub mod redact;
pub mod scim;
pub mod store;
pub mod trace;
