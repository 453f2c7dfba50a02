//! The sync's pure plan: which record it continues (the ownership routing every kind uses),
//! what it asks of the external system, which orders run; and the facts `plan` reports
//! without contacting the system. No server.

use crate::api::Reason;
use std::collections::BTreeSet;
use std::time::Duration;

use super::deletion::prune_outcome;
use super::external::Answer;
use super::facts::facts;
use super::observe::{Focus, ObservedSync};
use super::plan::{DesiredGroup, DesiredUser, Directory, OrderStep, Push, SyncPlan, plan};
use super::plan_tests::{asset, order};
use super::pushed::PushRecord;
use super::record::{ImportRefusal, Record, SyncHold, record};
use super::write::Written;
use super::{DesiredSync, SyncFacts};
use crate::api::DeletionPolicy;
use crate::api::provisioning_sync::{ProvisioningSyncSpec, SyncStatus};
use crate::core::Action;
use crate::core::fixtures::{ACCOUNT_YAML, account_row, account_spec, now};
use crate::core::flags::Flags;
use crate::scim::{Credentials, ScimError};
use crate::store::accounts::LifecycleState;
use crate::store::assets::Asset;
use crate::store::syncs::{ProvisioningSync, SyncStatus as RowStatus};
use crate::store::{Owner, StoredOwner};

const RESYNC: Duration = Duration::from_secs(600);
const URL: &str = "https://scim.example/v2";

fn spec(orders: &[(&str, &str)]) -> ProvisioningSyncSpec {
    let mut spec: ProvisioningSyncSpec = serde_yaml::from_str(
        "accountRef: {name: acme}\nendpoint: {url: 'https://scim.example/v2', auth: Bearer, \
         credentialsSecretRef: {name: creds}}\nportalUrl: https://portal.example\n",
    )
    .expect("spec");
    spec.orders = orders.iter().map(|(n, p)| order(n, p)).collect();
    spec
}

fn me() -> Owner {
    Owner { cluster: "c1".into(), namespace: "team-a".into(), name: "sync".into(), uid: "u1".into() }
}

fn desired(orders: &[(&str, &str)]) -> DesiredSync {
    DesiredSync {
        owner: me(),
        spec: spec(orders),
        deleting: false,
        flags: Flags::default(),
        credentials: Credentials::Bearer("t".into()),
        credentials_hash: "h".into(),
        ca_pem: None,
    }
}

fn account(state: LifecycleState) -> crate::store::accounts::Account {
    account_row("acct-1", crate::core::account::details(&account_spec(ACCOUNT_YAML)), None, state)
}

fn owned_by(cluster: &str, namespace: &str, name: &str, uid: Option<&str>) -> Option<StoredOwner> {
    Some(StoredOwner {
        cluster: cluster.into(),
        namespace: namespace.into(),
        name: name.into(),
        uid: uid.map(str::to_owned),
    })
}

/// A live record this object (UID u1) owns.
fn record_row() -> ProvisioningSync {
    ProvisioningSync {
        id: "psync-1".to_owned(),
        account_id: "acct-1".to_owned(),
        endpoint: URL.to_owned(),
        sync_status: RowStatus::Synchronized,
        external_id: Some("scim-g".to_owned()),
        last_sync_time: Some(now()),
        last_error: None,
        archived_at: None,
        pushed: None,
        owner: owned_by("c1", "team-a", "sync", Some("u1")),
        created_at: now(),
        updated_at: now(),
    }
}

fn dir() -> Directory {
    let user = DesiredUser { user_id: "usr-1".into(), email: "a@example.com".into(), display_name: None };
    let members: BTreeSet<String> = ["usr-1".to_owned()].into();
    Directory {
        users: [("usr-1".to_owned(), user)].into(),
        groups: vec![
            DesiredGroup { external_id: "acct-1".into(), display_name: "Acme".into(), members: members.clone() },
            DesiredGroup { external_id: "org-1".into(), display_name: "Eng".into(), members },
        ],
    }
}

fn focus(row: ProvisioningSync, assets: Vec<Asset>) -> Focus {
    Focus { row, assets, before: None, legacy: false, held_elsewhere: BTreeSet::new() }
}

/// The account active, `row` found through the UID or name, its focus read.
fn found(row: Option<ProvisioningSync>) -> ObservedSync {
    ObservedSync {
        account: Some(account(LifecycleState::Active)),
        focus: row.clone().map(|r| focus(r, Vec::new())),
        row,
        directory: Some(dir()),
        ..ObservedSync::default()
    }
}

