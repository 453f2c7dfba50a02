//! Checks of the fence: a replica that may not write commits nothing.

use std::time::{Duration, Instant};

use super::fixtures::*;
use crate::store::{Fence, Fenced, Store, StoreError, accounts};

/// Through a closed fence a transaction's writes roll back, with a transient, typed error;
/// through an open one they commit; a deadline that passed closes it again.
pub async fn fenced_commits_write_nothing(store: &Store) {
    let fence = Fence::leased();
    let fenced = store.clone().with_fence(fence.clone());
    let attempt = |label: &'static str| {
        let fenced = fenced.clone();
        async move {
            let mut tx = fenced.begin().await.expect("begin");
            let row = account(&mut tx, None).await;
            let result = crate::core::db::commit(&fenced, tx).await;
            let mut c = conn(&fenced).await;
            let kept = accounts::find(&mut c, &row.id).await.expect("find").is_some();
            (label, result, kept)
        }
    };
    let (_, result, kept) = attempt("not leading").await;
    let err = result.expect_err("no lease, no commit");
    assert!(matches!(err, StoreError::Fenced(Fenced::NotLeading)), "{err:?}");
    assert!(err.is_transient() && err.category() == "fenced", "{err:?}");
    assert!(!kept, "nothing written");

    fence.extend_to(Instant::now() + Duration::from_secs(60));
    let (_, result, kept) = attempt("leading").await;
    assert!(result.is_ok() && kept, "{result:?}");
    assert!(store.check_fence().is_ok(), "the store it was cloned from has its own (open) fence");

    fence.extend_to(Instant::now().checked_sub(Duration::from_millis(10)).expect("instant"));
    let (_, result, kept) = attempt("lease may have expired").await;
    let err = result.expect_err("past the deadline");
    assert!(matches!(err, StoreError::Fenced(Fenced::LeaseExpired(_))), "{err:?}");
    assert!(err.to_string().contains("may have expired"), "{err}");
    assert!(!kept);
}
