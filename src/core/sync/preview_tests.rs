//! Local mode's plan of a sync and what `--prune` reports: pure, no server.

use std::time::Duration;

use super::plan_tests::{asset, order};
use super::preview::{ObservedSync, preview, prune_outcome};
use crate::api::provisioning_sync::ProvisioningSyncSpec;
use crate::core::Action;
use crate::core::fixtures::{ACCOUNT_YAML, account_row, account_spec, now};
use crate::store::accounts::LifecycleState;
use crate::store::syncs::{ProvisioningSync, SyncStatus as RowStatus};
use crate::store::{Owner, StoredOwner};

const RESYNC: Duration = Duration::from_secs(600);

fn spec(orders: &[(&str, &str)]) -> ProvisioningSyncSpec {
    let mut spec: ProvisioningSyncSpec = serde_yaml::from_str(
        "accountRef: {name: acme}\nendpoint: {url: 'https://scim.example/v2', auth: Bearer, \
         credentialsSecretRef: {name: creds}}\nportalUrl: https://portal.example\n",
    )
    .expect("spec");
    spec.orders = orders.iter().map(|(n, p)| order(n, p)).collect();
    spec
}

fn account(state: LifecycleState) -> crate::store::accounts::Account {
    account_row("acct-1", crate::core::account::details(&account_spec(ACCOUNT_YAML)), None, state)
}

fn record() -> ProvisioningSync {
    ProvisioningSync {
        id: "psync-1".to_owned(),
        account_id: "acct-1".to_owned(),
        endpoint: "https://scim.example/v2".to_owned(),
        sync_status: RowStatus::Synchronized,
        external_id: Some("scim-g".to_owned()),
        last_sync_time: Some(now()),
        last_error: None,
        archived_at: None,
        pushed: None,
        owner: None,
        created_at: now(),
        updated_at: now(),
    }
}

#[test]
fn a_sync_waits_for_its_account_to_be_active() {
    for account in [None, Some(account(LifecycleState::Archived))] {
        let observed = ObservedSync { account, ..ObservedSync::default() };
        let o = preview(&spec(&[("o1", "P")]), &observed, RESYNC, now());
        assert_eq!((o.action, o.reason), (Action::Waiting, "AccountNotReady"));
        assert_eq!(o.message, "Account acme is not ready");
        assert!(o.changes.is_empty(), "no order runs before the account is synced");
    }
}

#[test]
fn a_new_sync_is_created_and_runs_every_order() {
    let observed = ObservedSync { account: Some(account(LifecycleState::Active)), ..ObservedSync::default() };
    let o = preview(&spec(&[("o1", "P"), ("o2", "Q")]), &observed, RESYNC, now());
    assert_eq!((o.action, o.id.as_deref()), (Action::Created, None));
    let fields: Vec<&str> = o.changes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields, ["orders[o1]", "orders[o2]"]);
    assert!(o.is_ready());
}

#[test]
fn an_existing_sync_runs_only_new_orders_and_refuses_product_changes() {
    let observed = ObservedSync {
        account: Some(account(LifecycleState::Active)),
        row: Some(record()),
        claim: super::preview::Claim::Own,
        assets: vec![asset("o1", "P")],
    };
    let same = preview(&spec(&[("o1", "P")]), &observed, RESYNC, now());
    assert_eq!((same.action, same.id.as_deref()), (Action::Unchanged, Some("psync-1")));
    let facts = same.provisioning.as_deref().expect("facts");
    assert_eq!(facts.assets.len(), 1, "the existing asset is listed");

    let more = preview(&spec(&[("o1", "P"), ("o2", "Q")]), &observed, RESYNC, now());
    assert_eq!(more.action, Action::Updated);
    assert_eq!(more.changes.len(), 1);
    assert_eq!(more.changes[0].field, "orders[o2]");

    let changed = preview(&spec(&[("o1", "Other")]), &observed, RESYNC, now());
    assert_eq!((changed.action, changed.reason), (Action::Conflict, "OrderImmutable"));
    assert!(
        changed.message.contains("order o1 was executed: spec.orders[o1] product \"P\" cannot become \"Other\""),
        "{}",
        changed.message
    );
}

#[test]
fn prune_archives_a_record_and_says_the_external_system_is_left() {
    let o = prune_outcome(Some(&record()), now());
    assert_eq!((o.action, o.id.as_deref()), (Action::Archived, Some("psync-1")));
    assert!(o.message.contains("external system is left as it is"), "{}", o.message);
    let nothing = prune_outcome(None, now());
    assert_eq!((nothing.action, nothing.id), (Action::Archived, None));
    assert_eq!(nothing.requeue_at, None);
}