fn create(release: Option<&str>) -> Record {
    Record::Create { account_id: "acct-1".into(), release: release.map(str::to_owned) }
}

fn continued(take: bool, revive: bool) -> Record {
    Record::Continue { id: "psync-1".into(), take, revive, endpoint: None }
}

#[test]
fn a_record_is_continued_taken_over_revived_or_made_anew() {
    let d = desired(&[]);
    let archived = ProvisioningSync { archived_at: Some(now()), ..record_row() };
    assert_eq!(record(&d, &found(None)), create(None), "nothing yet");
    assert_eq!(record(&d, &found(Some(record_row()))), continued(false, false), "its own record");
    let moved = ProvisioningSync { endpoint: "https://other.example/v2".into(), ..record_row() };
    assert_eq!(
        record(&d, &found(Some(moved))),
        Record::Continue { id: "psync-1".into(), take: false, revive: false, endpoint: Some(URL.into()) },
        "the endpoint follows the spec"
    );
    // Re-created (a restored cluster): same namespace/name, another UID, the record live.
    let restored = ProvisioningSync { owner: owned_by("c1", "team-a", "sync", Some("u0")), ..record_row() };
    assert_eq!(record(&d, &found(Some(restored))), continued(true, false));
    // Archived by an older version that kept the owner: revived when asked, else let go.
    assert_eq!(record(&d, &found(Some(archived.clone()))), create(Some("psync-1")));
    let old_owner = ProvisioningSync { owner: owned_by("c1", "team-a", "sync", Some("u0")), ..archived.clone() };
    assert_eq!(record(&d, &found(Some(old_owner.clone()))), create(Some("psync-1")), "AdoptionRequired");
    let mut adopt = desired(&[]);
    adopt.flags.adopt = true;
    assert_eq!(record(&adopt, &found(Some(archived))), continued(true, true));
    assert_eq!(record(&adopt, &found(Some(old_owner))), continued(true, true));
    // Released by an earlier object of this name (observe reads it only when adopt is asked).
    let released =
        ProvisioningSync { owner: owned_by("c1", "team-a", "sync", None), archived_at: Some(now()), ..record_row() };
    assert_eq!(record(&adopt, &found(Some(released))), continued(true, true));
    // A record of another account (the object named another Account before): a new one.
    let other = ProvisioningSync { account_id: "acct-other".into(), ..record_row() };
    assert_eq!(record(&d, &found(Some(other))), create(Some("psync-1")));
}

#[test]
fn a_sync_waits_for_its_account_to_be_active() {
    for account in [None, Some(account(LifecycleState::Archived))] {
        let observed = ObservedSync { account, row: Some(record_row()), ..ObservedSync::default() };
        let planned = plan(&desired(&[("o1", "P")]), &observed);
        assert_eq!(
            planned,
            SyncPlan { record: Record::Hold(SyncHold::AccountNotReady), push: Push::None, orders: vec![] }
        );
        let o = facts(&desired(&[]), &planned, &observed, None, None).into_outcome(false, RESYNC, now());
        assert_eq!((o.action, o.reason), (Action::Waiting, Reason::AccountNotReady));
        assert_eq!(o.message, "Account acme is not ready");
        assert!(o.changes.is_empty(), "no order runs before the account is synced");
    }
}

/// The record `psync-1` named by external-id, owned by `owner`.
fn import(owner: Option<StoredOwner>, offered: bool) -> Record {
    let mut d = desired(&[]);
    d.flags.external_id = Some("psync-1".into());
    let row = ProvisioningSync { owner, ..record_row() };
    let observed = ObservedSync { external: Some(row), offered, ..found(None) };
    record(&d, &observed)
}

#[test]
fn an_import_takes_only_what_this_namespace_released_or_was_offered() {
    let refused = |why| Record::Hold(SyncHold::Refused { id: "psync-1".into(), why });
    // Another tenant's live record: never released by someone else, offered or not.
    let theirs = owned_by("c1", "team-b", "their-sync", Some("u9"));
    let owner = theirs.clone().expect("owner");
    assert_eq!(import(theirs.clone(), false), refused(ImportRefusal::OwnedElsewhere { owner: owner.clone() }));
    assert_eq!(import(theirs, true), refused(ImportRefusal::OwnedElsewhere { owner }));
    // This object re-created (same name, new UID): taken back.
    assert_eq!(import(owned_by("c1", "team-a", "sync", Some("u0")), false), continued(true, false));
    // Its own: continued.
    assert_eq!(import(owned_by("c1", "team-a", "sync", Some("u1")), false), continued(false, false));
    // Released by any object of this namespace and cluster: taken.
    assert_eq!(import(owned_by("c1", "team-a", "old-sync", None), false), continued(true, false));
    // Released by another namespace, or another cluster's same namespace: only with an offer.
    for elsewhere in [owned_by("c1", "team-b", "old", None), owned_by("c2", "team-a", "old", None)] {
        let why = ImportRefusal::NotOffered { previous: elsewhere.clone(), namespace: "team-a".into() };
        assert_eq!(import(elsewhere.clone(), false), refused(why));
        assert_eq!(import(elsewhere, true), continued(true, false));
    }
    // A platform row nobody manages: only with an offer.
    let why = ImportRefusal::NotOffered { previous: None, namespace: "team-a".into() };
    assert_eq!(import(None, false), refused(why));
}

