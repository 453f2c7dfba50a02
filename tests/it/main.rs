//! Integration tests: one binary, so the crate links once and the control plane is shared.

mod apiserver;
mod chart;
mod chart_replicas;
mod cli;
mod fencing;
mod harness;
mod local;
mod local_database;
mod mail;
mod mail_delivery;
mod mail_outage;
mod membership_e2e;
mod membership_local;
mod operations;
mod operator;
mod provisioning_e2e;
mod provisioning_local;
mod scim;
mod shared_database;
mod store_pg;
mod support;
mod tenant_link_e2e;
mod tenant_link_local;
