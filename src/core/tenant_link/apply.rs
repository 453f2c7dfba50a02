//! Carry out a [`TenantLinkPlan`] in one transaction: the link, the redeemed code, the
//! invitation with its mail, and the derived memberships commit together or not at all.

use jiff::Timestamp;

use super::{LinkWrite, MemberOp, TenantLinkPlan};
use crate::api::Reason;
use crate::api::tenant_link::TenantLinkPhase as ApiPhase;
use crate::core::error::CoreError;
use crate::core::invitation::{self, Issue};
use crate::core::outcome::{Kind, Outcome};
use crate::core::plan::Plan;
use crate::mail::{MailContext, MailSettings};
use crate::store::invitations::{self, Subject};
use crate::store::memberships::{self, MembershipPhase, MembershipSettings, NewMembership, Placement, Scope};
use crate::store::provider_codes::{self, RedeemOutcome};
use crate::store::tenant_links::{self, NewTenantLink, TenantLinkPhase};
use crate::store::users::{self, NewUser};
use crate::store::{Conn, ManagedTable, StoreError, ownership};

/// What a write made that the outcome reports.
#[derive(Debug, Clone, Default)]
pub(super) struct Written {
    link_id: Option<String>,
}

/// The writes of `plan` on `conn` (a transaction).
pub(super) async fn write(
    conn: &mut Conn,
    plan: &TenantLinkPlan,
    now: Timestamp,
    settings: &MailSettings,
) -> Result<Option<Written>, CoreError> {
    let table = ManagedTable::TenantLinks;
    match &plan.plan {
        Plan::Create { owner, write, .. } => {
            let new = NewTenantLink {
                provider_organization_id: write.provider_organization_id.clone(),
                tenant_organization_id: write.tenant_organization_id.clone(),
                mode: write.mode,
                terms: write.terms.clone(),
                owner: Some(owner.clone()),
            };
            let link = tenant_links::insert(conn, &new, now).await?;
            if let Some(hash) = &write.redeem {
                // The code is marked used in this transaction; losing a race rolls the link back.
                match provider_codes::redeem(conn, hash, &link.id, now).await? {
                    RedeemOutcome::Redeemed(_) => {}
                    _ => {
                        return Err(
                            StoreError::NotFound { table: provider_codes::TABLE, id: "(open code)".into() }.into()
                        );
                    }
                }
            }
            if let Some(phase) = write.phase.filter(|p| *p != TenantLinkPhase::Pending) {
                tenant_links::set_phase(conn, &link.id, phase, now).await?;
            }
            invite(conn, &link.id, write, now, settings).await?;
            members(conn, &link.id, write, now).await?;
            Ok(Some(Written { link_id: Some(link.id) }))
        }
        Plan::Update { id, write, .. } => correct(conn, id, write.as_ref(), now, settings).await,
        Plan::TakeOver { id, owner, write, .. } => {
            ownership::adopt(conn, table, id, owner, now).await?;
            correct(conn, id, write.as_ref(), now, settings).await
        }
        Plan::Archive { id } => {
            invitation::withdraw(conn, &Subject::TenantLink(id.clone()), now).await?;
            for m in memberships::list_derived(conn, id).await? {
                memberships::revoke(conn, &m.id, now).await?;
            }
            tenant_links::revoke(conn, id, now).await?;
            ownership::release(conn, table, id, now).await?;
            Ok(None)
        }
        Plan::Orphan { id } | Plan::Release { id } => {
            ownership::release(conn, table, id, now).await?;
            Ok(None)
        }
        Plan::NoOp { .. } | Plan::Gone | Plan::Hold(_) => Ok(None),
    }
}

async fn correct(
    conn: &mut Conn,
    id: &str,
    write: Option<&LinkWrite>,
    now: Timestamp,
    settings: &MailSettings,
) -> Result<Option<Written>, CoreError> {
    let Some(write) = write else { return Ok(None) };
    if let Some(open) = &write.revoke_invitation {
        invitations::revoke(conn, open, now).await?;
    }
    invite(conn, id, write, now, settings).await?;
    if write.terms_changed {
        tenant_links::update(conn, id, &write.terms, now).await?;
    }
    if let Some(phase) = write.phase {
        tenant_links::set_phase(conn, id, phase, now).await?;
    }
    members(conn, id, write, now).await?;
    Ok(Some(Written { link_id: Some(id.to_owned()) }))
}

/// Issue the partner invitation and queue its mail.
async fn invite(
    conn: &mut Conn,
    link_id: &str,
    write: &LinkWrite,
    now: Timestamp,
    settings: &MailSettings,
) -> Result<(), CoreError> {
    let Some(invite) = &write.invite else { return Ok(()) };
    let new = Issue {
        subject: Subject::TenantLink(link_id.to_owned()),
        email: invite.email.clone(),
        locale: invite.locale,
        expires_at: invite.expires_at,
        resend_nonce: invite.resend_nonce.clone(),
        letter: MailContext {
            organization_name: invite.inviter.clone(),
            inviter: Some(invite.inviter.clone()),
            roles: invite.roles.clone(),
            ..MailContext::default()
        },
    };
    invitation::issue(conn, new, now, settings).await?;
    Ok(())
}

