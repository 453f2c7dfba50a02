//! The pure parts of a provisioning sync: its plan (the record step, the push intent and the
//! order steps), what the external system should hold, how an observed SCIM resource differs
//! from it (drift), and which orders to execute.
//!
//! ```text
//! ObservedSync ─► record::record ─► Record (create / continue / observe / release / archive / hold)
//!              ─► Push: Write or Observe (the Directory, from the record's last push)
//!                       │ Deprovision (deleting with policy Delete, pushed before) │ None
//!              ─► orders: plan_orders against the continued record's assets
//! ```

use std::collections::{BTreeMap, BTreeSet};

use super::DesiredSync;
use super::observe::{Focus, ObservedSync};
use super::pushed::PushRecord;
use super::record::{Record, record};
use crate::api::provisioning_sync::{InvoiceChoice as SpecInvoice, OrderSpec, SyncOptions};
use crate::scim::{Group, User};
use crate::store::assets::{Asset, InvoiceChoice};

/// What a reconcile of a sync does.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncPlan {
    pub record: Record,
    /// What is asked of the external system (the call `plan` skips).
    pub push: Push,
    /// The orders against the continued record's assets; carried out once the account is
    /// synchronized.
    pub orders: Vec<OrderStep>,
}

/// What a sync asks of the external system.
#[derive(Debug, Clone, PartialEq)]
pub enum Push {
    /// Nothing.
    None,
    /// Push the directory, correcting drift.
    Write(PushInput),
    /// Observe-only: read the system and list what a push would write.
    Observe(PushInput),
    /// Deleting with `deletionPolicy: Delete`: deprovision the users (and delete the groups)
    /// of the record's last push.
    Deprovision(PushInput),
}

/// What a push starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushInput {
    pub dir: Directory,
    /// The record of the last push; `None` when there is none (yet).
    pub before: Option<PushRecord>,
    /// Synced before the record of pushes existed.
    pub legacy: bool,
    /// Users (our IDs) another sync of the same system has pushed, never deprovisioned here.
    pub held_elsewhere: BTreeSet<String>,
}

/// Decide what to do for `desired` on `observed`. Pure: same input, same plan.
pub fn plan(desired: &DesiredSync, observed: &ObservedSync) -> SyncPlan {
    let record = record(desired, observed);
    let focus = |id: &str| observed.focus.as_ref().filter(|f| f.row.id == id);
    let input = |focus: Option<&Focus>, dir: &Directory| PushInput {
        dir: dir.clone(),
        before: focus.and_then(|f| f.before.clone()),
        legacy: focus.is_some_and(|f| f.legacy),
        held_elsewhere: focus.map(|f| f.held_elsewhere.clone()).unwrap_or_default(),
    };
    let nothing = |record| SyncPlan { record, push: Push::None, orders: Vec::new() };
    let Some(dir) = observed.directory.as_ref() else { return nothing(record) };
    match &record {
        Record::Create { .. } => {
            let orders = plan_orders(&desired.spec.orders, &[]);
            SyncPlan { push: Push::Write(input(None, dir)), orders, record }
        }
        Record::Continue { id, .. } => {
            let found = focus(id);
            let assets = found.map(|f| f.assets.as_slice()).unwrap_or_default();
            let orders = plan_orders(&desired.spec.orders, assets);
            SyncPlan { push: Push::Write(input(found, dir)), orders, record }
        }
        Record::Observe { id } => SyncPlan { push: Push::Observe(input(focus(id), dir)), orders: Vec::new(), record },
        Record::Archive { id, .. } => {
            // Only a record that pushed, and that the deletion has not archived yet, has
            // anything to take back.
            let push = match focus(id) {
                Some(f)
                    if f.row.archived_at.is_none()
                        && f.row.sync_status != crate::store::syncs::SyncStatus::Unsynchronized
                        && (f.before.is_some() || desired.spec.options.members_as_users) =>
                {
                    Push::Deprovision(input(Some(f), dir))
                }
                _ => Push::None,
            };
            SyncPlan { push, orders: Vec::new(), record }
        }
        Record::Release { .. } | Record::Gone { .. } | Record::Hold(_) => nothing(record),
    }
}

/// How many users and groups a push of `dir` holds in the external system.
pub fn to_push(dir: &Directory, options: &SyncOptions) -> (usize, usize) {
    let users = if options.members_as_users { dir.users.len() } else { 0 };
    let organizations = if options.organizations_as_groups { dir.groups.len().saturating_sub(1) } else { 0 };
    (users, 1 + organizations)
}

/// A login member as the external system should see it (`externalId` = our user ID).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredUser {
    pub user_id: String,
    pub email: String,
    pub display_name: Option<String>,
}

/// An organization (or the account) as a SCIM Group (`externalId` = our ID).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredGroup {
    pub external_id: String,
    pub display_name: String,
    /// Our user IDs of its members.
    pub members: BTreeSet<String>,
}

/// The whole directory to push: the account group first, then one group per organization.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directory {
    pub users: BTreeMap<String, DesiredUser>,
    pub groups: Vec<DesiredGroup>,
}

impl Directory {
    /// The account's ID (its group's `externalId`).
    pub fn account_id(&self) -> &str {
        self.groups.first().map_or("", |g| g.external_id.as_str())
    }

