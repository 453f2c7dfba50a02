//! The pure TenantLink plan (see the module table in [`super`]).

use std::collections::BTreeSet;

use jiff::Timestamp;

use super::facts::api_phase;
use super::hold::LinkHold;
use super::observe::{other_side, usable};
use super::{
    BUILTIN_MEMBER_ROLES, DesiredTenantLink, LinkWrite, MemberOp, ObservedTenantLink, PartnerInvite, TenantLinkFacts,
    TenantLinkPlan,
};
use crate::api::TenantLinkSpec;
use crate::api::tenant_link::{
    PartnerRole as ApiRole, ProviderStaff, SharingScope as ApiScope, TenantLinkPhase as ApiPhase,
};
use crate::core::invitation::{self, InvitationFacts, State};
use crate::core::outcome::{Change, Children};
use crate::core::plan::{self, Claim, Hold, Plan, Route, RowRef, ScopeItem, Subject, Target, Work};
use crate::core::provider_code::expiry;
use crate::store::accounts::LifecycleState;
use crate::store::tenant_links::{LinkMode, LinkTerms, PartnerRole, SharingScope, TenantLink, TenantLinkPhase};

/// Inviting a partner as `Customer`, we are the provider; otherwise the partner is.
pub(super) fn we_provide(role: ApiRole) -> bool {
    role == ApiRole::Customer
}

/// Decide what to do for `desired` given `observed` at `now`. Pure.
pub fn plan(desired: &DesiredTenantLink, observed: &ObservedTenantLink, now: Timestamp) -> TenantLinkPlan {
    let s = Subject::new(&desired.owner, &desired.flags, &desired.intent);
    let mut facts = TenantLinkFacts::pending();
    let route = plan::route(
        s,
        observed.row.as_ref().map(rref),
        observed.external.as_ref().map(|e| rref(e).offered(observed.offered)),
    );
    let (plan, requeue_at, skipped) = match (route, desired.intent.spec()) {
        (Route::Delete { id, policy }, _) => {
            if let Some(link) = [&observed.row, &observed.external].into_iter().flatten().find(|l| l.id == id) {
                fill(&mut facts, link, observed, now);
            }
            let plan = plan::delete(s, policy, &id, Children::default());
            if matches!(plan, Plan::Archive { .. }) {
                facts.phase = ApiPhase::Revoked;
                facts.members.clear();
                facts.provider_staff.clear();
            }
            (plan, None, Vec::new())
        }
        (Route::Gone, _) => (Plan::Gone, None, Vec::new()),
        (Route::Hold(h), _) => (Plan::Hold(h), None, Vec::new()),
        (Route::Work(_), None) => (Plan::Gone, None, Vec::new()),
        (Route::Work(Work::Create), Some(spec)) => match create(desired, spec, observed, now, &mut facts) {
            Ok((p, skipped)) => (plan::create(s, p.0, p.1), facts.invitation_expires_at, skipped),
            Err(hold) => (Plan::Hold(hold), None, Vec::new()),
        },
        (Route::Work(Work::Sync { target, claim }), Some(spec)) => {
            let link = match target {
                Target::Row => observed.row.as_ref(),
                Target::External => observed.external.as_ref(),
            };
            match link {
                Some(link) => sync(s, spec, link, claim, observed, now, desired.invitations_per_day, &mut facts),
                None => (Plan::Gone, None, Vec::new()),
            }
        }
    };
    TenantLinkPlan { plan, facts, requeue_at, skipped_members: skipped }
}

type Created = ((LinkWrite, Vec<Change>), Vec<String>);

