//! Read what a TenantLink plan needs, and the link summary an Organization's status shows.

use super::{DesiredTenantLink, MemberState, ObservedTenantLink};
use crate::api::organization::LinkSummary;
use crate::core::error::CoreError;
use crate::store::accounts::LifecycleState;
use crate::store::invitations::{self, Subject};
use crate::store::memberships::{self, Placement, Scope};
use crate::store::organizations::{self, Organization};
use crate::store::outbox;
use crate::store::tenant_links::{self, TenantLinkPhase};
use crate::store::{Conn, ManagedTable, ownership, provider_codes, roles, users};

/// How many counterpart IDs a [`LinkSummary`] lists per side.
pub const SUMMARY_IDS: usize = 20;

/// Read what [`plan`](super::plan) needs. Reads only.
pub async fn observe(conn: &mut Conn, desired: &DesiredTenantLink) -> Result<ObservedTenantLink, CoreError> {
    let me = &desired.owner;
    let mut observed = ObservedTenantLink::default();
    let owned = match ownership::find_by_uid(conn, ManagedTable::TenantLinks, &me.uid).await? {
        Some(found) => Some(found),
        None => ownership::find_by_owner(conn, ManagedTable::TenantLinks, &me.cluster, &me.namespace, &me.name).await?,
    };
    if let Some(found) = owned {
        observed.row = tenant_links::find(conn, &found.id).await?;
    } else if !desired.intent.is_deleting()
        && let Some(found) =
            ownership::find_released(conn, ManagedTable::TenantLinks, &me.cluster, &me.namespace, &me.name).await?
    {
        // A link an earlier object of this name let go of (Orphan) still stands between the
        // two organizations: the re-created object adopts it or is told to; an ended link
        // (revoked, rejected, expired) is history, and a new one is made.
        observed.row = tenant_links::find(conn, &found.id)
            .await?
            .filter(|l| matches!(l.phase, TenantLinkPhase::Pending | TenantLinkPhase::Active));
    }
    if let Some(id) = desired.flags.external_id.as_deref() {
        observed.external = tenant_links::find(conn, id).await?;
        let ext = observed.external.as_ref().map(|e| (e.id.as_str(), e.owner.as_ref()));
        observed.offered = crate::core::db::offered(conn, ManagedTable::TenantLinks, ext, me).await?;
    }
    let importing = desired.flags.external_id.is_some() && !desired.intent.is_deleting();
    let focus = if importing { observed.external.clone() } else { observed.row.clone() };
    if let Some(link) = &focus {
        observed.invitations = invitations::list_for(conn, &Subject::TenantLink(link.id.clone())).await?;
        if let Some(latest) = crate::core::invitation::current(&observed.invitations) {
            observed.invitation_mail =
                outbox::list_for_related(conn, invitations::TABLE, &latest.id).await?.into_iter().next_back();
        }
        for (m, by) in memberships::list_placed(conn, &link.id).await? {
            let email = users::find(conn, &m.user_id).await?.map(|u| u.email).unwrap_or_default();
            match by {
                Placement::Tenant => observed.derived.push((m, email)),
                Placement::Provider => observed.provider_staff.push((m, email)),
            }
        }
    }
    let Some(spec) = desired.intent.spec() else { return Ok(observed) };

    let found = ownership::find_by_owner(
        conn,
        ManagedTable::Organizations,
        &me.cluster,
        &me.namespace,
        spec.organization_ref.name.as_str(),
    )
    .await?;
    if let Some(found) = found {
        observed.organization = organizations::find(conn, &found.id).await?;
    }
    let Some(ours) = observed.organization.clone() else { return Ok(observed) };
    observed.roles = roles::list(conn, &ours.id).await?;

    // The counterpart: the link's other side once it exists, else what the spec names.
    let counterpart_id = match (&focus, &spec.partner_invitation) {
        (Some(link), _) => Some(other_side(link, &ours.id).to_owned()),
        (None, Some(invite)) => Some(invite.organization_id.trim().to_owned()),
        (None, None) => match &desired.code {
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
    // Before a partner invitation is issued (a new link, or a new resendNonce): is its address
    // an administrator of the partner?
    let resending = spec.partner_invitation.as_ref().is_some_and(|invite| {
        crate::core::invitation::current(&observed.invitations)
            .is_some_and(|i| i.accepted_at.is_none() && i.revoked_at.is_none() && i.resend_nonce != invite.resend_nonce)
    });
    if let (true, Some(invite), Some(partner)) =
        (focus.is_none() || resending, &spec.partner_invitation, &observed.counterpart)
    {
        observed.partner_admin = super::admin::read(conn, &partner.id, invite.admin_email.as_str()).await?;
    }
    let tenant = tenant_of(&ours, observed.counterpart.as_ref(), desired, focus.as_ref());
    if let Some(counterpart) = &observed.counterpart
        && tenant == counterpart.id
    {
        observed.counterpart_roles = roles::list(conn, &counterpart.id).await?;
    }
    for member in &spec.members {
        let email = member.email.as_str().to_owned();
        let user = users::find_by_email(conn, &email).await?;
        let live = match &user {
            Some(u) => memberships::find_live(conn, &u.id, &Scope::Organization(tenant.clone())).await?,
            None => None,
        };
        observed.members.push(MemberState { email, role: member.role.clone(), user, live });
    }
    Ok(observed)
}

/// The organization of `link` that is not `ours`.
pub(super) fn other_side<'a>(link: &'a tenant_links::TenantLink, ours: &str) -> &'a str {
    if link.provider_organization_id == ours { &link.tenant_organization_id } else { &link.provider_organization_id }
}

/// The tenant organization's ID (see the module documentation).
fn tenant_of(
    ours: &Organization,
    counterpart: Option<&Organization>,
    desired: &DesiredTenantLink,
    link: Option<&tenant_links::TenantLink>,
) -> String {
    if let Some(link) = link {
        return link.tenant_organization_id.clone();
    }
    match (desired.intent.spec().and_then(|s| s.partner_invitation.as_ref()), counterpart) {
        (Some(invite), Some(c)) if super::plan::we_provide(invite.organization_role) => c.id.clone(),
        _ => ours.id.clone(),
    }
}

/// An Organization status's `links`: its active links as provider (tenants served) and as
/// tenant (providers appointed), with up to `SUMMARY_IDS` counterpart IDs each.
pub async fn link_summary(conn: &mut Conn, organization_id: &str) -> Result<LinkSummary, CoreError> {
    let mut summary = LinkSummary::default();
    for link in tenant_links::list_by_organization(conn, organization_id).await? {
        if link.phase != TenantLinkPhase::Active {
            continue;
        }
        if link.provider_organization_id == organization_id {
            summary.tenant_count += 1;
            if summary.tenant_ids.len() < SUMMARY_IDS {
                summary.tenant_ids.push(link.tenant_organization_id);
            }
        } else {
            summary.provider_count += 1;
            if summary.provider_ids.len() < SUMMARY_IDS {
                summary.provider_ids.push(link.provider_organization_id);
            }
        }
    }
    if summary.tenant_count > 0 {
        let placed = crate::store::tenants::placed_total(conn, organization_id).await?;
        summary.staff_placed = i32::try_from(placed).unwrap_or(i32::MAX);
    }
    Ok(summary)
}

/// An organization row that can take part in a link.
pub(super) fn usable(org: &Organization) -> bool {
    org.state == LifecycleState::Active
}
