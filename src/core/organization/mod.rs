//! Organization: observe the `organizations` row with its roles and groups and its parent
//! account, plan, apply.
//!
//! ```text
//! DesiredOrganization ──► observe(conn) ──► ObservedOrganization ──► plan() ──► OrganizationPlan ──► write(tx) ──► Outcome
//!                         account row,       (parent, row, roles,      pure       row + role/group
//!                         row, roles,         groups, memberships)                writes, one transaction
//!                         groups, members
//! ```
//!
//! An organization waits (`AccountNotReady`) until its Account object has an active row;
//! deletion never waits for the account, so a missing account cannot wedge it. One that is no
//! service provider (`serviceProvider` absent or `enabled: false`) has its unused provider
//! codes revoked, as has one that is archived. A service provider's `serviceProvider.staff`
//! is planned beside the row ([`staff`]) and written in the same transaction.

mod apply;
mod plan;
pub mod staff;
mod structure;

#[cfg(test)]
mod apply_tests;
#[cfg(test)]
mod plan_tests;

use jiff::Timestamp;

use super::db;
use super::error::CoreError;
use super::flags::Flags;
use super::outcome::{Action, Children, Outcome};
use super::plan::{Intent, Plan};
use crate::api::{DeletionPolicy, OrganizationSpec};
use crate::store::accounts::{self, Account};
use crate::store::groups::{self, Group};
use crate::store::organizations::{self, Organization};
use crate::store::roles::{self, Role};
use crate::store::{Conn, ManagedTable, Owner, Store, memberships, ownership, provider_codes};

pub use plan::plan;
pub use structure::{GroupWrite, RoleWrite};

/// What to do for an Organization, as far as the engine must know.
pub type OrganizationPlan = Plan<OrganizationWrite>;

/// The stored form of an Organization spec and the role/group writes that bring a row to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationWrite {
    pub account_id: String,
    pub name: String,
    /// `serviceProvider` is set and enabled: it may issue provider codes.
    pub service_provider: bool,
    /// `name` or `service_provider` differ from the row (always true for a new row).
    pub fields: bool,
    /// Revoke its unused provider codes (it is no provider, or no longer).
    pub revoke_codes: bool,
    pub roles: Vec<RoleWrite>,
    pub groups: Vec<GroupWrite>,
}

/// An Organization object, as the shells hand it over.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredOrganization {
    /// The object (cluster identity, namespace, name, UID).
    pub owner: Owner,
    pub intent: Intent<OrganizationSpec>,
    pub flags: Flags,
}

impl DesiredOrganization {
    /// An object with its spec; `deleting` when `metadata.deletionTimestamp` is set.
    pub fn new(owner: Owner, spec: OrganizationSpec, deleting: bool, flags: Flags) -> DesiredOrganization {
        let policy = spec.deletion_policy;
        DesiredOrganization { owner, intent: Intent::new(spec, deleting, policy), flags }
    }

    /// An object that is gone and whose spec is not at hand (local `--prune`).
    pub fn deleted(owner: Owner, policy: DeletionPolicy, flags: Flags) -> DesiredOrganization {
        DesiredOrganization { owner, intent: Intent::Deleting(policy), flags }
    }
}

/// What the database holds for an Organization object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObservedOrganization {
    /// The row of the Account object `accountRef` names (same cluster and namespace).
    pub account: Option<Account>,
    /// The row owned by this object's UID, else by its namespace/name (another UID), else the
    /// latest row of the same account last owned by its namespace/name and since released.
    pub row: Option<Organization>,
    /// The row the external-id annotation names, when set.
    pub external: Option<Organization>,
    /// The platform offered `external` to this namespace (`import_offers`).
    pub offered: bool,
    /// Roles and groups (archived ones too) of the row worked on: `external` when the
    /// annotation is set, else `row`.
    pub roles: Vec<Role>,
    pub groups: Vec<Group>,
    /// Live memberships of the row worked on.
    pub memberships: u64,
    /// Its provider codes neither used nor revoked: an organization that is no provider (any
    /// more) has them revoked.
    pub unused_codes: u64,
    /// A service provider's (or a former one's) staff placements; `None` for an organization
    /// that never was one.
    pub staff: Option<staff::ObservedStaff>,
}

/// The Organization's plan and its staff plan, applied in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationPlanned {
    pub plan: OrganizationPlan,
    pub staff: staff::StaffPlan,
}

