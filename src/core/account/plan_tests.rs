//! Every Account plan, from a YAML spec and rows built in code. No database.

use super::*;
use crate::api::DeletionPolicy;
use crate::api::Reason;
use crate::core::fixtures::*;
use crate::core::outcome::{Action, Change, Kind};
use crate::core::plan::{Hold, Intent, TakeOver};
use crate::store::StoredOwner;

fn spec() -> AccountSpec {
    account_spec(ACCOUNT_YAML)
}

fn with_spec(spec: AccountSpec) -> DesiredAccount {
    DesiredAccount::new(owner("acme", UID), spec, false, Flags::default())
}

fn desired() -> DesiredAccount {
    with_spec(spec())
}

/// Being deleted, the policy taken from the spec as the operator does.
fn deleting(policy: DeletionPolicy) -> DesiredAccount {
    let mut spec = spec();
    spec.deletion_policy = policy;
    let d = DesiredAccount::new(owner("acme", UID), spec, true, Flags::default());
    assert_eq!(d.intent, Intent::Deleting(policy));
    d
}

/// The row this object owns, matching the spec.
fn mine() -> Account {
    account_row(
        "acct-1",
        details(&account_spec(ACCOUNT_YAML)),
        Some(stored(&owner("acme", UID), true)),
        LifecycleState::Active,
    )
}

fn with_row(row: Account) -> ObservedAccount {
    ObservedAccount { row: Some(row), ..Default::default() }
}

fn importing(external_id: &str) -> DesiredAccount {
    let mut d = desired();
    d.flags.external_id = Some(external_id.to_owned());
    d
}

#[test]
fn no_row_creates_one_owned_by_the_object_listing_every_field() {
    let plan = plan(&desired(), &ObservedAccount::default());
    let AccountPlan::Create { owner: o, write, changes } = &plan else { panic!("expected Create, got {plan:?}") };
    assert_eq!(o, &owner("acme", UID));
    assert_eq!(write.legal_name, "Acme Sp. z o.o.");
    assert_eq!(write.billing_address.street, ["ul. Prosta 1", "lok. 4"]);
    assert_eq!(write.billing_address.country, "PL");
    assert_eq!(write.tax_id.as_deref(), Some("PL5260250274"));
    let fields: Vec<&str> = changes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "legalName",
            "billingAddress.street",
            "billingAddress.city",
            "billingAddress.postalCode",
            "billingAddress.region",
            "billingAddress.country",
            "taxId",
            "billingEmail",
            "currency",
            "invoiceLanguage"
        ]
    );
    assert!(changes.iter().all(|c| c.from.is_none()));
    assert_eq!(plan.action(), Action::Created);
    assert!(plan.writes());
}

#[test]
fn a_row_that_matches_is_a_noop() {
    let plan = plan(&desired(), &with_row(mine()));
    assert_eq!(plan, AccountPlan::NoOp { id: "acct-1".to_owned() });
    assert!(!plan.writes());
    assert!(plan.changes().is_empty());
}

#[test]
fn defaults_in_the_spec_match_the_stored_values() {
    // invoiceLanguage defaults to en and deletionPolicy to Delete; an absent taxId is NULL.
    let spec = account_spec(&ACCOUNT_YAML.replace("invoiceLanguage: pl\n", "").replace("taxId: PL5260250274\n", ""));
    let mut row = mine();
    row.details.invoice_language = "en".to_owned();
    row.details.tax_id = None;
    assert_eq!(spec.deletion_policy, DeletionPolicy::Delete);
    let d = with_spec(spec);
    assert_eq!(plan(&d, &with_row(row)), AccountPlan::NoOp { id: "acct-1".to_owned() });
}

