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
//! | Organization created, updated, adopted or imported | TenantLink of it (or, a provider, whose code it redeems) | the organization as it will be, with the spec's roles; for a new one, the counterpart and the members' users as `observe` would read them |
//! | Membership created or updated in an organization | later new partner invitation to that organization | the membership as it will be (is `adminEmail` its administrator?) |
//! | TenantLink that redeems a code of a Secret | later TenantLink with the same code | the code, used |
//! | TenantLink revoked (`--prune`), or its provider staff added or removed | Organization pruned after it | its live memberships counted accordingly |
//!
//! A TenantLink whose code a provider of the set issues in the run ([`codes`])
//! redeems a stand-in code in the plan: an open code of that provider, as `apply` issues it.
//!
//! The first also covers an Account that becomes visible only by the run (adopted with the
//! adopt annotation, or imported): the core's `observe` finds an Organization's account by
//! its owner, so it does not see that row yet, nor the released Organization row a re-created
//! object must adopt. [`DryRun::organization`] looks that row up the way `observe` does once
//! the account is visible (see `released_row`).

use std::collections::{HashMap, HashSet};

use jiff::Timestamp;

use super::codes::{self, CodeSource, Provider};
use crate::api::OrganizationSpec;
use crate::api::tenant_link::PartnerRole;
use crate::core::account::{self, DesiredAccount};
use crate::core::conditions::{REASON_AVAILABLE, REASON_DELETING};
use crate::core::membership::{self, DesiredMembership, ScopeRow, UserWrite};
use crate::core::organization::{self, DesiredOrganization, ObservedOrganization};
use crate::core::provider_code::expiry;
use crate::core::tenant_link::{self, DesiredTenantLink, MemberOp, MemberState, ObservedTenantLink};
use crate::core::{CoreError, Kind, Outcome, Plan};
use crate::store::accounts::{Account, LifecycleState};
use crate::store::groups::Group;
use crate::store::memberships::{Membership, Scope};
use crate::store::organizations::Organization;
use crate::store::provider_codes::{self, ProviderCode};
use crate::store::roles::Role;
use crate::store::users::{User, normalize_email};
use crate::store::{Conn, Owner, StoredOwner, groups, memberships, organizations, roles, users};

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
    /// Memberships the run adds through TenantLinks, counted per organization ID.
    added: HashMap<String, u64>,
    /// Hashes of the codes the run redeems.
    redeemed: HashSet<String>,
    /// Memberships in organizations as the run leaves them, by (organization ID, normalized
    /// e-mail address): a partner invitation checks its administrator against them.
    members: HashMap<(String, String), Membership>,
}

impl DryRun {
    /// The row the Account object `namespace/name` has once applied, when this run makes it
    /// ready.
    pub fn account_row(&self, namespace: &str, name: &str) -> Option<&Account> {
        self.accounts.get(&(namespace.to_owned(), name.to_owned()))
    }

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
        if let Some(id) = focus {
            let (gone, new) = (self.revoked.get(&id).copied(), self.added.get(&id).copied());
            observed.memberships = observed.memberships.saturating_sub(gone.unwrap_or(0)) + new.unwrap_or(0);
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
        if let (Some(spec), Some(write)) = (wanted.intent.spec(), written(&planned.plan))
            && let Scope::Organization(org) = &write.scope
        {
            let current = observed.focus(wanted.flags.external_id.is_some());
            if let Some(phase) = write.phase.or(current.map(|m| m.phase)) {
                let after = Membership {
                    id: current.map_or_else(|| NEW_ID.to_owned(), |m| m.id.clone()),
                    user_id: NEW_ID.to_owned(),
                    scope: write.scope.clone(),
                    settings: write.settings.clone(),
                    phase,
                    revoked_at: None,
                    owner: Some(live_owner(&wanted.owner)),
                    created_at: now,
                    updated_at: now,
                };
                self.members.insert((org.clone(), normalize_email(spec.email.as_str())), after);
            }
        }
        if let Plan::Archive { id } = &planned.plan
            && let Some(Scope::Organization(org)) = observed.row.as_ref().filter(|m| &m.id == id).map(|m| &m.scope)
        {
            *self.revoked.entry(org.clone()).or_default() += 1;
        }
        Ok(planned.preview(preview(Kind::Membership, &planned.plan, None)))
    }
}

