//! Integration tests: one binary, so the crate links once and the control plane is shared.

mod apiserver;
mod chart;
mod cli;
mod harness;
mod input;
mod local;
mod mail;
mod membership_e2e;
mod membership_local;
mod operations;
mod operator;
mod provisioning_e2e;
mod provisioning_local;
mod scim;
mod scim_hostile;
mod scim_hostile_e2e;
mod scim_policy_e2e;
mod scim_policy_local;
mod secrets_output;
mod store_pg;
mod store_tls;
mod support;
mod tenant_link_e2e;
mod tenant_link_local;
