//! Local mode: the manifests' objects with the status `accountops plan` says they would have.
//!
//! ```text
//! -f PATH… ─► read + validate ─► plan against --database (rolled back: nothing written)
//!                                       │ engine::Report
//!                                       ▼
//!          references from the manifests + IDs and reasons from render::json (what `-o json`
//!          prints) + Ready/Synced from its conditions, or the core's conditions of the outcome
//! ```
//!
//! The plan is `plan`'s own (same validation, same engine, same database rules: never
//! migrates, a missing SQLite file is an empty database), so trace cannot disagree with it.
//! Manifests carry no creation time, so AGE is shown only for one that has
//! `metadata.creationTimestamp`.

use std::collections::HashMap;
use std::path::PathBuf;

use jiff::Timestamp;
use serde_json::Value;

use super::TraceError;
use super::tree::{Health, Inventory, Object};
use crate::api::{Condition, ConditionStatus};
use crate::core::{Kind, paused_conditions};
use crate::local::command::{DEFAULT_ACCEPT_URL_BASE, LOCAL_FROM, database_url};
use crate::local::engine::{self, Entry, Mode, Options, Status};
use crate::local::{database, manifest, render, validate};
use crate::mail::MailSettings;
use crate::store::outbox::Origin;

/// The manifests at `paths`, planned against `database` (see the module doc).
pub async fn inventory(paths: &[PathBuf], database: &str, cluster_id: &str) -> Result<Inventory, TraceError> {
    let local = |e: anyhow::Error| TraceError::Local(e);
    let docs =
        manifest::read_documents(paths).map_err(|e| local(anyhow::Error::new(e).context("reading manifests")))?;
    let (set, mut problems) = validate::validate(&docs);
    if !problems.is_empty() {
        problems.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
        for p in &problems {
            eprintln!("{p}");
        }
        return Err(TraceError::Invalid(problems.len()));
    }
    let mail = MailSettings::new(LOCAL_FROM, None, DEFAULT_ACCEPT_URL_BASE)
        .map_err(|e| local(anyhow::Error::new(e)))?
        .with_origin(Origin::Local(cluster_id.to_owned()));
    let store =
        database::open(&database_url(database, Mode::Plan), Mode::Plan, cluster_id, false).await.map_err(local)?;
    let options = Options { cluster_id: cluster_id.to_owned(), prune: false, mail, scim: Default::default() };
    let now = Timestamp::now();
    let report = engine::run(&store, &set, &options, Mode::Plan, now).await;
    store.close().await;
    let report = report.map_err(|e| local(anyhow::Error::new(e).context("planning the manifests")))?;

    let shown = render::json(&report);
    let rows = shown["objects"].as_array().map(Vec::as_slice).unwrap_or_default();
    let planned: HashMap<(&str, &str, &str), (&Entry, &Value)> = report
        .entries
        .iter()
        .zip(rows)
        .map(|(entry, row)| ((entry.kind, entry.namespace.as_str(), entry.name.as_str()), (entry, row)))
        .collect();
    let mut objects = Vec::new();
    let mut add = |kind: Kind, namespace: &str, manifest: Value| {
        let mut object = Object::from_resource(kind, namespace, &manifest);
        let created = object.health.created;
        let found = planned.get(&(kind.as_str(), namespace, object.name.as_str()));
        object.health = found.map(|(entry, row)| health(entry, row, now)).unwrap_or_default();
        object.health.created = created;
        object.counterpart_id = found.and_then(|(_, row)| row["counterpartOrganizationId"].as_str().map(str::to_owned));
        objects.push(object);
    };
    for i in &set.accounts {
        add(Kind::Account, &i.namespace, value(&i.object));
    }
    for i in &set.organizations {
        add(Kind::Organization, &i.namespace, value(&i.object));
    }
    for i in &set.memberships {
        add(Kind::Membership, &i.namespace, value(&i.object));
    }
    for i in &set.tenant_links {
        add(Kind::TenantLink, &i.namespace, value(&i.object));
    }
    for i in &set.provisioning_syncs {
        add(Kind::ProvisioningSync, &i.namespace, value(&i.object));
    }
    Ok(Inventory { objects, ..Inventory::default() })
}

/// A typed manifest as JSON, for the reading both modes share ([`Object::from_resource`]).
fn value<T: serde::Serialize>(object: &T) -> Value {
    serde_json::to_value(object).unwrap_or_default()
}

/// The status fields of `-o json` that hold platform IDs.
const ID_FIELDS: [&str; 5] = ["accountId", "userId", "linkId", "counterpartOrganizationId", "externalId"];

/// What the plan says of one object: IDs from its `-o json` row; Ready and Synced from the
/// row's `conditions` when it has them, else the core's conditions of its outcome.
fn health(entry: &Entry, row: &Value, now: Timestamp) -> Health {
    let shown: Option<Vec<Condition>> = serde_json::from_value(row["conditions"].clone()).ok();
    let mut health = match (shown, &entry.status) {
        (Some(conditions), _) => Health::from_conditions(&conditions),
        (None, Status::Done(outcome)) => Health::from_conditions(&outcome.conditions(&[], None, now)),
        (None, Status::Paused) => Health::from_conditions(&paused_conditions(&[], None, now)),
        (None, Status::Failed(crate::core::Failure { reason, message, .. })) => Health {
            ready: Some(ConditionStatus::False),
            synced: Some(ConditionStatus::False),
            reason: Some(reason.to_string()),
            message: Some(message.clone()),
            ..Health::default()
        },
        (None, Status::Input) => Health::default(),
    };
    let text = |v: &Value| v.as_str().map(str::to_owned);
    health.id = text(&row["id"]);
    health.ids = ID_FIELDS.iter().filter_map(|f| Some(((*f).to_owned(), text(&row[*f])?))).collect();
    health
}