/// The row differs from the spec in one field: the plan is an update of exactly that field.
fn assert_single_update(field: &str, edit: impl FnOnce(&mut AccountDetails), from: Option<&str>, to: Option<&str>) {
    let mut row = mine();
    edit(&mut row.details);
    let plan = plan(&desired(), &with_row(row));
    let AccountPlan::Update { id, reactivate, write, changes } = &plan else { panic!("expected Update, got {plan:?}") };
    assert_eq!(id, "acct-1");
    assert!(!reactivate);
    assert_eq!(write.as_ref(), Some(&details(&spec())), "the update writes the spec's values");
    assert_eq!(changes, &[Change::new(field, from.map(str::to_owned), to.map(str::to_owned))]);
}

#[test]
fn update_legal_name() {
    assert_single_update("legalName", |d| d.legal_name = "Acme".into(), Some("Acme"), Some("Acme Sp. z o.o."));
}

#[test]
fn update_street() {
    assert_single_update(
        "billingAddress.street",
        |d| d.billing_address.street = vec!["ul. Krzywa 2".into()],
        Some(r#"["ul. Krzywa 2"]"#),
        Some(r#"["ul. Prosta 1","lok. 4"]"#),
    );
}

#[test]
fn update_city() {
    assert_single_update(
        "billingAddress.city",
        |d| d.billing_address.city = "Kraków".into(),
        Some("Kraków"),
        Some("Warszawa"),
    );
}

#[test]
fn update_postal_code() {
    assert_single_update(
        "billingAddress.postalCode",
        |d| d.billing_address.postal_code = "30-001".into(),
        Some("30-001"),
        Some("00-838"),
    );
}

#[test]
fn update_region_from_absent() {
    assert_single_update("billingAddress.region", |d| d.billing_address.region = None, None, Some("mazowieckie"));
}

#[test]
fn update_country() {
    assert_single_update("billingAddress.country", |d| d.billing_address.country = "DE".into(), Some("DE"), Some("PL"));
}

#[test]
fn update_tax_id() {
    assert_single_update(
        "taxId",
        |d| d.tax_id = Some("PL0000000000".into()),
        Some("PL0000000000"),
        Some("PL5260250274"),
    );
}

#[test]
fn update_billing_email() {
    assert_single_update(
        "billingEmail",
        |d| d.billing_email = "old@acme.example".into(),
        Some("old@acme.example"),
        Some("billing@acme.example"),
    );
}

#[test]
fn update_currency() {
    assert_single_update("currency", |d| d.currency = "EUR".into(), Some("EUR"), Some("PLN"));
}

#[test]
fn update_invoice_language() {
    assert_single_update("invoiceLanguage", |d| d.invoice_language = "en".into(), Some("en"), Some("pl"));
}

#[test]
fn removing_the_tax_id_from_the_spec_clears_it() {
    let d = with_spec(account_spec(&ACCOUNT_YAML.replace("taxId: PL5260250274\n", "")));
    let plan = plan(&d, &with_row(mine()));
    assert_eq!(plan.changes(), &[Change::new("taxId", Some("PL5260250274".into()), None)]);
    assert_eq!(plan.action(), Action::Updated);
}

#[test]
fn an_owned_row_archived_out_of_band_is_reactivated() {
    let mut row = mine();
    row.state = LifecycleState::Archived;
    let plan = plan(&desired(), &with_row(row));
    assert_eq!(
        plan,
        AccountPlan::Update {
            id: "acct-1".to_owned(),
            reactivate: true,
            write: None,
            changes: vec![Change::new("state", Some("archived".into()), Some("active".into()))],
        }
    );
}

#[test]
fn deletion_with_policy_delete_archives() {
    assert_eq!(
        plan(&deleting(DeletionPolicy::Delete), &with_row(mine())),
        AccountPlan::Archive { id: "acct-1".to_owned() }
    );
}

#[test]
fn deletion_is_blocked_while_organizations_live() {
    let observed = ObservedAccount { organizations: vec!["org-a".into(), "org-b".into()], ..with_row(mine()) };
    let plan = plan(&deleting(DeletionPolicy::Delete), &observed);
    let AccountPlan::Hold(hold @ Hold::DeletionBlocked { id, children }) = &plan else { panic!("blocked: {plan:?}") };
    assert_eq!((id.as_str(), children.count), ("acct-1", 2));
    assert_eq!(hold.reason(Kind::Account), "HasOrganizations");
    let message = hold.message(Kind::Account);
    assert!(message.contains("2 organizations") && message.contains("org-a, org-b"), "{message}");
    assert_eq!(plan.action(), Action::DeletionBlocked);
    assert!(!plan.writes());
}

#[test]
fn deletion_with_policy_orphan_detaches_even_with_organizations() {
    let observed = ObservedAccount { organizations: vec!["org-a".into()], ..with_row(mine()) };
    let plan = plan(&deleting(DeletionPolicy::Orphan), &observed);
    assert_eq!(plan, AccountPlan::Orphan { id: "acct-1".to_owned() });
    assert_eq!(plan.action(), Action::Orphaned);
}

#[test]
fn deletion_needs_no_spec() {
    // Local --prune: the manifest is gone, only the owner and the policy are known.
    let pruned = DesiredAccount::deleted(owner("acme", UID), DeletionPolicy::Delete, Flags::default());
    assert_eq!(plan(&pruned, &with_row(mine())), AccountPlan::Archive { id: "acct-1".to_owned() });
}

#[test]
fn deletion_without_a_row_has_nothing_to_do() {
    let plan = plan(&deleting(DeletionPolicy::Delete), &ObservedAccount::default());
    assert_eq!(plan, AccountPlan::Gone);
    assert!(plan.action().deletion_finished());
}

#[test]
fn deletion_never_touches_a_row_this_object_does_not_own() {
    // An earlier object of the same name owns it; this one never adopted it.
    let earlier = stored(&owner("acme", "uid-0"), true);
    let row = account_row("acct-1", details(&spec()), Some(earlier), LifecycleState::Active);
    assert_eq!(plan(&deleting(DeletionPolicy::Delete), &with_row(row)), AccountPlan::Gone);
    let mut d = deleting(DeletionPolicy::Delete);
    d.flags.external_id = Some("acct-9".into());
    let unowned = account_row("acct-9", details(&spec()), None, LifecycleState::Active);
    assert_eq!(plan(&d, &ObservedAccount { external: Some(unowned), ..Default::default() }), AccountPlan::Gone);
}

#[test]
fn an_active_row_of_a_recreated_object_is_taken_back_without_asking() {
    let earlier = stored(&owner("acme", "uid-0"), true);
    let mut row = account_row("acct-1", details(&spec()), Some(earlier.clone()), LifecycleState::Active);
    row.details.currency = "EUR".into();
    let plan = plan(&desired(), &with_row(row));
    let AccountPlan::TakeOver { how: TakeOver::Adopt, id, owner: o, previous, reactivate, write, changes } = &plan
    else {
        panic!("{plan:?}")
    };
    assert_eq!((id.as_str(), o, previous.as_ref()), ("acct-1", &owner("acme", UID), Some(&earlier)));
    assert!(!reactivate);
    assert!(write.is_some());
    assert_eq!(changes, &[Change::new("currency", Some("EUR".into()), Some("PLN".into()))]);
}

#[test]
fn a_released_row_of_this_name_needs_the_adopt_annotation() {
    let earlier = stored(&owner("acme", "uid-0"), false);
    let row = account_row("acct-1", details(&spec()), Some(earlier.clone()), LifecycleState::Archived);
    let plan = plan(&desired(), &with_row(row));
    let AccountPlan::Hold(hold) = &plan else { panic!("{plan:?}") };
    assert_eq!(
        hold,
        &Hold::AdoptionRequired { id: "acct-1".into(), previous: Some(earlier), state: LifecycleState::Archived }
    );
    assert_eq!(hold.reason(Kind::Account), "AdoptionRequired");
    let message = hold.message(Kind::Account);
    assert!(message.contains("accountops.dev/adopt: \"true\"") && message.contains("acct-1"), "{message}");
    assert_eq!(plan.action(), Action::AdoptionRequired);
    assert!(!plan.writes());
}

#[test]
fn an_archived_row_still_owned_by_an_earlier_uid_needs_the_adopt_annotation() {
    let earlier = stored(&owner("acme", "uid-0"), true);
    let row = account_row("acct-1", details(&spec()), Some(earlier), LifecycleState::Archived);
    assert_eq!(plan(&desired(), &with_row(row)).action(), Action::AdoptionRequired);
}

#[test]
fn with_the_adopt_annotation_a_released_archived_row_is_adopted_and_reactivated() {
    let earlier = stored(&owner("acme", "uid-0"), false);
    let row = account_row("acct-1", details(&spec()), Some(earlier.clone()), LifecycleState::Archived);
    let mut d = desired();
    d.flags.adopt = true;
    let plan = plan(&d, &with_row(row));
    assert_eq!(
        plan,
        AccountPlan::TakeOver {
            how: TakeOver::Adopt,
            id: "acct-1".into(),
            owner: owner("acme", UID),
            previous: Some(earlier),
            reactivate: true,
            write: None,
            changes: vec![Change::new("state", Some("archived".into()), Some("active".into()))],
        }
    );
}

#[test]
fn the_external_id_imports_an_offered_unowned_row_and_corrects_it() {
    let mut row = account_row("acct-9", details(&spec()), None, LifecycleState::Active);
    row.details.legal_name = "ACME".into();
    let plan =
        plan(&importing("acct-9"), &ObservedAccount { external: Some(row), offered: true, ..Default::default() });
    let AccountPlan::TakeOver { how: TakeOver::Import, id, owner: o, previous, reactivate, write, changes } = &plan
    else {
        panic!("{plan:?}")
    };
    assert_eq!((id.as_str(), o, previous), ("acct-9", &owner("acme", UID), &None));
    assert!(!reactivate);
    assert_eq!(write.as_ref(), Some(&details(&spec())));
    assert_eq!(changes, &[Change::new("legalName", Some("ACME".into()), Some("Acme Sp. z o.o.".into()))]);
    assert_eq!(plan.action(), Action::Imported);
}

#[test]
fn the_external_id_imports_a_row_another_object_of_this_namespace_let_go_of() {
    let released = stored(&owner("old-name", "uid-0"), false);
    let row = account_row("acct-9", details(&spec()), Some(released.clone()), LifecycleState::Orphaned);
    let plan = plan(&importing("acct-9"), &ObservedAccount { external: Some(row), ..Default::default() });
    let AccountPlan::TakeOver { how: TakeOver::Import, previous, reactivate, .. } = &plan else { panic!("{plan:?}") };
    assert_eq!(previous.as_ref(), Some(&released));
    assert!(reactivate);
}

#[test]
fn an_import_of_what_another_tenant_let_go_of_or_a_platform_row_needs_an_offer() {
    let namespace = owner("acme", UID).namespace;
    let other_namespace = StoredOwner { uid: None, ..elsewhere() };
    let other_cluster = StoredOwner { cluster: "another-cluster".into(), ..stored(&owner("acme", "uid-0"), false) };
    for previous in [Some(other_namespace), Some(other_cluster), None] {
        for state in [LifecycleState::Active, LifecycleState::Orphaned, LifecycleState::Archived] {
            let row = account_row("acct-9", details(&spec()), previous.clone(), state);
            let refused = ObservedAccount { external: Some(row.clone()), ..Default::default() };
            for observe_only in [false, true] {
                let mut d = importing("acct-9");
                d.flags.observe_only = observe_only;
                d.flags.adopt = true; // asking to adopt does not change it
                let plan = plan(&d, &refused);
                let want = Hold::NotOffered {
                    id: "acct-9".into(),
                    previous: previous.clone().map(Box::new),
                    namespace: namespace.clone(),
                };
                assert_eq!(plan, AccountPlan::Hold(want.clone()), "{previous:?} {state:?} observe-only {observe_only}");
                assert_eq!((plan.action(), want.reason(Kind::Account)), (Action::Conflict, Reason::NotOffered));
                assert!(want.message(Kind::Account).contains("import_offers"), "{}", want.message(Kind::Account));
                assert!(!plan.writes());
            }
            let offered = ObservedAccount { external: Some(row), offered: true, ..Default::default() };
            assert_eq!(plan(&importing("acct-9"), &offered).action(), Action::Imported, "{previous:?} {state:?}");
        }
    }
}

#[test]
fn a_row_owned_by_another_object_is_a_conflict_and_never_taken() {
    let row = account_row("acct-9", details(&spec()), Some(elsewhere()), LifecycleState::Active);
    let mut d = importing("acct-9");
    d.flags.adopt = true; // asking to adopt does not change it
    let plan = plan(&d, &ObservedAccount { external: Some(row), ..Default::default() });
    let AccountPlan::Hold(hold) = &plan else { panic!("{plan:?}") };
    assert_eq!(hold, &Hold::OwnedElsewhere { id: "acct-9".into(), owner: elsewhere() });
    assert_eq!(hold.reason(Kind::Account), "OwnedElsewhere");
    assert!(hold.message(Kind::Account).contains("sales/globex"), "{}", hold.message(Kind::Account));
    assert_eq!(plan.action(), Action::Conflict);
    assert!(!plan.writes());
}

#[test]
fn an_external_id_naming_no_row_is_not_found() {
    let plan = plan(&importing("acct-404"), &ObservedAccount::default());
    assert_eq!(plan, AccountPlan::Hold(Hold::ExternalNotFound { external_id: "acct-404".into() }));
    assert_eq!(plan.action(), Action::NotFound);
}

#[test]
fn an_external_id_other_than_the_owned_row_is_a_conflict() {
    let external = account_row("acct-9", details(&spec()), None, LifecycleState::Active);
    let observed = ObservedAccount { external: Some(external), ..with_row(mine()) };
    let plan = plan(&importing("acct-9"), &observed);
    assert_eq!(plan, AccountPlan::Hold(Hold::ExternalIdMismatch { id: "acct-1".into(), external_id: "acct-9".into() }));
    // Naming the row it already owns is fine.
    let same = ObservedAccount { external: Some(mine()), ..with_row(mine()) };
    assert_eq!(super::plan(&importing("acct-1"), &same), AccountPlan::NoOp { id: "acct-1".into() });
}

#[test]
fn observe_only_reports_drift_without_correcting_it() {
    let mut d = desired();
    d.flags.observe_only = true;
    let mut row = mine();
    row.details.billing_email = "x@acme.example".into();
    let plan = plan(&d, &with_row(row));
    let AccountPlan::Hold(hold @ Hold::Drift { id, changes }) = &plan else { panic!("{plan:?}") };
    assert_eq!(id, "acct-1");
    assert_eq!(changes.len(), 1);
    assert_eq!(hold.reason(Kind::Account), "DriftDetected");
    assert!(hold.message(Kind::Account).contains("billingEmail"));
    assert!(!plan.writes());
    assert_eq!(plan.changes().len(), 1, "the drift is listed for plan output and Events");
}

#[test]
fn observe_only_writes_nothing_in_any_case() {
    let mut d = desired();
    d.flags.observe_only = true;
    assert_eq!(plan(&d, &with_row(mine())), AccountPlan::NoOp { id: "acct-1".into() });
    assert_eq!(plan(&d, &ObservedAccount::default()), AccountPlan::Hold(Hold::Missing));
    d.flags.external_id = Some("acct-9".into());
    let unowned = account_row("acct-9", details(&spec()), None, LifecycleState::Active);
    assert_eq!(
        plan(&d, &ObservedAccount { external: Some(unowned), offered: true, ..Default::default() }),
        AccountPlan::NoOp { id: "acct-9".into() },
        "an import is not claimed while observing"
    );
    let mut gone = deleting(DeletionPolicy::Delete);
    gone.flags.observe_only = true;
    assert_eq!(plan(&gone, &with_row(mine())), AccountPlan::Release { id: "acct-1".into() });
}