fn create(
    desired: &DesiredTenantLink,
    spec: &TenantLinkSpec,
    o: &ObservedTenantLink,
    now: Timestamp,
    facts: &mut TenantLinkFacts,
) -> Result<Created, Hold> {
    let ours = ready_org(spec, o)?;
    check_granted(spec, o)?;
    let terms = terms(spec);
    if let Some(invite) = &spec.partner_invitation {
        let partner_id = invite.organization_id.trim();
        let Some(partner) = o.counterpart.as_ref().filter(|c| usable(c) && c.id == partner_id) else {
            return Err(link_hold(LinkHold::PartnerNotFound { organization_id: partner_id.to_owned() }));
        };
        if partner.id == ours.id {
            return Err(link_hold(LinkHold::SelfLink { organization_id: ours.id.clone() }));
        }
        if !o.partner_admin.manages() {
            let email = invite.admin_email.as_str().to_owned();
            return Err(link_hold(LinkHold::AdminNotInPartner { email, organization_id: partner.id.clone() }));
        }
        check_member_roles(spec, o)?;
        let (provider, tenant) =
            if we_provide(invite.organization_role) { (&ours.id, &partner.id) } else { (&partner.id, &ours.id) };
        facts.counterpart_organization_id = Some(partner.id.clone());
        facts.counterpart_organization_name = Some(partner.name.clone());
        let invite = partner_invite(spec, &ours.name, now, facts);
        let write = LinkWrite {
            provider_organization_id: provider.clone(),
            tenant_organization_id: tenant.clone(),
            mode: LinkMode::PartnerInvitation,
            terms,
            terms_changed: true,
            redeem: None,
            revoke_invitation: None,
            invite,
            phase: Some(TenantLinkPhase::Pending),
            members: Vec::new(),
        };
        let changes = vec![Change::new("phase", None, Some("Pending".to_owned()))];
        return Ok(((write, changes), Vec::new()));
    }
    // Mode 1: the code is the consent.
    let Some(code_ref) = spec.provider_code.as_ref() else {
        return Err(link_hold(LinkHold::CodeUnknown));
    };
    let Some(text) = desired.code.as_ref() else {
        let secret = code_ref.secret_ref.name.as_str().to_owned();
        return Err(link_hold(LinkHold::CodeSecretNotFound { secret, key: code_ref.secret_ref.key.clone() }));
    };
    let code = match o.code.as_ref() {
        Some(code) if code.code_hash == text.hash() => code,
        _ => return Err(link_hold(LinkHold::CodeUnknown)),
    };
    if code.used_at.is_some() {
        return Err(link_hold(LinkHold::CodeAlreadyUsed));
    }
    if code.revoked_at.is_some() {
        return Err(link_hold(LinkHold::CodeRevoked));
    }
    if code.expires_at <= now {
        return Err(link_hold(LinkHold::CodeExpired));
    }
    if code.organization_id == ours.id {
        return Err(link_hold(LinkHold::SelfLink { organization_id: ours.id.clone() }));
    }
    let Some(provider) = o.counterpart.as_ref().filter(|c| usable(c) && c.id == code.organization_id) else {
        return Err(link_hold(LinkHold::CodeUnknown));
    };
    if !provider.service_provider {
        return Err(link_hold(LinkHold::ProviderDisabled { organization_id: provider.id.clone() }));
    }
    check_member_roles(spec, o)?;
    let (members, skipped) = member_ops(o, true);
    facts.phase = ApiPhase::Active;
    facts.counterpart_organization_id = Some(provider.id.clone());
    facts.counterpart_organization_name = Some(provider.name.clone());
    facts.accepted_at = Some(now);
    facts.members = placed(o, &members);
    facts.provider_staff = provider_staff(o, &members);
    let mut changes = vec![Change::new("phase", None, Some("Active".to_owned()))];
    changes.extend(member_changes(&members));
    let write = LinkWrite {
        provider_organization_id: provider.id.clone(),
        tenant_organization_id: ours.id.clone(),
        mode: LinkMode::ProviderCode,
        terms,
        terms_changed: true,
        redeem: Some(code.code_hash.clone()),
        revoke_invitation: None,
        invite: None,
        phase: Some(TenantLinkPhase::Active),
        members,
    };
    Ok(((write, changes), skipped))
}

