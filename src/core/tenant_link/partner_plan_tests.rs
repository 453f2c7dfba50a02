//! The pure TenantLink plan for a pending partner invitation: `resendNonce`, the daily limit
//! and the re-queue at expiry, on hand-built rows.

use jiff::SignedDuration;

use super::*;
use crate::api::tenant_link::TenantLinkPhase as ApiPhase;
use crate::core::fixtures::*;
use crate::core::invitation::Delivery;
use crate::core::plan::Hold;
use crate::store::accounts::LifecycleState;
use crate::store::invitations::Subject;

fn desired(nonce: Option<&str>) -> DesiredTenantLink {
    let nonce = nonce.map(|n| format!(", resendNonce: '{n}'")).unwrap_or_default();
    let yaml = format!(
        "organizationRef: {{name: eng}}\npartnerInvitation: {{organizationId: org-prov, \
         organizationRole: ServiceProvider, adminEmail: admin@prov.example{nonce}}}\n"
    );
    let spec: TenantLinkSpec = serde_yaml::from_str(&yaml).expect("spec");
    DesiredTenantLink::new(owner("tl", UID), spec, false, Flags::default(), None)
}

/// A partner link in `phase` whose invitations are `invitations` (oldest first).
fn observed(phase: TenantLinkPhase, invitations: Vec<Invitation>) -> ObservedTenantLink {
    let spec = desired(None).intent.spec().expect("spec").clone();
    let link = TenantLink {
        id: "tl-1".into(),
        provider_organization_id: "org-prov".into(),
        tenant_organization_id: "org-eng".into(),
        mode: LinkMode::PartnerInvitation,
        terms: plan::terms(&spec),
        phase,
        accepted_at: None,
        revoked_at: None,
        owner: Some(stored(&owner("tl", UID), true)),
        created_at: at("2025-03-01T00:00:00Z"),
        updated_at: at("2025-03-01T00:00:00Z"),
    };
    ObservedTenantLink {
        organization: Some(organization_row("org-eng", "acct-1", "Eng", None, LifecycleState::Active)),
        counterpart: Some(organization_row("org-prov", "acct-2", "Prov", None, LifecycleState::Active)),
        row: Some(link),
        invitations,
        partner_admin: admin(),
        ..Default::default()
    }
}

/// admin@prov.example as an active `Admin` (members.manage) of the partner.
fn admin() -> admin::PartnerAdmin {
    let membership = Membership {
        id: "mbr-admin".into(),
        user_id: "usr-admin".into(),
        scope: crate::store::memberships::Scope::Organization("org-prov".into()),
        settings: crate::store::memberships::MembershipSettings {
            roles: vec!["Admin".into()],
            groups: Vec::new(),
            notifications: Vec::new(),
            login: false,
        },
        phase: crate::store::memberships::MembershipPhase::Active,
        revoked_at: None,
        owner: None,
        created_at: now(),
        updated_at: now(),
    };
    admin::PartnerAdmin { membership: Some(membership), roles: vec![role("org-prov", "Admin", &["members.manage"])] }
}

fn sent(id: &str, expires_at: Timestamp, nonce: Option<&str>) -> Invitation {
    invitation_row(id, Subject::TenantLink("tl-1".into()), expires_at, nonce)
}

fn week_from(t: Timestamp) -> Timestamp {
    t + SignedDuration::from_hours(7 * 24)
}

fn write(p: &TenantLinkPlan) -> &LinkWrite {
    match &p.plan {
        Plan::Update { write: Some(write), .. } => write,
        other => panic!("not an update: {other:?}"),
    }
}

#[test]
fn the_same_nonce_sends_nothing_and_requeues_at_the_open_invitations_expiry() {
    let expires = week_from(now());
    let p = plan(&desired(None), &observed(TenantLinkPhase::Pending, vec![sent("inv-1", expires, None)]), now());
    assert!(!p.writes(), "{p:?}");
    assert_eq!(p.requeue_at, Some(expires));
    assert_eq!((p.facts.phase, p.facts.invitation_expires_at), (ApiPhase::Pending, Some(expires)));
    assert_eq!(p.facts.invitation.as_ref().map(|i| i.delivery.clone()), Some(Delivery::Unknown), "no mail row seen");
    let nonce =
        plan(&desired(Some("1")), &observed(TenantLinkPhase::Pending, vec![sent("inv-1", expires, Some("1"))]), now());
    assert!(!nonce.writes(), "{nonce:?}");
}

#[test]
fn a_new_nonce_revokes_the_open_invitation_and_issues_a_fresh_one() {
    let o = observed(TenantLinkPhase::Pending, vec![sent("inv-1", week_from(now()), None)]);
    let p = plan(&desired(Some("2")), &o, now());
    let w = write(&p);
    assert_eq!(w.revoke_invitation.as_deref(), Some("inv-1"));
    let invite = w.invite.as_ref().expect("a fresh invitation");
    assert_eq!((invite.resend_nonce.as_deref(), invite.expires_at), (Some("2"), week_from(now())));
    assert_eq!((invite.email.as_str(), invite.inviter.as_str()), ("admin@prov.example", "Eng"));
    assert_eq!(w.phase, None, "still pending");
    assert_eq!(p.requeue_at, Some(week_from(now())));
    assert_eq!(p.facts.invitation_expires_at, Some(week_from(now())));
    assert_eq!(p.facts.invitation.as_ref().map(|i| i.delivery.clone()), Some(Delivery::Queued));
    assert!(format!("{:?}", p.plan).contains("re-sent"), "the change names it: {p:?}");
}