impl OrganizationPlanned {
    pub fn writes(&self) -> bool {
        self.plan.writes() || self.staff.writes()
    }
}

/// The staff plan that goes with `plan`: the entries while the row is in place and current
/// (a new row has no members yet, so each entry waits), every placement revoked when it is
/// archived, nothing otherwise (a hold, an orphaned row or observe-only changes no placement).
pub fn plan_staff(
    desired: &DesiredOrganization,
    plan: &OrganizationPlan,
    observed: &ObservedOrganization,
) -> staff::StaffPlan {
    let provider = desired.intent.spec().and_then(|spec| spec.service_provider.as_ref());
    let entries = provider.map_or(&[][..], |p| p.staff.as_slice());
    let enabled = provider.is_some_and(|p| p.enabled);
    if desired.flags.observe_only {
        // Observe-only writes nothing, so it places (and reports) no staff either.
        return staff::StaffPlan::default();
    }
    match (plan, &observed.staff) {
        (Plan::Archive { .. }, Some(seen)) => staff::StaffPlan::revoke_all(seen),
        (Plan::NoOp { .. } | Plan::Update { .. } | Plan::TakeOver { .. }, Some(seen)) => {
            staff::plan(entries, enabled, seen)
        }
        // A new organization has no members yet: every entry waits, and says why.
        (Plan::Create { .. }, _) => staff::plan(entries, enabled, &staff::ObservedStaff::default()),
        _ => staff::StaffPlan::default(),
    }
}

/// Read what [`plan`] needs. Reads only.
pub async fn observe(conn: &mut Conn, desired: &DesiredOrganization) -> Result<ObservedOrganization, CoreError> {
    let me = &desired.owner;
    let deleting = desired.intent.is_deleting();
    // Deletion does not depend on the account; without a spec there is no reference anyway.
    let account = match desired.intent.spec() {
        Some(spec) => {
            let account_ref = spec.account_ref.name.as_str();
            match ownership::find_by_owner(conn, ManagedTable::Accounts, &me.cluster, &me.namespace, account_ref)
                .await?
            {
                Some(found) => accounts::find(conn, &found.id).await?,
                None => None,
            }
        }
        None => None,
    };
    let owned = match ownership::find_by_uid(conn, ManagedTable::Organizations, &me.uid).await? {
        Some(found) => Some(found),
        None => {
            ownership::find_by_owner(conn, ManagedTable::Organizations, &me.cluster, &me.namespace, &me.name).await?
        }
    };
    let row = match (owned, &account) {
        (Some(found), _) => organizations::find(conn, &found.id).await?,
        (None, _) if deleting => None,
        // The row an earlier object of this name released, if it belongs to the same account.
        (None, Some(account)) => {
            match ownership::find_released(conn, ManagedTable::Organizations, &me.cluster, &me.namespace, &me.name)
                .await?
            {
                Some(found) => organizations::find(conn, &found.id).await?.filter(|o| o.account_id == account.id),
                None => None,
            }
        }
        (None, None) => None,
    };
    let external = match desired.flags.external_id.as_deref() {
        None => None,
        Some(id) if row.as_ref().is_some_and(|r| r.id == id) => row.clone(),
        Some(id) => organizations::find(conn, id).await?,
    };
    let ext = external.as_ref().map(|e| (e.id.as_str(), e.owner.as_ref()));
    let offered = db::offered(conn, ManagedTable::Organizations, ext, me).await?;
    let mut observed = ObservedOrganization { account, row, external, offered, ..Default::default() };
    let importing = desired.flags.external_id.is_some();
    if let Some(focus) = db::focus(deleting, importing, observed.row.as_ref(), observed.external.as_ref()) {
        let id = focus.id.clone();
        observed.memberships = u64::try_from(memberships::count_live_by_organization(conn, &id).await?).unwrap_or(0);
        if !deleting {
            observed.roles = roles::list(conn, &id).await?;
            observed.groups = groups::list(conn, &id).await?;
            observed.unused_codes = u64::try_from(provider_codes::count_unused(conn, &id).await?).unwrap_or(0);
        }
        // Staff: a provider now, or one until this reconcile (its placements may have to go).
        let spec_provider = desired.intent.spec().and_then(|s| s.service_provider.as_ref());
        if focus.service_provider || spec_provider.is_some() {
            let entries = spec_provider.map_or(&[][..], |p| p.staff.as_slice());
            observed.staff = Some(staff::observe(conn, &id, entries).await?);
        }
    }
    Ok(observed)
}

