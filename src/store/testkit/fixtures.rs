//! Small builders for conformance checks: valid rows, fixed times, fake hashes.

use jiff::{SignedDuration, Timestamp};

use crate::store::accounts::{self, Account, AccountDetails, BillingAddress, NewAccount};
use crate::store::memberships::{MembershipSettings, NotificationLevel};
use crate::store::organizations::{self, NewOrganization, Organization};
use crate::store::users::{self, NewUser, User};
use crate::store::{Conn, Owner, Store, StoreError};

/// 2025-01-01T00:00:00Z plus `seconds` (and a few microseconds, so precision is tested).
pub fn at(seconds: i64) -> Timestamp {
    let base: Timestamp = "2025-01-01T00:00:00.000123Z".parse().expect("fixed timestamp parses");
    base + SignedDuration::from_secs(seconds)
}

/// A fresh 64-character lower-case hex string, shaped like a SHA-256.
pub fn hash() -> String {
    format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

pub fn owner(name: &str, uid: &str) -> Owner {
    Owner {
        cluster: "test-cluster".to_owned(),
        namespace: "team-a".to_owned(),
        name: name.to_owned(),
        uid: uid.to_owned(),
    }
}

pub fn account_details(legal_name: &str) -> AccountDetails {
    AccountDetails {
        legal_name: legal_name.to_owned(),
        billing_address: BillingAddress {
            street: vec!["ul. Prosta 1".to_owned(), "lok. 4".to_owned()],
            city: "Warszawa".to_owned(),
            postal_code: "00-001".to_owned(),
            region: Some("mazowieckie".to_owned()),
            country: "PL".to_owned(),
        },
        tax_id: Some("PL5260001246".to_owned()),
        billing_email: "billing@acme.example".to_owned(),
        currency: "PLN".to_owned(),
        invoice_language: "pl".to_owned(),
    }
}

pub async fn account(conn: &mut Conn, owner: Option<Owner>) -> Account {
    let new = NewAccount { details: account_details("Acme sp. z o.o."), owner };
    accounts::insert(conn, &new, at(0)).await.expect("insert account")
}

pub async fn organization(conn: &mut Conn, account_id: &str, name: &str) -> Organization {
    let new = NewOrganization {
        account_id: account_id.to_owned(),
        name: name.to_owned(),
        service_provider: false,
        owner: None,
    };
    organizations::insert(conn, &new, at(1)).await.expect("insert organization")
}

pub async fn user(conn: &mut Conn, email: &str) -> User {
    let new = NewUser {
        email: email.to_owned(),
        display_name: Some("Ann Example".to_owned()),
        phone: Some("+48 600 100 200".to_owned()),
        has_login: true,
    };
    users::insert(conn, &new, at(2)).await.expect("insert user")
}

pub fn settings(roles: &[&str]) -> MembershipSettings {
    MembershipSettings {
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        groups: vec!["Helpdesk".to_owned()],
        notifications: vec![NotificationLevel::Billing, NotificationLevel::Security],
        login: true,
    }
}

/// A pooled connection (each statement commits on its own).
pub async fn conn(store: &Store) -> sqlx::pool::PoolConnection<sqlx::Any> {
    store.acquire().await.expect("acquire a connection")
}

/// The error of a result that must have failed.
#[track_caller]
pub fn fails<T: std::fmt::Debug>(result: Result<T, StoreError>) -> StoreError {
    match result {
        Ok(v) => panic!("expected a store error, got Ok({v:?})"),
        Err(e) => e,
    }
}

/// Assert a unique violation on `table`'s `key` with `value`, and that the message says so.
#[track_caller]
pub fn assert_unique(err: &StoreError, table: &str, key: &str, value: &str) {
    match err {
        StoreError::UniqueViolation { table: t, key: k, value: v, id } => {
            assert_eq!((*t, k.as_str(), v.as_str()), (table, key, value), "{err}");
            let msg = err.to_string();
            assert!(msg.contains(table) && msg.contains(key) && msg.contains(id.as_str()), "{msg}");
            assert_eq!(err.category(), "unique_violation");
        }
        other => panic!("expected a unique violation on {table}.{key}, got {other:?}"),
    }
}

/// Assert a CHECK violation of `constraint` on `table`.
#[track_caller]
pub fn assert_check(err: &StoreError, table: &str, constraint: &str) {
    match err {
        StoreError::Check { table: t, constraint: c, .. } => {
            assert_eq!((*t, c.as_str()), (table, constraint), "{err}");
            assert!(err.to_string().contains(constraint), "{err}");
            assert_eq!(err.category(), "check_violation");
        }
        other => panic!("expected CHECK {constraint} on {table}, got {other:?}"),
    }
}

/// Assert a foreign-key violation on `table` whose message names `column` and `value`.
#[track_caller]
pub fn assert_foreign_key(err: &StoreError, table: &str, column: &str, value: &str) {
    match err {
        StoreError::ForeignKey { table: t, .. } => {
            assert_eq!(*t, table, "{err}");
            let msg = err.to_string();
            assert!(msg.contains(column) && msg.contains(value), "{msg}");
            assert_eq!(err.category(), "foreign_key");
        }
        other => panic!("expected a foreign-key violation on {table}, got {other:?}"),
    }
}

/// Assert [`StoreError::NotFound`] for `table` and `id`.
#[track_caller]
pub fn assert_not_found(err: &StoreError, table: &str, id: &str) {
    match err {
        StoreError::NotFound { table: t, id: i } => {
            assert_eq!((*t, i.as_str()), (table, id), "{err}");
        }
        other => panic!("expected {table} {id} not found, got {other:?}"),
    }
}
