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
//! | Organization created, updated, adopted or imported | Membership in it | the organization as it will be, with the spec's roles and groups |
//! | Account ready (as above) | Membership in the account | the account's row as it will be |
//! | Membership that creates its person's user | later Membership of the same address | that user (no login yet) |
//! | Membership revoked (`--prune`) | Organization pruned after it | its live memberships without the revoked one |
//!
//! The first also covers an Account that becomes visible only by the run (adopted with the
//! adopt annotation, or imported): the core's `observe` finds an Organization's account by
//! its owner, so it does not see that row yet, nor the released Organization row a re-created
//! object must adopt. [`DryRun::organization`] looks that row up the way `observe` does once
//! the account is visible (see `released_row`).

use std::collections::{HashMap, HashSet};

use jiff::Timestamp;

use crate::api::OrganizationSpec;
use crate::core::account::{self, DesiredAccount};
use crate::core::conditions::{REASON_AVAILABLE, REASON_DELETING};
use crate::core::membership::{self, DesiredMembership, ScopeRow, UserWrite};
use crate::core::organization::{self, DesiredOrganization, ObservedOrganization};
use crate::core::{CoreError, Kind, Outcome, Plan};
use crate::store::accounts::{Account, LifecycleState};
use crate::store::groups::Group;
use crate::store::memberships::Scope;
use crate::store::organizations::Organization;
use crate::store::roles::Role;
use crate::store::users::{User, normalize_email};
use crate::store::{Conn, Owner, StoredOwner, groups, memberships, organizations, roles};

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
    /// The row, roles and groups each Organization object (namespace, name) has once applied,
    /// when its plan makes it ready.
    organizations: HashMap<(String, String), ScopeRow>,
    /// Users the run creates, by normalized e-mail address.
    users: HashMap<String, User>,
    /// Memberships the run revokes, counted per organization ID.
    revoked: HashMap<String, u64>,
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
                owner: Some(live_owner(me)),
                created_at: now,
                updated_at: now,
            };
            self.accounts.insert((me.namespace.clone(), me.name.clone()), row);
        }
        Ok(preview(Kind::Account, &planned, None))
    }

    /// The plan for one Organization, as an outcome `apply` would report.
    pub async fn organization(
        &mut self,
        conn: &mut Conn,
        wanted: &DesiredOrganization,
        now: Timestamp,
    ) -> Result<Outcome, CoreError> {
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
        let focus = [&observed.row, &observed.external].into_iter().flatten().next().map(|o| o.id.clone());
        if let Some(gone) = focus.and_then(|id| self.revoked.get(&id)) {
            observed.memberships = observed.memberships.saturating_sub(*gone);
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
        if let (Some(spec), Some(account_id)) = (wanted.intent.spec(), &account_id)
            && planned.action().is_ready()
        {
            let id = planned.id().unwrap_or(NEW_ID);
            let scope = organization_after(&wanted.owner, spec, id, account_id, now);
            self.organizations.insert((wanted.owner.namespace.clone(), wanted.owner.name.clone()), scope);
        }
        Ok(preview(Kind::Organization, &planned, account_id))
    }

    /// The plan for one Membership, as an outcome `apply` would report.
    pub async fn membership(
        &mut self,
        conn: &mut Conn,
        wanted: &DesiredMembership,
        now: Timestamp,
    ) -> Result<Outcome, CoreError> {
        let mut scope = membership::observe_scope(conn, wanted).await?;
        if let Some(spec) = wanted.intent.spec() {
            let ns = wanted.owner.namespace.clone();
            if let Some(org) = &spec.organization_ref {
                if let Some(after) = self.organizations.get(&(ns, org.name.to_string())) {
                    scope = Some(after.clone());
                }
            } else if let Some(account) = &spec.account_ref
                && let Some(after) = self.accounts.get(&(ns, account.name.to_string()))
            {
                scope = Some(ScopeRow::Account(after.clone()));
            }
        }
        let mut observed = membership::observe_in(conn, wanted, scope).await?;
        if let (None, Some(spec)) = (&observed.user, wanted.intent.spec()) {
            observed.user = self.users.get(&normalize_email(spec.email.as_str())).cloned();
        }
        let planned = membership::plan(wanted, &observed, now);
        if let Plan::Create { write, .. } | Plan::Update { write: Some(write), .. } = &planned.plan
            && let UserWrite::Insert(new) = &write.user
        {
            let user = User {
                id: NEW_ID.to_owned(),
                email: new.email.clone(),
                email_normalized: normalize_email(&new.email),
                display_name: new.display_name.clone(),
                phone: new.phone.clone(),
                has_login: new.has_login,
                archived_at: None,
                created_at: now,
                updated_at: now,
            };
            self.users.insert(user.email_normalized.clone(), user);
        }
        if let Plan::Archive { id } = &planned.plan
            && let Some(Scope::Organization(org)) = observed.row.as_ref().filter(|m| &m.id == id).map(|m| &m.scope)
        {
            *self.revoked.entry(org.clone()).or_default() += 1;
        }
        Ok(planned.preview(preview(Kind::Membership, &planned.plan, None)))
    }
}

/// The owner columns of a row `owner` holds.
fn live_owner(owner: &Owner) -> StoredOwner {
    StoredOwner {
        cluster: owner.cluster.clone(),
        namespace: owner.namespace.clone(),
        name: owner.name.clone(),
        uid: Some(owner.uid.clone()),
    }
}

/// An Organization as it is once its plan is applied: active, with the spec's roles and groups.
fn organization_after(owner: &Owner, spec: &OrganizationSpec, id: &str, account_id: &str, now: Timestamp) -> ScopeRow {
    let row = Organization {
        id: id.to_owned(),
        account_id: account_id.to_owned(),
        name: spec.display_name.clone(),
        service_provider: spec.service_provider.is_some(),
        state: LifecycleState::Active,
        archived_at: None,
        owner: Some(live_owner(owner)),
        created_at: now,
        updated_at: now,
    };
    let roles = spec
        .roles
        .iter()
        .map(|r| Role {
            id: NEW_ID.to_owned(),
            organization_id: id.to_owned(),
            name: r.name.clone(),
            permissions: r.permissions.clone(),
            archived_at: None,
            created_at: now,
            updated_at: now,
        })
        .collect();
    let groups = spec
        .groups
        .iter()
        .map(|g| Group {
            id: NEW_ID.to_owned(),
            organization_id: id.to_owned(),
            name: g.name.clone(),
            description: g.description.clone(),
            archived_at: None,
            created_at: now,
            updated_at: now,
        })
        .collect();
    ScopeRow::Organization { row, roles, groups }
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
        requeue_at: None,
        membership: None,
        tenant_link: None,
    }
}