#[test]
fn an_import_of_another_account_a_missing_record_or_beside_an_own_record_is_refused() {
    let mut d = desired(&[]);
    d.flags.external_id = Some("psync-2".into());
    // Another account's record, released here.
    let other = ProvisioningSync {
        id: "psync-2".into(),
        account_id: "acct-other".into(),
        owner: owned_by("c1", "team-a", "old", None),
        ..record_row()
    };
    let observed = ObservedSync { external: Some(other), ..found(None) };
    let why = ImportRefusal::OtherAccount { account_id: "acct-other".into() };
    assert_eq!(record(&d, &observed), Record::Hold(SyncHold::Refused { id: "psync-2".into(), why }));
    // Naming no record.
    let missing = record(&d, &found(None));
    assert_eq!(missing, Record::Hold(SyncHold::ImportMissing { id: "psync-2".into() }));
    let o = facts(&d, &plan(&d, &found(None)), &found(None), None, None).into_outcome(false, RESYNC, now());
    assert_eq!((o.action, o.reason), (Action::NotFound, Reason::NotFound));
    assert_eq!(o.message, "no sync record psync-2 to import (accountops.dev/external-id)");
    // The object already continues psync-1: the annotation may not name another.
    let why = ImportRefusal::OtherRecord { own: "psync-1".into() };
    let beside = record(&d, &found(Some(record_row())));
    assert_eq!(beside, Record::Hold(SyncHold::Refused { id: "psync-2".into(), why: why.clone() }));
    let planned = plan(&d, &found(Some(record_row())));
    let o = facts(&d, &planned, &found(None), None, None).into_outcome(false, RESYNC, now());
    assert_eq!((o.action, o.reason), (Action::Conflict, Reason::ExternalIdMismatch));
    assert!(o.message.contains("already manages sync record psync-1"), "{}", o.message);
}

#[test]
fn observe_only_never_creates_or_releases_a_record() {
    let mut d = desired(&[]);
    d.flags.observe_only = true;
    let nothing = Record::Hold(SyncHold::NothingToObserve);
    // A live owner's archived record, and a record of another account: nothing to compare.
    let stale = ProvisioningSync {
        owner: owned_by("c1", "team-a", "sync", Some("u0")),
        archived_at: Some(now()),
        ..record_row()
    };
    assert_eq!(record(&d, &found(Some(stale))), nothing);
    let other = ProvisioningSync { account_id: "acct-other".into(), ..record_row() };
    assert_eq!(record(&d, &found(Some(other))), nothing);
}

#[test]
fn an_own_record_of_another_account_named_by_external_id_is_let_go_of() {
    let mut d = desired(&[]);
    d.flags.external_id = Some("psync-1".into());
    let other = ProvisioningSync { account_id: "acct-other".into(), ..record_row() };
    let observed = ObservedSync { external: Some(other.clone()), ..found(Some(other)) };
    assert_eq!(record(&d, &observed), create(Some("psync-1")), "the object named another Account before");
}

#[test]
fn deletion_touches_only_a_record_this_object_owns() {
    let mut d = desired(&[]);
    d.deleting = true;
    let observed = ObservedSync { row: Some(record_row()), ..ObservedSync::default() };
    assert_eq!(record(&d, &observed), Record::Archive { id: "psync-1".into(), synchronized: true });
    let never = ObservedSync { row: Some(ProvisioningSync { external_id: None, ..record_row() }), ..observed.clone() };
    assert_eq!(record(&d, &never), Record::Archive { id: "psync-1".into(), synchronized: false });
    let theirs = ProvisioningSync { owner: owned_by("c1", "team-a", "sync", Some("u0")), ..record_row() };
    let other = ObservedSync { row: Some(theirs), ..ObservedSync::default() };
    assert_eq!(record(&d, &other), Record::Gone { policy: DeletionPolicy::Delete });
    assert_eq!(record(&d, &ObservedSync::default()), Record::Gone { policy: DeletionPolicy::Delete });
    d.spec.deletion_policy = DeletionPolicy::Orphan;
    assert_eq!(record(&d, &observed), Record::Release { id: "psync-1".into() });
    d.spec.deletion_policy = DeletionPolicy::Delete;
    d.flags.observe_only = true;
    assert_eq!(record(&d, &observed), Record::Release { id: "psync-1".into() }, "observe-only leaves all as it is");
    assert_eq!(record(&d, &ObservedSync::default()), Record::Gone { policy: DeletionPolicy::Orphan });
}

