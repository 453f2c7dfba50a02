//! Small fixtures for the core's tests: specs from YAML, rows built in code.

use jiff::Timestamp;

use crate::api::{AccountSpec, OrganizationSpec, Reason};
use crate::core::outcome::{Action, Kind, Outcome};
use crate::store::accounts::{Account, AccountDetails, LifecycleState};
use crate::store::groups::Group;
use crate::store::invitations::{Invitation, Subject};
use crate::store::organizations::Organization;
use crate::store::roles::Role;
use crate::store::{Owner, Store, StoredOwner};

pub const CLUSTER: &str = "test-cluster";
pub const NAMESPACE: &str = "billing";
pub const UID: &str = "uid-1";

pub fn at(text: &str) -> Timestamp {
    text.parse().expect("a timestamp")
}

pub fn now() -> Timestamp {
    at("2025-03-01T09:30:00Z")
}

/// An Account outcome (`acct-1`) of `action` for `reason`, with no changes and no kind facts.
pub fn outcome(action: Action, reason: Reason) -> Outcome {
    Outcome {
        kind: Kind::Account,
        action,
        id: Some("acct-1".to_owned()),
        account_id: Some("acct-1".to_owned()),
        changes: vec![],
        children: None,
        reason,
        message: format!("{reason} message"),
        requeue_at: None,
        facts: crate::core::facts::KindFacts::None,
    }
}

/// The object `billing/<name>` with `uid`.
pub fn owner(name: &str, uid: &str) -> Owner {
    Owner { cluster: CLUSTER.to_owned(), namespace: NAMESPACE.to_owned(), name: name.to_owned(), uid: uid.to_owned() }
}

/// `owner`'s columns as stored, live or released.
pub fn stored(owner: &Owner, live: bool) -> StoredOwner {
    StoredOwner {
        cluster: owner.cluster.clone(),
        namespace: owner.namespace.clone(),
        name: owner.name.clone(),
        uid: live.then(|| owner.uid.clone()),
    }
}

/// Another live object: `sales/globex`.
pub fn elsewhere() -> StoredOwner {
    StoredOwner {
        cluster: CLUSTER.to_owned(),
        namespace: "sales".to_owned(),
        name: "globex".to_owned(),
        uid: Some("uid-globex".to_owned()),
    }
}

pub const ACCOUNT_YAML: &str = r#"
legalName: Acme Sp. z o.o.
billingAddress:
  street: ["ul. Prosta 1", "lok. 4"]
  city: Warszawa
  postalCode: 00-838
  region: mazowieckie
  country: PL
taxId: PL5260250274
billingEmail: billing@acme.example
currency: PLN
invoiceLanguage: pl
"#;

pub fn account_spec(yaml: &str) -> AccountSpec {
    serde_yaml::from_str(yaml).expect("a valid Account spec")
}

pub fn account_row(id: &str, details: AccountDetails, owner: Option<StoredOwner>, state: LifecycleState) -> Account {
    Account {
        id: id.to_owned(),
        details,
        state,
        archived_at: (state == LifecycleState::Archived).then(|| at("2025-02-01T00:00:00Z")),
        owner,
        created_at: at("2025-01-01T00:00:00Z"),
        updated_at: at("2025-01-01T00:00:00Z"),
    }
}

pub const ORGANIZATION_YAML: &str = r#"
accountRef: {name: acme}
displayName: Acme Engineering
roles:
  - name: Admin
    permissions: [org.admin, billing.read]
  - name: Engineer
    permissions: [tickets.write]
groups:
  - name: oncall
    description: Paged at night
  - name: staff
"#;

pub fn organization_spec(yaml: &str) -> OrganizationSpec {
    serde_yaml::from_str(yaml).expect("a valid Organization spec")
}

pub fn organization_row(
    id: &str,
    account_id: &str,
    name: &str,
    owner: Option<StoredOwner>,
    state: LifecycleState,
) -> Organization {
    Organization {
        id: id.to_owned(),
        account_id: account_id.to_owned(),
        name: name.to_owned(),
        service_provider: false,
        state,
        archived_at: (state == LifecycleState::Archived).then(|| at("2025-02-01T00:00:00Z")),
        owner,
        created_at: at("2025-01-01T00:00:00Z"),
        updated_at: at("2025-01-01T00:00:00Z"),
    }
}

pub fn role(org: &str, name: &str, permissions: &[&str]) -> Role {
    Role {
        id: format!("role-{name}"),
        organization_id: org.to_owned(),
        name: name.to_owned(),
        permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
        archived_at: None,
        created_at: at("2025-01-01T00:00:00Z"),
        updated_at: at("2025-01-01T00:00:00Z"),
    }
}

pub fn group(org: &str, name: &str, description: Option<&str>) -> Group {
    Group {
        id: format!("grp-{name}"),
        organization_id: org.to_owned(),
        name: name.to_owned(),
        description: description.map(str::to_owned),
        archived_at: None,
        created_at: at("2025-01-01T00:00:00Z"),
        updated_at: at("2025-01-01T00:00:00Z"),
    }
}

/// A migrated private in-memory SQLite database.
pub async fn memory_store() -> Store {
    let store = Store::connect("sqlite::memory:").await.expect("in-memory SQLite opens");
    store.migrate().await.expect("migrations apply");
    store
}

/// An unanswered invitation of `subject`, issued 2025-03-01 for the re-send `nonce`.
pub fn invitation_row(id: &str, subject: Subject, expires_at: Timestamp, nonce: Option<&str>) -> Invitation {
    Invitation {
        id: id.into(),
        subject,
        email: "Anna.Nowak@Acme.example".into(),
        token_hash: "0".repeat(64),
        locale: "pl".into(),
        expires_at,
        resend_nonce: nonce.map(str::to_owned),
        send_attempts: 0,
        sent_at: None,
        message_id: None,
        accepted_at: None,
        revoked_at: None,
        created_at: at("2025-03-01T00:00:00Z"),
        updated_at: at("2025-03-01T00:00:00Z"),
    }
}
