//! `accountops plan`: the core's `observe` and pure `plan` per object, writing nothing, with
//! the effects of the earlier objects of the run carried forward by hand.
//!
//! `apply` reconciles objects one after the other, so a later object sees what an earlier one
//! wrote. A dry run writes nothing, so without help it would see the database as it was
//! before the run and plan something else than `apply` then does. Two effects matter:
//!
//! | earlier object (same run) | later object | what the dry run feeds its `plan` |
//! |---|---|---|
//! | Account created, updated, reactivated, adopted or imported | Organization under it | the Account's row as it will be: active, its ID, or [`NEW_ID`] for a row not created yet |
//! | Organization archived (`--prune`) | Account pruned after it | its live organizations without the archived one |
//!
//! The first also covers an Account that becomes visible only by the run (adopted with the
//! adopt annotation, or imported): the core's `observe` finds an Organization's account by
//! its owner, so it does not see that row yet, nor the released Organization row a re-created
//! object must adopt. [`DryRun::organization`] looks that row up the way `observe` does once
//! the account is visible (see `released_row`).

use std::collections::{HashMap, HashSet};

use jiff::Timestamp;

use crate::core::account::{self, DesiredAccount};
use crate::core::conditions::{REASON_AVAILABLE, REASON_DELETING};
use crate::core::organization::{self, DesiredOrganization, ObservedOrganization};
use crate::core::{CoreError, Kind, Outcome, Plan};
use crate::store::accounts::{Account, LifecycleState};
use crate::store::{Conn, StoredOwner, groups, memberships, organizations, roles};

/// The ID shown for a row the plan creates.
pub const NEW_ID: &str = "(new)";

/// What the objects planned so far will have written.
#[derive(Debug, Default)]
pub struct DryRun {
    /// The row each Account object (namespace, name) has once applied, when its plan makes it
    /// ready.
    accounts: HashMap<(String, String), Account>,
    /// Organizations the run archives.
    archived: HashSet<String>,
}

impl DryRun {
    /// The plan for one Account, as an outcome `apply` would report.
    pub async fn account(
        &mut self,
        conn: &mut Conn,
        wanted: &DesiredAccount,
        now: Timestamp,
    ) -> Result<Outcome, CoreError> {
        let mut observed = account::observe(conn, wanted).await?;
        observed.organizations.retain(|id| !self.archived.contains(id));
        let planned = account::plan(wanted, &observed);
        if let Some(spec) = wanted.intent.spec()
            && planned.action().is_ready()
        {
            let me = &wanted.owner;
            let row = Account {
                id: planned.id().unwrap_or(NEW_ID).to_owned(),
                details: account::details(spec),
                state: LifecycleState::Active,
                archived_at: None,
                owner: Some(StoredOwner {
                    cluster: me.cluster.clone(),
                    namespace: me.namespace.clone(),
                    name: me.name.clone(),
                    uid: Some(me.uid.clone()),
                }),
                created_at: now,
                updated_at: now,
            };
            self.accounts.insert((me.namespace.clone(), me.name.clone()), row);
        }
        Ok(preview(Kind::Account, &planned, None))
    }

    /// The plan for one Organization, as an outcome `apply` would report.
    pub async fn organization(&mut self, conn: &mut Conn, wanted: &DesiredOrganization) -> Result<Outcome, CoreError> {
        let mut observed = organization::observe(conn, wanted).await?;
        if let Some(spec) = wanted.intent.spec() {
            let key = (wanted.owner.namespace.clone(), spec.account_ref.name.as_str().to_owned());
            if let Some(after) = self.accounts.get(&key) {
                let visible = observed.account.as_ref().is_some_and(|a| a.id == after.id);
                observed.account = Some(after.clone());
                if !visible && after.id != NEW_ID && observed.row.is_none() {
                    released_row(conn, wanted, &after.id, &mut observed).await?;
                }
            }
        }
        let planned = organization::plan(wanted, &observed);
        if let Plan::Archive { id } = &planned {
            self.archived.insert(id.clone());
        }
        let account_id = match &planned {
            Plan::Create { write, .. } => Some(write.account_id.clone()),
            _ => [&observed.row, &observed.external]
                .into_iter()
                .flatten()
                .find(|o| planned.id() == Some(o.id.as_str()))
                .map(|o| o.account_id.clone())
                .or_else(|| observed.account.as_ref().map(|a| a.id.clone())),
        };
        Ok(preview(Kind::Organization, &planned, account_id))
    }
}

/// What `organization::observe` finds once the account is visible: the latest row of that
/// account last owned by this object's namespace/name and since released, with its roles,
/// groups and memberships (unless the external-id annotation picks the row to work on).
async fn released_row(
    conn: &mut Conn,
    wanted: &DesiredOrganization,
    account_id: &str,
    observed: &mut ObservedOrganization,
) -> Result<(), CoreError> {
    let me = &wanted.owner;
    let found = organizations::list_by_account(conn, account_id)
        .await?
        .into_iter()
        .filter(|o| o.owner.as_ref().is_some_and(|w| !w.is_live() && w.same_object_name(me)))
        .max_by_key(|o| o.updated_at);
    let Some(row) = found else { return Ok(()) };
    if wanted.flags.external_id.is_none() {
        observed.memberships =
            u64::try_from(memberships::count_live_by_organization(conn, &row.id).await?).unwrap_or(0);
        observed.roles = roles::list(conn, &row.id).await?;
        observed.groups = groups::list(conn, &row.id).await?;
    }
    observed.row = Some(row);
    Ok(())
}

/// The outcome a plan will have once applied: its action, row ID (none yet for a create),
/// field changes, and the reason and message of a plan that holds.
pub fn preview<W>(kind: Kind, plan: &Plan<W>, account_id: Option<String>) -> Outcome {
    let noun = kind.noun();
    let id = plan.id().map(str::to_owned);
    let shown = id.as_deref().unwrap_or(NEW_ID);
    let (reason, message) = match plan {
        Plan::Hold(hold) => (hold.reason(kind), hold.message(kind)),
        Plan::Create { .. } => (REASON_AVAILABLE, format!("will create the {noun}")),
        Plan::NoOp { .. } => (REASON_AVAILABLE, format!("{noun} {shown} matches the spec")),
        Plan::Update { .. } => (REASON_AVAILABLE, format!("will update {noun} {shown}")),
        Plan::Adopt { .. } => (REASON_AVAILABLE, format!("will adopt {noun} {shown}")),
        Plan::Import { .. } => (REASON_AVAILABLE, format!("will import {noun} {shown}")),
        Plan::Archive { .. } => (REASON_DELETING, format!("will archive {noun} {shown}")),
        Plan::Orphan { .. } | Plan::Release { .. } => {
            (REASON_DELETING, format!("will leave {noun} {shown} in the platform, no longer managed"))
        }
        Plan::Gone => (REASON_DELETING, format!("no {noun} to clean up")),
    };
    Outcome {
        kind,
        action: plan.action(),
        id,
        account_id,
        changes: plan.changes().to_vec(),
        children: None,
        reason,
        message,
    }
}
