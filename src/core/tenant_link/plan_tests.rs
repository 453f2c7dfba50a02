//! The pure TenantLink plan: every hold and transition on hand-built rows.

use super::*;
use crate::api::Reason;
use crate::core::fixtures::*;
use crate::core::outcome::Action;
use crate::store::accounts::LifecycleState;
use crate::store::organizations::Organization;

const CODE_SPEC: &str = "organizationRef: {name: eng}\nproviderCode: {secretRef: {name: s, key: code}}\n";

fn desired(code: Option<&str>) -> DesiredTenantLink {
    let spec: TenantLinkSpec = serde_yaml::from_str(CODE_SPEC).expect("spec");
    DesiredTenantLink::new(owner("tl", UID), spec, false, Flags::default(), code)
}

fn code(used: bool, revoked: bool, expires: &str) -> ProviderCode {
    ProviderCode {
        id: "pc-1".into(),
        organization_id: "org-prov".into(),
        code_hash: crate::core::tokens::hash("c0de"),
        expires_at: at(expires),
        used_at: used.then(now),
        used_by_tenant_link_id: used.then(|| "tl-other".into()),
        revoked_at: revoked.then(now),
        created_at: now(),
        updated_at: now(),
    }
}

fn observed(code: Option<ProviderCode>) -> ObservedTenantLink {
    ObservedTenantLink {
        organization: Some(organization_row("org-eng", "acct-1", "Eng", None, LifecycleState::Active)),
        counterpart: Some(Organization {
            service_provider: true,
            ..organization_row("org-prov", "acct-2", "Prov", None, LifecycleState::Active)
        }),
        code,
        ..Default::default()
    }
}

fn reason(p: &TenantLinkPlan) -> Reason {
    match &p.plan {
        Plan::Hold(h) => h.reason(crate::core::Kind::TenantLink),
        other => panic!("not a hold: {other:?}"),
    }
}

#[test]
fn code_holds_say_which() {
    let future = "2030-01-01T00:00:00Z";
    assert_eq!(reason(&plan(&desired(None), &observed(None), now())), "CodeSecretNotFound");
    assert_eq!(reason(&plan(&desired(Some("x")), &observed(None), now())), "CodeUnknown");
    assert_eq!(
        reason(&plan(&desired(Some("c0de")), &observed(Some(code(true, false, future))), now())),
        "CodeAlreadyUsed"
    );
    assert_eq!(reason(&plan(&desired(Some("c0de")), &observed(Some(code(false, true, future))), now())), "CodeRevoked");
    let old = code(false, false, "2025-01-01T00:00:00Z");
    assert_eq!(reason(&plan(&desired(Some("c0de")), &observed(Some(old)), now())), "CodeExpired");
    let mut no_org = observed(None);
    no_org.organization = None;
    assert_eq!(reason(&plan(&desired(Some("c0de")), &no_org, now())), "OrganizationNotReady");
    // The issuer turned serviceProvider off after issuing an open code.
    let mut disabled = observed(Some(code(false, false, future)));
    if let Some(issuer) = disabled.counterpart.as_mut() {
        issuer.service_provider = false;
    }
    let p = plan(&desired(Some("c0de")), &disabled, now());
    assert_eq!(reason(&p), "ProviderDisabled");
    assert_eq!(p.plan.action(), Action::NotFound);
    let p = plan(&desired(Some("c0de")), &observed(Some(code(true, false, future))), now());
    assert!(!format!("{p:?}").contains("c0de"));
    assert_eq!(p.plan.action(), Action::Conflict);
}

#[test]
fn an_open_code_creates_an_active_link_that_redeems_it() {
    let p = plan(&desired(Some("c0de")), &observed(Some(code(false, false, "2030-01-01T00:00:00Z"))), now());
    let Plan::Create { write, .. } = &p.plan else { panic!("{p:?}") };
    assert_eq!(write.redeem.as_deref(), Some(crate::core::tokens::hash("c0de").as_str()));
    assert_eq!(
        (write.provider_organization_id.as_str(), write.tenant_organization_id.as_str()),
        ("org-prov", "org-eng")
    );
    assert_eq!(write.phase, Some(crate::store::tenant_links::TenantLinkPhase::Active));
    assert!(p.facts.is_active());
    assert_eq!(p.facts.accepted_at, Some(now()));
}

#[test]
fn deleting_without_a_row_is_gone() {
    let mut d = desired(None);
    d.intent = Intent::Deleting(DeletionPolicy::Delete);
    assert_eq!(plan(&d, &ObservedTenantLink::default(), now()).plan, Plan::Gone);
}
