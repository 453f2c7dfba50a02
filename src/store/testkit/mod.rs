//! Store conformance checks, run on SQLite (unit tests) and PostgreSQL (`tests/it/store_pg.rs`).
//!
//! Each check is `async fn(&Store)` on a freshly migrated, empty database and panics on a
//! failed assertion. [`store_conformance_tests!`](crate::store_conformance_tests) turns the
//! list into one `#[tokio::test]` per check for a given database opener, so both backends
//! run exactly the same behaviour and no test is written twice.
//!
//! Public only so the integration-test crate can reach it; not part of the API.

mod catalog;
mod changes;
mod fencing;
pub mod fixtures;
mod links;
mod mail;
mod owners;
mod people;
mod plumbing;

pub use catalog::*;
pub use changes::*;
pub use fencing::*;
pub use links::*;
pub use mail::*;
pub use owners::*;
pub use people::*;
pub use plumbing::*;

use super::Store;

/// A database a conformance test runs on; dropping it cleans up.
pub trait TestDatabase {
    fn store(&self) -> &Store;
}

/// Expand to one `#[tokio::test]` per conformance check. `$open` is an async function
/// returning `Option<impl TestDatabase>` (a fresh, migrated database, or `None` to skip).
#[doc(hidden)]
#[macro_export]
macro_rules! store_conformance_tests {
    ($open:path) => {
        $crate::store_conformance_tests!(@each $open;
            migrate_twice,
            placeholders_bind_by_number,
            timestamps_round_trip,
            transaction_commits_or_rolls_back_together,
            fenced_commits_write_nothing,
            accounts_crud,
            accounts_constraints,
            organizations_crud,
            roles_crud_and_unique_names,
            groups_crud_and_unique_names,
            users_crud,
            users_unique_email_ignoring_case,
            memberships_crud,
            memberships_unique_per_user_and_scope,
            memberships_owned_by_a_cluster_with_their_rows,
            invitations_lifecycle,
            invitations_constraints,
            tenant_links_crud,
            tenant_links_constraints,
            provider_codes_redeem_once,
            provisioning_syncs_crud,
            assets_once_per_order,
            tenants_of_a_provider,
            outbox_delivery_flow,
            outbox_claims_are_exclusive_until_the_lease_runs_out,
            outbox_claims_keep_to_their_origin,
            outbox_claims_share_the_relay_between_namespaces,
            outbox_concurrent_claims_never_overlap,
            changes_report_owners_of_changed_invitations,
            changes_report_owners_of_syncs_with_activated_assets,
            ownership_readoption,
            ownership_never_taken_silently,
            ownership_one_live_owner,
            missing_rows_are_not_found,
            foreign_keys_are_typed,
            hash_keys_are_created_once,
        );
    };
    (@each $open:path; $($check:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $check() {
                let Some(db) = $open().await else { return };
                $crate::store::testkit::$check(
                    $crate::store::testkit::TestDatabase::store(&db),
                )
                .await;
            }
        )+
    };
}