#[allow(clippy::too_many_arguments)]
fn sync(
    s: Subject<'_>,
    spec: &TenantLinkSpec,
    link: &TenantLink,
    claim: Claim,
    o: &ObservedTenantLink,
    now: Timestamp,
    per_day: u32,
    facts: &mut TenantLinkFacts,
) -> (Plan<LinkWrite>, Option<Timestamp>, Vec<String>) {
    fill(facts, link, o, now);
    let hold = |h| (Plan::Hold(h), None, Vec::new());
    let Some(ours) = o.organization.as_ref() else {
        return hold(Hold::OrganizationNotReady {
            organization: spec.organization_ref.name.as_str().to_owned(),
            detail: "it has no platform organization yet".to_owned(),
        });
    };
    let spec_mode =
        if spec.partner_invitation.is_some() { LinkMode::PartnerInvitation } else { LinkMode::ProviderCode };
    let involved = link.provider_organization_id == ours.id || link.tenant_organization_id == ours.id;
    if spec_mode != link.mode || !involved {
        let (field, actual, expected) = if spec_mode != link.mode {
            ("mode", link.mode.as_str().to_owned(), spec_mode.as_str().to_owned())
        } else {
            ("organizationRef", other_side(link, "").to_owned(), ours.id.clone())
        };
        return hold(Hold::Immutable { id: link.id.clone(), field, actual, expected });
    }
    if let Some(invite) = &spec.partner_invitation
        && other_side(link, &ours.id) != invite.organization_id.trim()
    {
        return hold(Hold::Immutable {
            id: link.id.clone(),
            field: "partnerInvitation.organizationId",
            actual: other_side(link, &ours.id).to_owned(),
            expected: invite.organization_id.trim().to_owned(),
        });
    }
    if let Err(h) = check_granted(spec, o).and_then(|()| check_member_roles(spec, o)) {
        return hold(h);
    }
    let mut changes = Vec::new();
    // The phase the rows say (an accepted, rejected or expired invitation moves a pending link).
    let mut phase = link.phase;
    let mut requeue_at = None;
    if link.revoked_at.is_none()
        && link.phase == TenantLinkPhase::Pending
        && let Some(latest) = invitation::current(&o.invitations)
    {
        phase = match invitation::state(latest, now) {
            State::Accepted { .. } => TenantLinkPhase::Active,
            State::Revoked { .. } => TenantLinkPhase::Rejected,
            State::Expired { .. } => TenantLinkPhase::Expired,
            State::Open { expires_at } => {
                requeue_at = Some(expires_at);
                TenantLinkPhase::Pending
            }
        };
    }
    // A new resendNonce replaces the unanswered invitation (open or expired) with a fresh one.
    let mut revoke_invitation = None;
    let mut invite = None;
    if link.revoked_at.is_none()
        && let Some(wanted) = &spec.partner_invitation
        && let Some(open) = invitation::unanswered(&o.invitations, now)
        && open.resend_nonce.as_deref() != wanted.resend_nonce.as_deref()
    {
        if !o.partner_admin.manages() {
            let (email, organization_id) =
                (wanted.admin_email.as_str().to_owned(), other_side(link, &ours.id).to_owned());
            return hold(link_hold(LinkHold::AdminNotInPartner { email, organization_id }));
        }
        if let Some(until) = invitation::resend_limited(&o.invitations, per_day, now) {
            return (Plan::Hold(Hold::ResendLimited { limit: per_day, until }), Some(until), Vec::new());
        }
        revoke_invitation = Some(open.id.clone());
        invite = partner_invite(spec, &ours.name, now, facts);
        requeue_at = facts.invitation_expires_at;
        phase = TenantLinkPhase::Pending;
        let to = format!("re-sent ({}, {})", wanted.locale.as_str(), wanted.lifetime);
        changes.push(Change::new("invitation", Some(invitation::state(open, now).as_str().to_owned()), Some(to)));
    }
    let moved = (phase != link.phase).then_some(phase);
    if let Some(to) = moved {
        changes.push(Change::new(
            "phase",
            Some(format!("{:?}", api_phase(link.phase))),
            Some(format!("{:?}", api_phase(to))),
        ));
        facts.phase = api_phase(to);
        if to == TenantLinkPhase::Active && facts.accepted_at.is_none() {
            facts.accepted_at = Some(now);
        }
    }
    let wanted = terms(spec);
    let terms_changed = wanted != link.terms;
    if terms_changed {
        changes.extend(term_changes(&link.terms, &wanted));
    }
    let (members, skipped) = member_ops(o, phase == TenantLinkPhase::Active && link.revoked_at.is_none());
    changes.extend(member_changes(&members));
    facts.members = placed(o, &members);
    facts.provider_staff = provider_staff(o, &members);
    let write = LinkWrite {
        provider_organization_id: link.provider_organization_id.clone(),
        tenant_organization_id: link.tenant_organization_id.clone(),
        mode: link.mode,
        terms: wanted,
        terms_changed,
        redeem: None,
        revoke_invitation,
        invite,
        phase: moved,
        members,
    };
    let plan = plan::sync(s, &link.id, LifecycleState::Active, claim, Some(write), changes);
    (plan, requeue_at, skipped)
}

