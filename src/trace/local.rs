//! Local mode: the manifests' objects with the status `accountops plan` says they would have.
//!
//! ```text
//! -f PATH… ─► read + validate ─► plan against --database (rolled back: nothing written)
//!                                       │ engine::Report
//!                                       ▼
//!          references from the manifests + IDs and Ready/Synced from render::json (what
//!          `-o json` prints: the status each object would get, as the operator writes it)
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
use crate::api::Condition;
use crate::core::Kind;
use crate::local::command::{DEFAULT_ACCEPT_URL_BASE, LOCAL_FROM, database_url};
use crate::local::engine::{self, Mode, Options};
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
    let planned: HashMap<(&str, &str, &str), &Value> = report
        .entries
        .iter()
        .zip(rows)
        .map(|(entry, row)| ((entry.kind, entry.namespace.as_str(), entry.name.as_str()), row))
        .collect();
    let mut objects = Vec::new();
    let mut add = |kind: Kind, namespace: &str, manifest: Value| {
        let mut object = Object::from_resource(kind, namespace, &manifest);
        let created = object.health.created;
        let found = planned.get(&(kind.as_str(), namespace, object.name.as_str())).copied();
        object.health = found.map(health).unwrap_or_default();
        object.health.created = created;
        object.counterpart_id = found.and_then(|row| row["counterpartOrganizationId"].as_str().map(str::to_owned));
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

/// What the plan says of one object, all from its `-o json` row: Ready and Synced from the
/// `status` the operator would write (done, failed or paused alike: one status function for
/// both shells), IDs from the row. An input (`Read`) has no status, so no health.
fn health(row: &Value) -> Health {
    let conditions: Option<Vec<Condition>> = serde_json::from_value(row["status"]["conditions"].clone()).ok();
    let mut health = conditions.map(|c| Health::from_conditions(&c)).unwrap_or_default();
    let text = |v: &Value| v.as_str().map(str::to_owned);
    health.id = text(&row["id"]);
    health.ids = ID_FIELDS.iter().filter_map(|f| Some(((*f).to_owned(), text(&row[*f])?))).collect();
    health
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ConditionStatus, Reason};
    use crate::core::Failure;
    use crate::core::status::{Ran, first_status_json};
    use serde_json::json;

    fn failed(transient: bool) -> Value {
        let failure = Failure { reason: Reason::DatabaseUnavailable, message: "connection refused".into(), transient };
        json!({ "id": null, "status": first_status_json(Kind::Membership, Ran::Failed(&failure), Timestamp::now()) })
    }

    #[test]
    fn a_failure_reads_as_the_operator_writes_it_ready_unknown_only_while_it_may_pass() {
        let transient = health(&failed(true));
        assert_eq!((transient.ready, transient.synced), (Some(ConditionStatus::Unknown), Some(ConditionStatus::False)));
        assert_eq!(transient.reason.as_deref(), Some("DatabaseUnavailable"));
        assert_eq!(transient.message.as_deref(), Some("connection refused"));
        let permanent = health(&failed(false));
        assert_eq!((permanent.ready, permanent.synced), (Some(ConditionStatus::False), Some(ConditionStatus::False)));
    }

    #[test]
    fn a_paused_object_shows_synced_false_and_an_input_no_health() {
        let row = json!({ "status": first_status_json(Kind::Organization, Ran::Paused, Timestamp::now()) });
        let paused = health(&row);
        assert_eq!((paused.ready, paused.synced), (Some(ConditionStatus::Unknown), Some(ConditionStatus::False)));
        assert_eq!(paused.reason.as_deref(), Some("ReconcilePaused"));
        let input = health(&json!({ "action": "Read", "ready": null, "reason": "Input" }));
        assert_eq!(input, Health::default());
    }

    #[test]
    fn ids_come_from_the_row() {
        let row = json!({ "id": "mbr-1", "userId": "usr-2", "status": { "conditions": [] } });
        let h = health(&row);
        assert_eq!(h.id.as_deref(), Some("mbr-1"));
        assert_eq!(h.ids, std::collections::BTreeMap::from([("userId".to_owned(), "usr-2".to_owned())]));
    }
}