#[test]
fn a_record_is_continued_taken_over_revived_or_made_anew() {
    use super::preview::{Claim, claim};
    let me = Owner { cluster: "c1".into(), namespace: "team-a".into(), name: "sync".into(), uid: "u1".into() };
    let live = || Some(record());
    let archived = || Some(ProvisioningSync { archived_at: Some(now()), ..record() });
    assert_eq!(claim(live(), live(), None, false, None, &me, false), (Claim::Own, live()), "its own record");
    assert_eq!(
        claim(None, live(), None, false, None, &me, false),
        (Claim::ReAdopt, live()),
        "re-created, record still live"
    );
    assert_eq!(claim(None, None, live(), true, None, &me, false), (Claim::Revive, live()), "released, adopt asked");
    assert_eq!(claim(None, None, live(), false, None, &me, false), (Claim::Create, None), "released, not asked");
    assert_eq!(claim(None, None, None, true, None, &me, false), (Claim::Create, None), "nothing to adopt");
    // Archived by an older version that kept the owner: revived when asked, else let go.
    assert_eq!(claim(archived(), None, None, true, None, &me, false), (Claim::Revive, archived()));
    assert_eq!(
        claim(archived(), None, None, false, None, &me, false),
        (Claim::ReleaseStale { id: "psync-1".into() }, None)
    );
    assert_eq!(claim(None, archived(), None, true, None, &me, false), (Claim::Revive, archived()));
    assert_eq!(
        claim(None, archived(), None, false, None, &me, false),
        (Claim::ReleaseStale { id: "psync-1".into() }, None)
    );
    // external-id: the named record, unless the object already has its own; a missing one is said.
    let named = |row| Some(("psync-1".to_owned(), row));
    // An unowned record only when the platform offered it to this namespace.
    assert_eq!(claim(None, None, None, false, named(live()), &me, true), (Claim::Import, live()));
    assert_eq!(
        claim(live(), None, None, false, named(archived()), &me, false),
        (Claim::Own, live()),
        "imported before"
    );
    assert_eq!(
        claim(None, None, None, false, named(None), &me, false),
        (Claim::ImportMissing { id: "psync-1".into() }, None)
    );
}

#[test]
fn an_import_takes_only_what_this_namespace_released_or_was_offered() {
    use super::preview::{Claim, ImportRefusal, claim};
    let me = Owner { cluster: "c1".into(), namespace: "team-a".into(), name: "sync".into(), uid: "u1".into() };
    let owned = |cluster: &str, namespace: &str, name: &str, uid: Option<&str>| ProvisioningSync {
        owner: Some(StoredOwner {
            cluster: cluster.into(),
            namespace: namespace.into(),
            name: name.into(),
            uid: uid.map(str::to_owned),
        }),
        ..record()
    };
    let import = |row: ProvisioningSync, offered: bool| {
        claim(None, None, None, false, Some(("psync-1".to_owned(), Some(row))), &me, offered)
    };
    let refused = |why| (Claim::ImportRefused { id: "psync-1".into(), why }, None);
    // Another tenant's live record: never released by someone else, offered or not.
    let theirs = owned("c1", "team-b", "their-sync", Some("u9"));
    let owner = theirs.owner.clone().expect("owner");
    assert_eq!(import(theirs.clone(), false), refused(ImportRefusal::OwnedElsewhere { owner: owner.clone() }));
    assert_eq!(import(theirs, true), refused(ImportRefusal::OwnedElsewhere { owner }));
    // This object re-created (same name, new UID): taken back.
    let mine_before = owned("c1", "team-a", "sync", Some("u0"));
    assert_eq!(import(mine_before.clone(), false), (Claim::Import, Some(mine_before)));
    // Released by any object of this namespace and cluster: taken.
    let released_here = owned("c1", "team-a", "old-sync", None);
    assert_eq!(import(released_here.clone(), false), (Claim::Import, Some(released_here)));
    // Released by another namespace, or another cluster's same namespace: only with an offer.
    for elsewhere in [owned("c1", "team-b", "old", None), owned("c2", "team-a", "old", None)] {
        let previous = elsewhere.owner.clone();
        assert_eq!(
            import(elsewhere.clone(), false),
            refused(ImportRefusal::NotOffered { previous, namespace: "team-a".into() })
        );
        assert_eq!(import(elsewhere.clone(), true), (Claim::Import, Some(elsewhere)));
    }
    // A platform row nobody manages: only with an offer.
    assert_eq!(
        import(record(), false),
        refused(ImportRefusal::NotOffered { previous: None, namespace: "team-a".into() })
    );
}

#[test]
fn a_record_of_another_account_is_not_continued() {
    let other = ProvisioningSync { account_id: "acct-other".into(), ..record() };
    let observed = ObservedSync {
        account: Some(account(LifecycleState::Active)),
        row: Some(other),
        claim: super::preview::Claim::Own,
        assets: vec![asset("o1", "P")],
    };
    let o = preview(&spec(&[("o1", "P")]), &observed, RESYNC, now());
    assert_eq!((o.action, o.id), (Action::Created, None), "a new record");
    assert_eq!(o.changes.len(), 1, "its orders run anew");
}

#[test]
fn an_observe_only_plan_creates_nothing_and_runs_no_order() {
    use super::preview::preview_observe_only;
    let without = ObservedSync { account: Some(account(LifecycleState::Active)), ..ObservedSync::default() };
    let o = preview_observe_only(&spec(&[("o1", "P")]), &without, RESYNC, now());
    assert_eq!((o.action, o.reason), (Action::NotFound, "NotFound"));
    assert!(o.message.contains("remove accountops.dev/observe-only to create one"), "{}", o.message);
    let with = ObservedSync {
        account: Some(account(LifecycleState::Active)),
        row: Some(record()),
        claim: super::preview::Claim::Own,
        assets: Vec::new(),
    };
    let o = preview_observe_only(&spec(&[("o1", "P")]), &with, RESYNC, now());
    assert_eq!((o.action, o.changes.len()), (Action::Unchanged, 0), "no order runs");
    assert_eq!(o.provisioning.as_deref().map(|f| f.orders_pending.clone()), Some(vec!["o1".to_owned()]));
}

#[test]
fn an_import_of_a_record_that_does_not_exist_plans_nothing() {
    let observed = ObservedSync {
        account: Some(account(LifecycleState::Active)),
        claim: super::preview::Claim::ImportMissing { id: "psync-9".into() },
        ..ObservedSync::default()
    };
    let o = preview(&spec(&[("o1", "P")]), &observed, RESYNC, now());
    assert_eq!((o.action, o.reason), (Action::NotFound, "NotFound"));
    assert_eq!(o.message, "no sync record psync-9 to import (accountops.dev/external-id)");
}
