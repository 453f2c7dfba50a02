//! The pure part: spec + observed row → [`AccountPlan`].

use super::{AccountPlan, DesiredAccount, ObservedAccount};
use crate::api::AccountSpec;
use crate::core::outcome::Change;
use crate::core::plan::{self, Route, RowRef, Subject, Target, Work};
use crate::store::accounts::{Account, AccountDetails, BillingAddress};

/// Decide what to do for one Account object. Pure: same input, same plan.
pub fn plan(desired: &DesiredAccount, observed: &ObservedAccount) -> AccountPlan {
    let subject = Subject::new(&desired.owner, &desired.flags, &desired.intent);
    let row = observed.row.as_ref();
    let external = observed.external.as_ref();
    let work = match plan::route(subject, row.map(row_ref), external.map(|e| row_ref(e).offered(observed.offered))) {
        Route::Gone => return AccountPlan::Gone,
        Route::Hold(hold) => return AccountPlan::Hold(hold),
        Route::Delete { id, policy } => {
            return plan::delete(subject, policy, &id, observed.blocking());
        }
        Route::Work(work) => work,
    };
    // route() works only while the intent is Present.
    let Some(spec) = desired.intent.spec() else { return AccountPlan::Gone };
    let want = details(spec);
    match work {
        Work::Create => {
            let changes = diff(None, &want);
            plan::create(subject, want, changes)
        }
        Work::Sync { target, claim } => {
            let found = match target {
                Target::Row => row,
                Target::External => external,
            };
            // route() only syncs a row it was given.
            let Some(found) = found else { return AccountPlan::Gone };
            let changes = diff(Some(&found.details), &want);
            let write = (!changes.is_empty()).then_some(want);
            plan::sync(subject, &found.id, found.state, claim, write, changes)
        }
    }
}

fn row_ref(a: &Account) -> RowRef<'_> {
    RowRef::new(&a.id, a.owner.as_ref(), a.state)
}

/// The stored form of an Account spec.
pub fn details(spec: &AccountSpec) -> AccountDetails {
    let a = &spec.billing_address;
    AccountDetails {
        legal_name: spec.legal_name.clone(),
        billing_address: BillingAddress {
            street: a.street.clone(),
            city: a.city.clone(),
            postal_code: a.postal_code.clone(),
            region: a.region.clone(),
            country: a.country.as_str().to_owned(),
        },
        tax_id: spec.tax_id.clone(),
        billing_email: spec.billing_email.as_str().to_owned(),
        currency: spec.currency.as_str().to_owned(),
        invoice_language: spec.invoice_language.clone(),
    }
}

/// A spec field path and how to read it from stored details.
type Field = (&'static str, fn(&AccountDetails) -> Option<String>);

/// Every updatable field, in the spec's order.
const FIELDS: [Field; 10] = [
    ("legalName", |d| Some(d.legal_name.clone())),
    ("billingAddress.street", |d| Some(serde_json::Value::from(d.billing_address.street.clone()).to_string())),
    ("billingAddress.city", |d| Some(d.billing_address.city.clone())),
    ("billingAddress.postalCode", |d| Some(d.billing_address.postal_code.clone())),
    ("billingAddress.region", |d| d.billing_address.region.clone()),
    ("billingAddress.country", |d| Some(d.billing_address.country.clone())),
    ("taxId", |d| d.tax_id.clone()),
    ("billingEmail", |d| Some(d.billing_email.clone())),
    ("currency", |d| Some(d.currency.clone())),
    ("invoiceLanguage", |d| Some(d.invoice_language.clone())),
];

/// The fields that differ between `have` (`None`: no row yet) and `want`, named as in the spec.
fn diff(have: Option<&AccountDetails>, want: &AccountDetails) -> Vec<Change> {
    FIELDS
        .iter()
        .filter_map(|(field, get)| Change::diff(field, have.and_then(get).as_deref(), get(want).as_deref()))
        .collect()
}