impl DryRun {
    /// The plan for one TenantLink, as an outcome `apply` would report, and the provider that
    /// would issue a code for it in this run.
    pub async fn tenant_link<'p>(
        &mut self,
        conn: &mut Conn,
        wanted: DesiredTenantLink,
        source: CodeSource<'p>,
        now: Timestamp,
    ) -> Result<(Outcome, Option<&'p Provider>), CoreError> {
        let mut wanted = wanted;
        let provider = match source {
            CodeSource::Missing => None,
            CodeSource::Given(code) => {
                wanted.code = Some(code);
                None
            }
            CodeSource::Issued(p) => Some(p),
        };
        let mut observed = tenant_link::observe(conn, &wanted).await?;
        if let Some(spec) = wanted.intent.spec() {
            let key = (wanted.owner.namespace.clone(), spec.organization_ref.name.as_str().to_owned());
            if let Some(ScopeRow::Organization { row, roles, .. }) = self.organizations.get(&key) {
                let seen = observed.organization.is_some();
                observed.organization = Some(row.clone());
                observed.roles = roles.clone();
                if !seen {
                    self.observe_beyond(conn, &wanted, &mut observed).await?;
                }
            }
        }
        self.partner_admin_after(conn, &wanted, &mut observed).await?;
        if let Some(code) = observed.code.as_mut()
            && code.used_at.is_none()
            && self.redeemed.contains(&code.code_hash)
        {
            code.used_at = Some(now);
            code.used_by_tenant_link_id = Some(NEW_ID.to_owned());
        }
        let mut planned = tenant_link::plan(&wanted, &observed, now);
        let mut issued_by = None;
        if let Some(p) = provider
            && codes::waits_for_code(&planned)
            && let Some(ScopeRow::Organization { row, .. }) =
                self.organizations.get(&(p.namespace.clone(), p.name.clone()))
            && let Some(code) = codes::planned(&wanted.owner.uid)
        {
            let mut row = row.clone();
            let ours = wanted.intent.spec().is_some_and(|s| s.organization_ref.name.as_str() == p.name);
            if row.id == NEW_ID && !ours {
                // Two organizations the run creates are not one: tell them apart.
                row.id = format!("(new {}/{})", p.namespace, p.name);
            }
            observed.code = Some(ProviderCode {
                id: NEW_ID.to_owned(),
                organization_id: row.id.clone(),
                code_hash: code.hash(),
                expires_at: expiry(now, p.lifetime),
                used_at: None,
                used_by_tenant_link_id: None,
                revoked_at: None,
                created_at: now,
                updated_at: now,
            });
            observed.counterpart = Some(row);
            wanted.code = Some(code);
            planned = tenant_link::plan(&wanted, &observed, now);
            issued_by = Some(p);
        }
        self.link_effects(&planned.plan, &observed);
        Ok((planned.preview(preview(Kind::TenantLink, &planned.plan, None)), issued_by))
    }

    /// What `tenant_link::observe` reads once our organization is visible, for one that only
    /// this run creates or makes visible: the counterpart, and the members' users and live
    /// memberships in the tenant.
    async fn observe_beyond(
        &self,
        conn: &mut Conn,
        wanted: &DesiredTenantLink,
        observed: &mut ObservedTenantLink,
    ) -> Result<(), CoreError> {
        let (Some(spec), Some(ours)) = (wanted.intent.spec(), observed.organization.clone()) else { return Ok(()) };
        let invite = spec.partner_invitation.as_ref();
        let counterpart_id = match (&observed.row, invite) {
            (Some(link), _) if link.provider_organization_id == ours.id => Some(link.tenant_organization_id.clone()),
            (Some(link), _) => Some(link.provider_organization_id.clone()),
            (None, Some(invite)) => Some(invite.organization_id.trim().to_owned()),
            (None, None) => match &wanted.code {
                Some(code) => {
                    observed.code = provider_codes::find_by_hash(conn, &code.hash()).await?;
                    observed.code.as_ref().map(|c| c.organization_id.clone())
                }
                None => None,
            },
        };
        if let Some(id) = counterpart_id.filter(|id| !id.is_empty()) {
            observed.counterpart = organizations::find(conn, &id).await?;
        }
        let tenant = match (&observed.row, invite, &observed.counterpart) {
            (Some(link), ..) => link.tenant_organization_id.clone(),
            (None, Some(i), Some(c)) if i.organization_role == PartnerRole::Customer => c.id.clone(),
            _ => ours.id.clone(),
        };
        if let Some(c) = observed.counterpart.as_ref().filter(|c| c.id == tenant) {
            observed.counterpart_roles = roles::list(conn, &c.id).await?;
        }
        observed.members.clear();
        for member in &spec.members {
            let email = member.email.as_str().to_owned();
            let user = match users::find_by_email(conn, &email).await? {
                Some(u) => Some(u),
                None => self.users.get(&normalize_email(&email)).cloned(),
            };
            let live = match &user {
                Some(u) if u.id != NEW_ID && tenant != NEW_ID => {
                    memberships::find_live(conn, &u.id, &Scope::Organization(tenant.clone())).await?
                }
                _ => None,
            };
            observed.members.push(MemberState { email, role: member.role.clone(), user, live });
        }
        Ok(())
    }

    /// A new partner invitation: its administrator as the run leaves the partner organization
    /// (`observe` reads it only when our organization is visible already).
    async fn partner_admin_after(
        &self,
        conn: &mut Conn,
        wanted: &DesiredTenantLink,
        observed: &mut ObservedTenantLink,
    ) -> Result<(), CoreError> {
        let invite = wanted.intent.spec().and_then(|s| s.partner_invitation.as_ref());
        let (Some(invite), Some(partner), None) = (invite, observed.counterpart.as_ref(), observed.row.as_ref()) else {
            return Ok(());
        };
        let email = invite.admin_email.as_str();
        if observed.partner_admin.membership.is_none() {
            observed.partner_admin = tenant_link::admin::read(conn, &partner.id, email).await?;
        }
        if let Some(after) = self.members.get(&(partner.id.clone(), normalize_email(email))) {
            observed.partner_admin.membership = Some(after.clone());
            if observed.partner_admin.roles.is_empty() {
                observed.partner_admin.roles = roles::list(conn, &partner.id).await?;
            }
        }
        // The partner organization's roles as the run leaves them.
        let updated = self.organizations.values().find_map(|s| match s {
            ScopeRow::Organization { row, roles, .. } if row.id == partner.id => Some(roles),
            _ => None,
        });
        if let (Some(roles), Some(_)) = (updated, &observed.partner_admin.membership) {
            observed.partner_admin.roles = roles.clone();
        }
        Ok(())
    }

    /// What a TenantLink plan changes for later objects: a code redeemed, provider staff's
    /// memberships added or revoked.
    fn link_effects(&mut self, plan: &Plan<tenant_link::LinkWrite>, observed: &ObservedTenantLink) {
        match plan {
            Plan::Create { write, .. }
            | Plan::Update { write: Some(write), .. }
            | Plan::Adopt { write: Some(write), .. }
            | Plan::Import { write: Some(write), .. } => {
                if let Some(hash) = &write.redeem {
                    self.redeemed.insert(hash.clone());
                }
                let tenant = &write.tenant_organization_id;
                for op in &write.members {
                    match op {
                        MemberOp::Add { .. } => *self.added.entry(tenant.clone()).or_default() += 1,
                        MemberOp::Revoke { .. } => *self.revoked.entry(tenant.clone()).or_default() += 1,
                        MemberOp::Role { .. } => {}
                    }
                }
            }
            Plan::Archive { .. } => {
                for (m, _) in &observed.derived {
                    if let Scope::Organization(org) = &m.scope {
                        *self.revoked.entry(org.clone()).or_default() += 1;
                    }
                }
            }
            _ => {}
        }
    }
}

/// The owner columns of a row `owner` holds.
/// The write of a plan that writes the membership's row.
fn written(plan: &Plan<membership::MembershipWrite>) -> Option<&membership::MembershipWrite> {
    match plan {
        Plan::Create { write, .. } => Some(write),
        Plan::Update { write, .. } | Plan::Adopt { write, .. } | Plan::Import { write, .. } => write.as_ref(),
        _ => None,
    }
}

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
        provisioning: None,
    }
}