/// Add, re-role, take over and revoke derived memberships. Provider staff get no invitation
/// mail: the membership is active at once (the link is the consent); a new user is created
/// without a login, which the platform's own sign-up gives them.
async fn members(conn: &mut Conn, link_id: &str, write: &LinkWrite, now: Timestamp) -> Result<(), CoreError> {
    for op in &write.members {
        match op {
            MemberOp::Add { email, user_id, role } => {
                let user_id = match user_id {
                    Some(id) => id.clone(),
                    None => {
                        let new = NewUser { email: email.clone(), display_name: None, phone: None, has_login: false };
                        users::insert(conn, &new, now).await?.id
                    }
                };
                let placement = Placement::Tenant;
                place(conn, &user_id, &write.tenant_organization_id, link_id, role, placement, now).await?;
            }
            MemberOp::Role { membership_id, role, .. } => {
                memberships::update(conn, membership_id, &staff_settings(role), now).await?;
            }
            MemberOp::Claim { membership_id, role, .. } => {
                memberships::mark_derived(conn, membership_id, link_id, Placement::Tenant, now).await?;
                memberships::update(conn, membership_id, &staff_settings(role), now).await?;
            }
            MemberOp::Revoke { membership_id, .. } => {
                memberships::revoke(conn, membership_id, now).await?;
            }
        }
    }
    Ok(())
}

/// Insert an Active membership of `user_id` in organization `tenant` with `role`, derived
/// from link `link_id` and placed by `by` (the tenant's `spec.members` or the provider's staff).
pub(crate) async fn place(
    conn: &mut Conn,
    user_id: &str,
    tenant: &str,
    link_id: &str,
    role: &str,
    by: Placement,
    now: Timestamp,
) -> Result<(), CoreError> {
    let new = NewMembership {
        user_id: user_id.to_owned(),
        scope: Scope::Organization(tenant.to_owned()),
        settings: staff_settings(role),
        phase: MembershipPhase::Active,
        owner: None,
    };
    let row = memberships::insert(conn, &new, now).await?;
    memberships::mark_derived(conn, &row.id, link_id, by, now).await?;
    Ok(())
}

/// A placed membership's settings: the one role, signing in as themselves.
pub(crate) fn staff_settings(role: &str) -> MembershipSettings {
    MembershipSettings { roles: vec![role.to_owned()], groups: Vec::new(), notifications: Vec::new(), login: true }
}

/// The outcome of `plan` once written (`written` is `None` for a plan that wrote nothing).
pub(super) fn outcome(plan: &TenantLinkPlan, written: Option<Written>) -> Outcome {
    let id = written.as_ref().and_then(|w| w.link_id.clone()).or_else(|| plan.plan.id().map(str::to_owned));
    let generic = plan.plan.outcome(Kind::TenantLink, id.clone(), None);
    decorate(plan, generic, id)
}

/// `generic` with the link's facts, and its phase as the `Ready` reason where the row is in place.
pub(super) fn decorate(plan: &TenantLinkPlan, generic: Outcome, id: Option<String>) -> Outcome {
    let mut outcome = generic;
    let mut facts = plan.facts.clone();
    if facts.link_id.is_none() {
        facts.link_id = id;
    }
    if outcome.action.is_ready() {
        let other = facts.counterpart_organization_name.clone().or_else(|| facts.counterpart_organization_id.clone());
        let other = other.unwrap_or_else(|| "the counterpart".to_owned());
        let (reason, message) = match facts.phase {
            ApiPhase::Active => {
                let mut m = format!("linked with {other}");
                if !facts.members.is_empty() {
                    m.push_str(&format!("; provider staff in the tenant: {}", facts.members.join(", ")));
                }
                (Reason::Active, m)
            }
            ApiPhase::Pending => {
                (Reason::AwaitingAcceptance, format!("the invitation to {other} waits for its administrator"))
            }
            ApiPhase::Rejected => (Reason::Rejected, format!("{other} rejected the invitation")),
            ApiPhase::Expired => (
                Reason::InvitationExpired,
                format!(
                    "the invitation to {other} expired unaccepted; change spec.partnerInvitation.resendNonce to invite again"
                ),
            ),
            ApiPhase::Revoked => (Reason::Revoked, "the link was revoked in the platform".to_owned()),
        };
        outcome.reason = reason;
        outcome.message = message;
        if !plan.skipped_members.is_empty() {
            outcome.message.push_str(&format!(
                "; not placed (already members of the tenant otherwise): {}",
                plan.skipped_members.join(", ")
            ));
        }
    }
    // Pending: at the invitation's expiry; held by the resend limit: when it lifts.
    let limited = matches!(plan.plan, Plan::Hold(crate::core::plan::Hold::ResendLimited { .. }));
    outcome.requeue_at = plan.requeue_at.filter(|_| facts.phase == ApiPhase::Pending || limited);
    outcome.facts = crate::core::facts::KindFacts::TenantLink(Box::new(facts));
    outcome
}