/// Facts from an existing link.
fn fill(facts: &mut TenantLinkFacts, link: &TenantLink, o: &ObservedTenantLink, now: Timestamp) {
    facts.phase = api_phase(link.phase);
    facts.link_id = Some(link.id.clone());
    let ours = o.organization.as_ref().map_or("", |org| org.id.as_str());
    let other = if ours.is_empty() { &link.provider_organization_id } else { other_side(link, ours) };
    facts.counterpart_organization_id = Some(other.to_owned());
    facts.counterpart_organization_name = o.counterpart.as_ref().filter(|c| c.id == other).map(|c| c.name.clone());
    facts.accepted_at = link.accepted_at;
    let latest = invitation::current(&o.invitations);
    facts.invitation_expires_at = latest.filter(|i| invitation::state(i, now).is_unanswered()).map(|i| i.expires_at);
    facts.invitation = latest.map(|i| InvitationFacts::from_rows(i, o.invitation_mail.as_ref()));
    facts.members = o.derived.iter().map(|(_, email)| email.clone()).collect();
    facts.provider_staff = provider_staff(o, &[]);
}

/// The partner invitation `spec` asks for, issued at `now` by our organization `inviter`;
/// `facts` show its expiry and its queued mail.
fn partner_invite(
    spec: &TenantLinkSpec,
    inviter: &str,
    now: Timestamp,
    facts: &mut TenantLinkFacts,
) -> Option<PartnerInvite> {
    let invite = spec.partner_invitation.as_ref()?;
    let lifetime = invite.lifetime.to_duration().unwrap_or(std::time::Duration::from_secs(7 * 86_400));
    let expires_at = expiry(now, lifetime);
    facts.invitation_expires_at = Some(expires_at);
    facts.invitation = Some(InvitationFacts::queued(expires_at));
    Some(PartnerInvite {
        email: invite.admin_email.as_str().to_owned(),
        locale: invite.locale,
        expires_at,
        resend_nonce: invite.resend_nonce.clone(),
        inviter: inviter.to_owned(),
        roles: spec.granted_roles.clone(),
    })
}

fn link_hold(h: LinkHold) -> Hold {
    Hold::TenantLink(h)
}

fn ready_org<'a>(
    spec: &TenantLinkSpec,
    o: &'a ObservedTenantLink,
) -> Result<&'a crate::store::organizations::Organization, Hold> {
    let name = spec.organization_ref.name.as_str().to_owned();
    match o.organization.as_ref() {
        Some(org) if usable(org) => Ok(org),
        Some(org) => {
            Err(Hold::OrganizationNotReady { organization: name, detail: format!("{} is {}", org.id, org.state) })
        }
        None => {
            Err(Hold::OrganizationNotReady { organization: name, detail: "it has no platform organization yet".into() })
        }
    }
}