    /// The account's legal name (its group's `displayName`).
    pub fn account_name(&self) -> &str {
        self.groups.first().map_or("", |g| g.display_name.as_str())
    }
}

/// How an observed resource compares with the desired one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drift {
    /// Absent from the external system.
    Missing,
    /// Present but these attributes differ.
    Changed(Vec<&'static str>),
    InSync,
}

impl Drift {
    pub fn needs_write(&self) -> bool {
        !matches!(self, Drift::InSync)
    }
}

/// The SCIM User for `desired` (active).
pub fn scim_user(desired: &DesiredUser) -> User {
    User::new(&desired.user_id, &desired.email, desired.display_name.as_deref(), true)
}

/// Compare a SCIM user with what it should be.
pub fn classify_user(desired: &DesiredUser, observed: Option<&User>) -> Drift {
    let Some(observed) = observed else { return Drift::Missing };
    let mut fields = Vec::new();
    if !observed.user_name.eq_ignore_ascii_case(&desired.email) {
        fields.push("userName");
    }
    if observed.display_name != desired.display_name {
        fields.push("displayName");
    }
    if observed.active != Some(true) {
        fields.push("active");
    }
    if !observed.primary_email().is_some_and(|e| e.eq_ignore_ascii_case(&desired.email)) {
        fields.push("emails");
    }
    if fields.is_empty() { Drift::InSync } else { Drift::Changed(fields) }
}

/// Compare a SCIM group with what it should be; `member_ids` maps our user IDs to SCIM IDs.
pub fn classify_group(desired: &DesiredGroup, scim_members: &BTreeSet<String>, observed: Option<&Group>) -> Drift {
    let Some(observed) = observed else { return Drift::Missing };
    let mut fields = Vec::new();
    if observed.display_name != desired.display_name {
        fields.push("displayName");
    }
    let have: BTreeSet<String> = observed.members.iter().map(|m| m.value.clone()).collect();
    if &have != scim_members {
        fields.push("members");
    }
    if fields.is_empty() { Drift::InSync } else { Drift::Changed(fields) }
}

/// What to do with one `spec.orders[]` entry.
#[derive(Debug, Clone, PartialEq)]
pub enum OrderStep {
    /// Not executed yet: insert the asset and queue the welcome mail.
    Execute(OrderSpec),
    /// Executed and unchanged.
    Done { name: String },
    /// Executed, and the spec now asks for something else: refused (`OrderImmutable`). An
    /// executed order is a fact (an asset, a welcome mail, an invoice line); a new order with
    /// another name asks for more.
    Edited { name: String, edits: Vec<OrderEdit> },
}

/// One field of an executed order the spec changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderEdit {
    pub field: &'static str,
    pub executed: String,
    pub requested: String,
}

/// How the store records the spec's invoice choice.
pub fn stored_invoice(choice: SpecInvoice) -> InvoiceChoice {
    match choice {
        SpecInvoice::Immediately => InvoiceChoice::Immediately,
        SpecInvoice::NextInvoice => InvoiceChoice::NextInvoice,
        SpecInvoice::DoNotInvoice => InvoiceChoice::DoNotInvoice,
    }
}

/// The fields of `order` that differ from what `asset` executed.
fn edits(order: &OrderSpec, asset: &Asset) -> Vec<OrderEdit> {
    let invoice = stored_invoice(order.invoice);
    [
        ("product", asset.product.clone(), order.product.clone()),
        ("quantity", asset.quantity.to_string(), order.quantity.to_string()),
        ("notificationEmail", asset.notification_email.clone(), order.notification_email.as_str().to_owned()),
        ("invoice", asset.invoice.as_str().to_owned(), invoice.as_str().to_owned()),
        ("locale", asset.locale.clone(), order.locale.as_str().to_owned()),
    ]
    .into_iter()
    .filter(|(_, executed, requested)| executed != requested)
    .map(|(field, executed, requested)| OrderEdit { field, executed, requested })
    .collect()
}

/// The orders of the spec against the assets already created. Assets whose order left the
/// spec are kept (nothing to do), so they do not appear here.
pub fn plan_orders(orders: &[OrderSpec], assets: &[Asset]) -> Vec<OrderStep> {
    let by_order: BTreeMap<&str, &Asset> = assets.iter().map(|a| (a.order_name.as_str(), a)).collect();
    orders
        .iter()
        .map(|order| match by_order.get(order.name.as_str()) {
            None => OrderStep::Execute(order.clone()),
            Some(asset) => match edits(order, asset) {
                e if e.is_empty() => OrderStep::Done { name: order.name.clone() },
                edits => OrderStep::Edited { name: order.name.clone(), edits },
            },
        })
        .collect()
}

/// The `OrderImmutable` message for the refused steps, if any.
pub fn immutable_message(steps: &[OrderStep]) -> Option<String> {
    let refused: Vec<String> = steps
        .iter()
        .filter_map(|s| match s {
            OrderStep::Edited { name, edits } => {
                let what: Vec<String> = edits
                    .iter()
                    .map(|e| format!("{} {:?} cannot become {:?}", e.field, e.executed, e.requested))
                    .collect();
                Some(format!(
                    "order {name} was executed: spec.orders[{name}] {} (add a new order with another name instead)",
                    what.join(", ")
                ))
            }
            _ => None,
        })
        .collect();
    (!refused.is_empty()).then(|| refused.join("; "))
}