/// Observe, plan and apply one Organization object; the plan's writes happen in one transaction.
pub async fn reconcile(store: &Store, desired: &DesiredOrganization, now: Timestamp) -> Result<Outcome, CoreError> {
    super::engine::reconcile(store, desired, now).await
}

/// The same in the caller's transaction.
pub async fn reconcile_in(
    conn: &mut Conn,
    desired: &DesiredOrganization,
    now: Timestamp,
) -> Result<Outcome, CoreError> {
    super::engine::reconcile_in(conn, desired, now).await
}

impl super::engine::Reconcile for DesiredOrganization {
    type Observed = ObservedOrganization;
    type Planned = OrganizationPlanned;
    type Written = Option<String>;

    async fn observe(&self, conn: &mut Conn) -> Result<ObservedOrganization, CoreError> {
        observe(conn, self).await
    }

    fn plan(&self, observed: &ObservedOrganization, _now: Timestamp) -> OrganizationPlanned {
        let plan = plan(self, observed);
        let staff = plan_staff(self, &plan, observed);
        OrganizationPlanned { plan, staff }
    }

    fn writes(planned: &OrganizationPlanned) -> bool {
        planned.writes()
    }

    async fn write(
        &self,
        conn: &mut Conn,
        planned: &OrganizationPlanned,
        now: Timestamp,
    ) -> Result<Option<String>, CoreError> {
        let created = apply::write(conn, &planned.plan, now).await?;
        staff::write(conn, &planned.staff, now).await?;
        Ok(created)
    }

    fn outcome(
        &self,
        planned: &OrganizationPlanned,
        observed: &ObservedOrganization,
        written: Option<Option<String>>,
    ) -> Outcome {
        let outcome = with_children(apply::outcome(&planned.plan, written.flatten()), observed);
        with_staff(outcome, &planned.staff)
    }
}

/// How many refused staff entries the `Ready` message names.
const STAFF_IN_MESSAGE: usize = 5;

/// The staff changes and entries: a row otherwise unchanged is `Updated` by them, and
/// entries that are not placed are named in the `Ready` message (the row itself is fine).
fn with_staff(mut outcome: Outcome, staff: &staff::StaffPlan) -> Outcome {
    if staff.writes() && outcome.action == Action::Unchanged {
        outcome.action = Action::Updated;
    }
    outcome.changes.extend(staff.changes());
    let refused: Vec<String> = staff
        .facts
        .refused()
        .map(|e| format!("{}@{} ({})", e.email, e.tenant_organization_id, e.reason.as_str()))
        .collect();
    if outcome.action.is_ready() && !refused.is_empty() {
        // The first few only: status.staff has every entry, the message stays short.
        let more = refused.len().saturating_sub(STAFF_IN_MESSAGE);
        let mut shown = refused.into_iter().take(STAFF_IN_MESSAGE).collect::<Vec<_>>().join(", ");
        if more > 0 {
            shown.push_str(&format!(" and {more} more"));
        }
        outcome.message.push_str(&format!("; staff not placed: {shown} (see status.staff)"));
    }
    if !staff.facts.entries.is_empty() || staff.writes() {
        let facts = staff::StaffFacts { written: staff.ops.len(), ..staff.facts.clone() };
        outcome.facts.organization_mut().staff = Some(Box::new(facts));
    }
    outcome
}

/// Fill in the account ID and the live memberships: as observed, none for a new row, none
/// once deleted.
fn with_children(mut outcome: Outcome, observed: &ObservedOrganization) -> Outcome {
    if outcome.account_id.is_none() {
        let worked_on =
            [&observed.row, &observed.external].into_iter().flatten().find(|o| outcome.id.as_ref() == Some(&o.id));
        outcome.account_id =
            worked_on.map(|o| o.account_id.clone()).or_else(|| observed.account.as_ref().map(|a| a.id.clone()));
    }
    let observed_children = Children { count: observed.memberships, ids: Vec::new(), memberships: true };
    outcome.children = match outcome.action {
        Action::Created => Some(Children::default()),
        _ if outcome.action.is_ready() || outcome.action == Action::DeletionBlocked => Some(observed_children),
        _ => None,
    };
    outcome
}