/// `grantedRoles` are roles of our organization.
fn check_granted(spec: &TenantLinkSpec, o: &ObservedTenantLink) -> Result<(), Hold> {
    let have: Vec<String> = o.roles.iter().filter(|r| r.archived_at.is_none()).map(|r| r.name.clone()).collect();
    let missing: Vec<String> = spec.granted_roles.iter().filter(|r| !have.contains(r)).cloned().collect();
    if missing.is_empty() {
        return Ok(());
    }
    let scope = format!("organization {}", spec.organization_ref.name.as_str());
    Err(Hold::NotInScope { what: ScopeItem::Role, missing, available: have, scope })
}

/// Member roles are built-in staff roles or roles of the tenant organization.
fn check_member_roles(spec: &TenantLinkSpec, o: &ObservedTenantLink) -> Result<(), Hold> {
    let tenant_roles = if o.counterpart_roles.is_empty() { &o.roles } else { &o.counterpart_roles };
    let mut have: BTreeSet<String> = BUILTIN_MEMBER_ROLES.iter().map(|r| (*r).to_owned()).collect();
    have.extend(tenant_roles.iter().filter(|r| r.archived_at.is_none()).map(|r| r.name.clone()));
    let missing: Vec<String> = spec
        .members
        .iter()
        .map(|m| m.role.clone())
        .filter(|r| !have.contains(r))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Hold::NotInScope {
        what: ScopeItem::Role,
        missing,
        available: have.into_iter().collect(),
        scope: "the tenant organization".to_owned(),
    })
}

/// The derived-membership changes: with `active`, each listed member gets one; otherwise (and
/// for members no longer listed) derived memberships are revoked. Returns the ops and the
/// members skipped because they are members of the tenant otherwise.
fn member_ops(o: &ObservedTenantLink, active: bool) -> (Vec<MemberOp>, Vec<String>) {
    let mut ops = Vec::new();
    let mut skipped = Vec::new();
    let mut kept = BTreeSet::new();
    if active {
        for m in &o.members {
            match &m.live {
                Some(live) => match o.derived.iter().find(|(d, _)| d.id == live.id) {
                    Some((d, _)) => {
                        kept.insert(d.id.clone());
                        if d.settings.roles != [m.role.clone()] {
                            let (membership_id, email, role) = (d.id.clone(), m.email.clone(), m.role.clone());
                            ops.push(MemberOp::Role { membership_id, email, role });
                        }
                    }
                    None => match o.provider_staff.iter().find(|(p, _)| p.id == live.id) {
                        // The tenant's entry wins over the provider's (see the module table).
                        Some((p, _)) => {
                            kept.insert(p.id.clone());
                            let (membership_id, email, role) = (p.id.clone(), m.email.clone(), m.role.clone());
                            ops.push(MemberOp::Claim { membership_id, email, role });
                        }
                        None => skipped.push(m.email.clone()),
                    },
                },
                None => ops.push(MemberOp::Add {
                    email: m.email.clone(),
                    user_id: m.user.as_ref().map(|u| u.id.clone()),
                    role: m.role.clone(),
                }),
            }
        }
    }
    for (d, email) in &o.derived {
        if !kept.contains(&d.id) {
            ops.push(MemberOp::Revoke { membership_id: d.id.clone(), email: email.clone() });
        }
    }
    (ops, skipped)
}

