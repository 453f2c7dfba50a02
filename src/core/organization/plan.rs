//! The pure part: spec + observed rows → [`OrganizationPlan`].

use super::{DesiredOrganization, ObservedOrganization, OrganizationPlan, OrganizationWrite, structure};
use crate::api::OrganizationSpec;
use crate::core::outcome::{Change, Children};
use crate::core::plan::{self, Hold, Route, RowRef, Subject, Target, Work};
use crate::store::accounts::{Account, LifecycleState};
use crate::store::organizations::Organization;

/// Decide what to do for one Organization object. Pure: same input, same plan.
pub fn plan(desired: &DesiredOrganization, observed: &ObservedOrganization) -> OrganizationPlan {
    let subject = Subject::new(&desired.owner, &desired.flags, &desired.intent);
    let row = observed.row.as_ref();
    let external = observed.external.as_ref();
    let sync = match plan::route(subject, row.map(row_ref), external.map(|e| row_ref(e).offered(observed.offered))) {
        Route::Gone => return OrganizationPlan::Gone,
        Route::Hold(hold) => return OrganizationPlan::Hold(hold),
        Route::Delete { id, policy } => {
            let children = Children { count: observed.memberships, ids: Vec::new(), memberships: true };
            return plan::delete(subject, policy, &id, children);
        }
        Route::Work(Work::Create) => None,
        Route::Work(Work::Sync { target, claim }) => {
            let found = match target {
                Target::Row => row,
                Target::External => external,
            };
            // route() only syncs a row it was given.
            let Some(org) = found else { return OrganizationPlan::Gone };
            Some((claim, org))
        }
    };
    // route() works only while the intent is Present.
    let Some(spec) = desired.intent.spec() else { return OrganizationPlan::Gone };
    let account = match ready_account(spec, observed.account.as_ref()) {
        Ok(account) => account,
        Err(hold) => return OrganizationPlan::Hold(hold),
    };
    let mut write = OrganizationWrite {
        account_id: account.id.clone(),
        name: spec.display_name.clone(),
        service_provider: spec.service_provider.as_ref().is_some_and(|p| p.enabled),
        fields: true,
        revoke_codes: false,
        roles: Vec::new(),
        groups: Vec::new(),
    };
    match sync {
        Some((claim, org)) => {
            if org.account_id != account.id {
                return OrganizationPlan::Hold(Hold::AccountMismatch {
                    id: org.id.clone(),
                    actual: org.account_id.clone(),
                    expected: account.id.clone(),
                });
            }
            let mut changes = fields(Some(org), &write);
            write.fields = !changes.is_empty();
            write.revoke_codes = !write.service_provider && observed.unused_codes > 0;
            if write.revoke_codes {
                let open = format!("{} unused", observed.unused_codes);
                changes.push(Change::new("serviceProvider.codes", Some(open), Some("revoked".to_owned())));
            }
            let (roles, role_changes) = structure::roles(&observed.roles, &spec.roles);
            let (groups, group_changes) = structure::groups(&observed.groups, &spec.groups);
            changes.extend(role_changes.into_iter().chain(group_changes));
            write.roles = roles;
            write.groups = groups;
            let write = (!changes.is_empty()).then_some(write);
            plan::sync(subject, &org.id, org.state, claim, write, changes)
        }
        None => {
            let mut changes = fields(None, &write);
            let (roles, role_changes) = structure::roles(&[], &spec.roles);
            let (groups, group_changes) = structure::groups(&[], &spec.groups);
            changes.extend(role_changes.into_iter().chain(group_changes));
            write.roles = roles;
            write.groups = groups;
            plan::create(subject, write, changes)
        }
    }
}

fn row_ref(o: &Organization) -> RowRef<'_> {
    RowRef::new(&o.id, o.owner.as_ref(), o.state)
}

/// The parent account, when it has an active row; else why the organization waits.
fn ready_account<'a>(spec: &OrganizationSpec, account: Option<&'a Account>) -> Result<&'a Account, Hold> {
    let name = spec.account_ref.name.as_str().to_owned();
    match account {
        Some(a) if a.state == LifecycleState::Active => Ok(a),
        Some(a) => Err(Hold::AccountNotReady { account: name, detail: format!("its account {} is {}", a.id, a.state) }),
        None => Err(Hold::AccountNotReady {
            account: name,
            detail: "it has no platform account yet (is the Account in this namespace and Ready?)".to_owned(),
        }),
    }
}

/// The organization's own fields that differ (`have` is `None` for a new row).
fn fields(have: Option<&Organization>, want: &OrganizationWrite) -> Vec<Change> {
    let flag = |b: bool| if b { "true" } else { "false" };
    [
        Change::diff("displayName", have.map(|o| o.name.as_str()), Some(&want.name)),
        Change::diff("serviceProvider", have.map(|o| flag(o.service_provider)), Some(flag(want.service_provider))),
    ]
    .into_iter()
    .flatten()
    .collect()
}