#[test]
fn deletion_deprovisions_only_what_a_record_pushed() {
    let mut d = desired(&[]);
    d.deleting = true;
    let pushed = ProvisioningSync { pushed: Some(PushRecord::default().to_json()), ..record_row() };
    let with = |row: ProvisioningSync| ObservedSync {
        focus: Some(Focus { before: PushRecord::parse(row.pushed.as_deref()), ..focus(row.clone(), Vec::new()) }),
        row: Some(row),
        directory: Some(dir()),
        ..ObservedSync::default()
    };
    assert!(matches!(plan(&d, &with(pushed.clone())).push, Push::Deprovision(_)));
    let never = ProvisioningSync { sync_status: RowStatus::Unsynchronized, ..pushed.clone() };
    assert_eq!(plan(&d, &with(never)).push, Push::None, "never pushed");
    let archived = ProvisioningSync { archived_at: Some(now()), ..pushed };
    assert_eq!(plan(&d, &with(archived)).push, Push::None, "archived before");
}

#[test]
fn deletion_waits_only_when_a_synchronized_record_could_not_be_deprovisioned() {
    let mut d = desired(&[]);
    d.deleting = true;
    let plan_of = |synchronized| SyncPlan {
        record: Record::Archive { id: "psync-1".into(), synchronized },
        push: Push::None,
        orders: vec![],
    };
    let down = Answer::Deprovisioned(Err(timeout()));
    let blocked = facts(&d, &plan_of(true), &ObservedSync::default(), Some(&down), Some(Written::default()));
    assert!(!blocked.deletion_finished && blocked.sync_status == SyncStatus::Error, "{blocked:?}");
    assert!(blocked.message.contains("could not be deactivated before deletion"), "{}", blocked.message);
    let best_effort = facts(&d, &plan_of(false), &ObservedSync::default(), Some(&down), Some(Written::default()));
    assert!(best_effort.deletion_finished && best_effort.message.contains("never synchronized"));
    let done = facts(&d, &plan_of(true), &ObservedSync::default(), Some(&Answer::Deprovisioned(Ok(2))), None);
    assert_eq!(done.message, "deleted; 2 synced users deactivated, the sync record is archived");
    d.spec.deletion_policy = DeletionPolicy::Orphan;
    let gone = SyncPlan { record: Record::Gone { policy: DeletionPolicy::Orphan }, push: Push::None, orders: vec![] };
    let o = facts(&d, &gone, &ObservedSync::default(), None, None).into_outcome(true, RESYNC, now());
    assert_eq!((o.action, o.id), (Action::Orphaned, None));
}

#[test]
fn a_new_sync_pushes_the_directory_and_plans_every_order() {
    let d = desired(&[("o1", "P"), ("o2", "Q")]);
    let planned = plan(&d, &found(None));
    assert_eq!(planned.record, create(None));
    let Push::Write(input) = &planned.push else { panic!("{:?}", planned.push) };
    assert_eq!((input.dir.account_id(), input.before.as_ref()), ("acct-1", None));
    assert!(planned.orders.iter().all(|s| matches!(s, OrderStep::Execute(_))) && planned.orders.len() == 2);
}

/// `plan`'s facts: the writes ran in a transaction rolled back, the push was skipped.
fn planned_facts(d: &DesiredSync, observed: &ObservedSync, written: Written) -> SyncFacts {
    facts(d, &plan(d, observed), observed, None, Some(written))
}

#[test]
fn plan_reports_what_would_be_pushed_and_the_orders_apply_runs() {
    let d = desired(&[("o1", "P"), ("o2", "Q")]);
    let executed = vec![asset("o1", "P"), asset("o2", "Q")];
    let written = Written {
        row: Some(record_row()),
        created: true,
        orders_ran: true,
        executed: executed.clone(),
        assets: executed,
    };
    let f = planned_facts(&d, &found(None), written);
    assert_eq!((f.sync_status, f.user_count, f.group_count), (SyncStatus::Synchronized, Some(1), Some(2)));
    assert!(f.message.contains("1 users and 2 groups are pushed to https://scim.example/v2"), "{}", f.message);
    let o = f.into_outcome(false, RESYNC, now());
    assert_eq!(o.action, Action::Created);
    let fields: Vec<&str> = o.changes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields, ["orders[o1]", "orders[o2]"]);
    assert!(o.is_ready());
}

