//! Read what the staff plan needs: our links as provider, the tenants' roles, each person's
//! memberships, the rows placed through our links. Reads only.

use super::{ObservedStaff, Person, Placed};
use crate::api::organization::StaffSpec;
use crate::core::error::CoreError;
use crate::store::memberships::{self, Placement, Scope};
use crate::store::tenant_links::{self, TenantLinkPhase};
use crate::store::{Conn, roles, users};

/// What [`plan`](super::plan) needs for organization `organization_id` and `entries`.
pub async fn observe(
    conn: &mut Conn,
    organization_id: &str,
    entries: &[StaffSpec],
) -> Result<ObservedStaff, CoreError> {
    let mut observed = ObservedStaff::default();
    let ours: Vec<_> = tenant_links::list_by_organization(conn, organization_id)
        .await?
        .into_iter()
        .filter(|l| l.provider_organization_id == organization_id)
        .collect();
    for (membership, by, link_id) in memberships::list_placed_for_provider(conn, organization_id).await? {
        match by {
            Placement::Tenant => observed.placed_by_tenant.push(membership.id),
            Placement::Provider => {
                let email = users::find(conn, &membership.user_id).await?.map(|u| u.email).unwrap_or_default();
                let tenant = ours.iter().find(|l| l.id == link_id).map(|l| l.tenant_organization_id.clone());
                let tenant_organization_id = tenant.unwrap_or_default();
                observed.placed.push(Placed { membership, email, link_id, tenant_organization_id });
            }
        }
    }
    observed.links =
        ours.into_iter().filter(|l| l.phase == TenantLinkPhase::Active && l.revoked_at.is_none()).collect();
    for entry in entries {
        let tenant = entry.tenant_organization_id.trim().to_owned();
        let linked = observed.links.iter().any(|l| l.tenant_organization_id == tenant);
        if linked && !observed.tenant_roles.iter().any(|(t, _)| *t == tenant) {
            let live = roles::list(conn, &tenant).await?;
            observed.tenant_roles.push((tenant.clone(), live));
        }
        let mut person = Person {
            email: entry.email.as_str().to_owned(),
            tenant_organization_id: tenant.clone(),
            role: entry.role.clone(),
            ..Person::default()
        };
        person.user = users::find_by_email(conn, entry.email.as_str()).await?;
        if let Some(user) = &person.user {
            let here = Scope::Organization(organization_id.to_owned());
            person.provider_membership = memberships::find_live(conn, &user.id, &here).await?;
            // The tenant's memberships are read only where we hold an Active link to it.
            if linked {
                person.tenant_membership = memberships::find_live(conn, &user.id, &Scope::Organization(tenant)).await?;
            }
        }
        observed.people.push(person);
    }
    Ok(observed)
}
