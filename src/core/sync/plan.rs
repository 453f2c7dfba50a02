//! The pure parts of a provisioning sync: what the external system should hold, how an
//! observed SCIM resource differs from it (drift), and which orders to execute.

use std::collections::{BTreeMap, BTreeSet};

use crate::api::provisioning_sync::{InvoiceChoice as SpecInvoice, OrderSpec};
use crate::scim::{Group, User};
use crate::store::assets::{Asset, InvoiceChoice};

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