/// The members placed once `ops` are applied.
fn placed(o: &ObservedTenantLink, ops: &[MemberOp]) -> Vec<String> {
    let revoked: BTreeSet<&str> = ops
        .iter()
        .filter_map(|op| if let MemberOp::Revoke { email, .. } = op { Some(email.as_str()) } else { None })
        .collect();
    let mut out: Vec<String> =
        o.derived.iter().map(|(_, e)| e.clone()).filter(|e| !revoked.contains(e.as_str())).collect();
    out.extend(ops.iter().filter_map(|op| match op {
        MemberOp::Add { email, .. } | MemberOp::Claim { email, .. } => Some(email.clone()),
        MemberOp::Role { .. } | MemberOp::Revoke { .. } => None,
    }));
    out
}

/// The provider's staff in the tenant once `ops` are applied (rows the tenant claims leave), by
/// e-mail address so the status does not move with row IDs.
fn provider_staff(o: &ObservedTenantLink, ops: &[MemberOp]) -> Vec<ProviderStaff> {
    let claimed: BTreeSet<&str> = ops
        .iter()
        .filter_map(
            |op| if let MemberOp::Claim { membership_id, .. } = op { Some(membership_id.as_str()) } else { None },
        )
        .collect();
    o.provider_staff
        .iter()
        .filter(|(m, _)| !claimed.contains(m.id.as_str()))
        .map(|(m, email)| ProviderStaff { email: email.clone(), role: m.settings.roles.join(", ") })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

fn member_changes(ops: &[MemberOp]) -> Vec<Change> {
    ops.iter()
        .map(|op| match op {
            MemberOp::Add { email, role, .. } => Change::new(format!("members[{email}]"), None, Some(role.clone())),
            MemberOp::Role { email, role, .. } => {
                Change::new(format!("members[{email}].role"), None, Some(role.clone()))
            }
            MemberOp::Claim { email, role, .. } => {
                Change::new(format!("members[{email}]"), Some("provider staff".to_owned()), Some(role.clone()))
            }
            MemberOp::Revoke { email, .. } => Change::new(format!("members[{email}]"), Some("member".to_owned()), None),
        })
        .collect()
}

/// The row terms the spec asks for.
pub(super) fn terms(spec: &TenantLinkSpec) -> LinkTerms {
    let invite = spec.partner_invitation.as_ref();
    LinkTerms {
        partner_role: invite.map(|i| match i.organization_role {
            ApiRole::Partner => PartnerRole::Partner,
            ApiRole::Customer => PartnerRole::Customer,
            ApiRole::ServiceProvider => PartnerRole::ServiceProvider,
        }),
        admin_email: invite.map(|i| i.admin_email.as_str().to_owned()),
        granted_roles: spec.granted_roles.clone(),
        sharing_scope: invite
            .map(|i| {
                i.sharing_scope
                    .iter()
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .map(|s| match s {
                        ApiScope::Tickets => SharingScope::Tickets,
                        ApiScope::Assets => SharingScope::Assets,
                        ApiScope::Members => SharingScope::Members,
                        ApiScope::Billing => SharingScope::Billing,
                        ApiScope::Reports => SharingScope::Reports,
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

fn term_changes(from: &LinkTerms, to: &LinkTerms) -> Vec<Change> {
    let list = |v: &[String]| v.join(", ");
    let scopes = |v: &[SharingScope]| v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
    [
        Change::diff("grantedRoles", Some(&list(&from.granted_roles)), Some(&list(&to.granted_roles))),
        Change::diff(
            "partnerInvitation.sharingScope",
            Some(&scopes(&from.sharing_scope)),
            Some(&scopes(&to.sharing_scope)),
        ),
        Change::diff(
            "partnerInvitation.organizationRole",
            from.partner_role.map(PartnerRole::as_str),
            to.partner_role.map(PartnerRole::as_str),
        ),
        Change::diff("partnerInvitation.adminEmail", from.admin_email.as_deref(), to.admin_email.as_deref()),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn rref(l: &TenantLink) -> RowRef<'_> {
    let state = if l.revoked_at.is_some() { LifecycleState::Archived } else { LifecycleState::Active };
    RowRef::new(&l.id, l.owner.as_ref(), state)
}