#[test]
fn an_existing_sync_runs_only_new_orders_and_refuses_product_changes() {
    let observed =
        ObservedSync { focus: Some(focus(record_row(), vec![asset("o1", "P")])), ..found(Some(record_row())) };
    let steady =
        Written { row: Some(record_row()), orders_ran: true, assets: vec![asset("o1", "P")], ..Written::default() };
    let same = planned_facts(&desired(&[("o1", "P")]), &observed, steady.clone()).into_outcome(false, RESYNC, now());
    assert_eq!((same.action, same.id.as_deref()), (Action::Unchanged, Some("psync-1")));
    assert_eq!(same.facts.sync().map(|f| f.assets.len()), Some(1), "the existing asset is listed");

    let more = desired(&[("o1", "P"), ("o2", "Q")]);
    let planned = plan(&more, &observed);
    assert_eq!(planned.orders[0], OrderStep::Done { name: "o1".into() });
    assert!(matches!(&planned.orders[1], OrderStep::Execute(o) if o.name == "o2"));

    let changed = desired(&[("o1", "Other")]);
    let o = planned_facts(&changed, &observed, steady).into_outcome(false, RESYNC, now());
    assert_eq!((o.action, o.reason), (Action::Conflict, Reason::OrderImmutable));
    assert!(
        o.message.contains("order o1 was executed: spec.orders[o1] product \"P\" cannot become \"Other\""),
        "{}",
        o.message
    );
}

#[test]
fn a_failed_push_is_an_external_error_and_orders_wait_for_the_first_sync() {
    let d = desired(&[("o1", "P")]);
    let observed = found(None);
    let planned = plan(&d, &observed);
    let answer = Answer::Pushed { record: PushRecord::default(), result: Err(timeout()) };
    let never = ProvisioningSync { external_id: None, ..record_row() };
    let written = Written { row: Some(never), created: true, ..Written::default() };
    let f = facts(&d, &planned, &observed, Some(&answer), Some(written));
    assert!(f.waits_for_external_system(), "{f:?}");
    assert_eq!(f.orders_pending, ["o1"]);
    let o = f.into_outcome(false, RESYNC, now());
    assert_eq!((o.action, o.reason), (Action::ExternalError, Reason::Timeout));
}

#[test]
fn an_observe_only_plan_creates_nothing_and_runs_no_order() {
    let mut d = desired(&[("o1", "P")]);
    d.flags.observe_only = true;
    let none = plan(&d, &found(None));
    assert_eq!((none.record, none.push), (Record::Hold(SyncHold::NothingToObserve), Push::None));
    let o = facts(&d, &plan(&d, &found(None)), &found(None), None, None).into_outcome(false, RESYNC, now());
    assert_eq!((o.action, o.reason), (Action::NotFound, Reason::NotFound));
    assert!(o.message.contains("remove accountops.dev/observe-only to create one"), "{}", o.message);
    let with = found(Some(record_row()));
    let planned = plan(&d, &with);
    assert!(matches!(planned.push, Push::Observe(_)) && planned.orders.is_empty(), "{planned:?}");
    assert_eq!(planned.record, Record::Observe { id: "psync-1".into() });
    let o = facts(&d, &planned, &with, None, None).into_outcome(false, RESYNC, now());
    assert_eq!((o.action, o.changes.len()), (Action::Unchanged, 0), "no order runs");
    assert_eq!(o.facts.sync().map(|f| f.orders_pending.clone()), Some(vec!["o1".to_owned()]));
}

#[test]
fn prune_archives_a_record_and_says_the_external_system_is_left() {
    let o = prune_outcome(Some(&record_row()), now());
    assert_eq!((o.action, o.id.as_deref()), (Action::Archived, Some("psync-1")));
    assert!(o.message.contains("external system is left as it is"), "{}", o.message);
    let nothing = prune_outcome(None, now());
    assert_eq!((nothing.action, nothing.id), (Action::Archived, None));
    assert_eq!(nothing.requeue_at, None);
}

fn timeout() -> ScimError {
    ScimError::Timeout { method: "GET", path: "/Users".into(), after: Duration::from_millis(10) }
}