#[test]
fn a_new_nonce_brings_an_expired_link_back_to_pending() {
    let o = observed(TenantLinkPhase::Expired, vec![sent("inv-1", at("2025-03-01T01:00:00Z"), None)]);
    let unchanged = plan(&desired(None), &o, now());
    assert_eq!((unchanged.facts.phase, unchanged.requeue_at), (ApiPhase::Expired, None));
    let p = plan(&desired(Some("2")), &o, now());
    assert_eq!(write(&p).phase, Some(TenantLinkPhase::Pending));
    assert_eq!(write(&p).revoke_invitation.as_deref(), Some("inv-1"));
    assert_eq!(p.facts.phase, ApiPhase::Pending);
}

#[test]
fn an_answered_invitation_is_not_re_sent() {
    let mut accepted = sent("inv-1", week_from(now()), None);
    accepted.accepted_at = Some(now());
    let p = plan(&desired(Some("2")), &observed(TenantLinkPhase::Active, vec![accepted.clone()]), now());
    assert!(!p.writes(), "{p:?}");
    assert_eq!((p.facts.invitation_expires_at, p.requeue_at), (None, None));
    let refused = Invitation { accepted_at: None, revoked_at: Some(now()), ..accepted };
    let p = plan(&desired(Some("2")), &observed(TenantLinkPhase::Rejected, vec![refused]), now());
    assert!(!p.writes(), "{p:?}");
}

#[test]
fn re_sends_beyond_the_daily_limit_wait_until_it_lifts() {
    let first = sent("inv-1", week_from(now()), None);
    let second = Invitation { created_at: at("2025-03-01T06:00:00Z"), ..sent("inv-2", week_from(now()), Some("2")) };
    let o = observed(TenantLinkPhase::Pending, vec![first, second]);
    let p = plan(&desired(Some("3")).with_invitations_per_day(2), &o, now());
    let until = at("2025-03-02T00:00:00Z");
    assert_eq!(p.plan, Plan::Hold(Hold::ResendLimited { limit: 2, until }));
    assert_eq!(p.requeue_at, Some(until));
    assert!(plan(&desired(Some("3")).with_invitations_per_day(3), &o, now()).writes(), "room for a third");
}

#[test]
fn a_re_send_goes_only_to_an_administrator_of_the_partner() {
    let mut o = observed(TenantLinkPhase::Pending, vec![sent("inv-1", week_from(now()), None)]);
    o.partner_admin = admin::PartnerAdmin { membership: None, ..admin() };
    let p = plan(&desired(Some("2")), &o, now());
    let Plan::Hold(Hold::TenantLink(LinkHold::AdminNotInPartner { email, organization_id })) = &p.plan else {
        panic!("{p:?}")
    };
    assert_eq!((email.as_str(), organization_id.as_str()), ("admin@prov.example", "org-prov"));
}

#[test]
fn the_tenants_member_takes_over_the_row_the_provider_placed_and_leaves_the_providers_others() {
    let mut d = desired(None);
    if let Intent::Present(spec) = &mut d.intent {
        spec.members = serde_yaml::from_str("[{email: tech@prov.example, role: Admin}]").expect("members");
    }
    let placed = |id: &str, user: &str, role: &str| Membership {
        id: id.into(),
        user_id: user.into(),
        settings: crate::core::tenant_link::staff_settings(role),
        scope: crate::store::memberships::Scope::Organization("org-eng".into()),
        ..admin().membership.expect("a membership")
    };
    let mut o = observed(TenantLinkPhase::Active, Vec::new());
    let tech = placed("mbr-tech", "usr-tech", "Builder");
    o.provider_staff = vec![
        (tech.clone(), "tech@prov.example".into()),
        (placed("mbr-sre", "usr-sre", "Consumer"), "sre@prov.example".into()),
    ];
    o.members =
        vec![MemberState { email: "tech@prov.example".into(), role: "Admin".into(), user: None, live: Some(tech) }];
    let p = plan(&d, &o, now());
    assert_eq!(
        write(&p).members,
        vec![MemberOp::Claim {
            membership_id: "mbr-tech".into(),
            email: "tech@prov.example".into(),
            role: "Admin".into()
        }]
    );
    assert_eq!(p.facts.members, vec!["tech@prov.example".to_owned()]);
    let shown: Vec<&str> = p.facts.provider_staff.iter().map(|s| s.email.as_str()).collect();
    assert_eq!(shown, ["sre@prov.example"], "the provider's other staff stay, and are shown");
    // A link that is no longer active does not take the provider's rows over (nor revoke them).
    let mut pending = o.clone();
    if let Some(row) = pending.row.as_mut() {
        row.phase = TenantLinkPhase::Pending;
    }
    let p = plan(&d, &pending, now());
    assert!(p.plan.id().is_some() && !format!("{:?}", p.plan).contains("Claim"), "{p:?}");
}
