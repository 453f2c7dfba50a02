//! Integration tests: one binary, so the crate links once and the control plane is shared.

mod apiserver;
mod asset_activation;
/// The scale benchmark's CPU accounting (`/proc` parsing), unit-tested here.
#[allow(dead_code)]
#[path = "../bench/cpu.rs"]
mod bench_cpu;
/// The scale benchmark's pure parts (metrics parsing, the table), unit-tested here.
#[allow(dead_code)]
#[path = "../bench/report.rs"]
mod bench_report;
mod chart;
mod chart_cnpg;
mod chart_monitoring;
mod chart_replicas;
mod chart_roles;
mod chart_subchart;
mod chart_values;
mod cli;
/// The fault campaign's pure parts (mail counts, readiness, its rows), unit-tested here.
#[allow(dead_code)]
#[path = "../bench/fault_figures.rs"]
mod fault_figures;
mod fencing;
mod gitops_health;
mod harness;
mod image;
mod input;
mod local;
mod local_database;
mod mail;
mod mail_database_outage;
mod mail_delivery;
mod mail_outage;
mod membership_e2e;
mod membership_local;
mod namespaces;
mod operations;
mod operator;
mod provider_code_e2e;
mod provisioning_e2e;
mod provisioning_local;
mod scim;
mod scim_hostile;
mod scim_hostile_e2e;
mod scim_policy_e2e;
mod scim_policy_local;
mod scim_sync;
mod secrets_output;
mod shared_database;
mod staff_e2e;
mod staff_local;
mod store_pg;
mod store_tls;
mod support;
mod tenancy_e2e;
mod tenancy_local;
mod tenant_link_e2e;
mod tenant_link_local;
mod tenants_cli;
mod trace;
