//! Revocations written once and generated into each table module: the phase changes of the
//! tables whose rows are revoked rather than deleted (memberships and tenant links keep
//! `phase`, `revoked_at` and `updated_at` the same way), and the revocation of a single-use
//! secret that was not used yet (invitations, provider codes).

/// `set_phase` and `revoke` for a table module with `TABLE`, `columns!()`, `decode` and `get`
/// whose phase enum has a `Revoked` variant. `also` is extra `SET` text for `set_phase` (empty,
/// or ending in `", "`); `$3` in it is the time of the change.
macro_rules! revocable {
    (
        table: $table:literal, row: $row:ty, phase: $phase:ident, also: $also:literal,
        $(#[$set_doc:meta])* set_phase;
        $(#[$revoke_doc:meta])* revoke;
    ) => {
        $(#[$set_doc])*
        pub async fn set_phase(
            conn: &mut $crate::store::Conn,
            id: &str,
            phase: $phase,
            now: jiff::Timestamp,
        ) -> Result<$row, $crate::store::error::StoreError> {
            if phase == $phase::Revoked {
                return revoke(conn, id, now).await;
            }
            let op = $crate::store::error::Op::new(TABLE, id);
            let query = sqlx::query(concat!(
                "UPDATE ", $table, " SET phase = $2, ", $also,
                "updated_at = CASE WHEN phase = $2 THEN updated_at ELSE $3 END \
                 WHERE id = $1 AND revoked_at IS NULL RETURNING ",
                columns!()
            ))
            .bind(id)
            .bind(phase.as_str())
            .bind($crate::store::time::encode(now));
            match $crate::store::fetch::optional(conn, query, &op, "set phase of", decode).await? {
                Some(row) => Ok(row),
                None => {
                    // No live row: a missing one is NotFound, a revoked one cannot move.
                    get(conn, id).await?;
                    Err(op.invalid(format!("is revoked; it cannot become {phase}")))
                }
            }
        }

        $crate::store::fetch::update_at!(
            $(#[$revoke_doc])*
            revoke -> $row,
            "revoke",
            concat!(
                "UPDATE ", $table, " SET phase = 'revoked', revoked_at = COALESCE(revoked_at, $2), \
                 updated_at = CASE WHEN revoked_at IS NULL THEN $2 ELSE updated_at END \
                 WHERE id = $1 RETURNING ",
                columns!()
            )
        );
    };
}
pub(super) use revocable;

/// `revoke` for the table module of a single-use secret with `TABLE`, `columns!()` and
/// `decode`: sets `revoked_at` unless the row is revoked already or its `used` column is set,
/// and returns the row either way. Idempotent.
macro_rules! single_use {
    (table: $table:literal, row: $row:ty, used: $used:literal, $(#[$revoke_doc:meta])* revoke;) => {
        $crate::store::fetch::update_at!(
            $(#[$revoke_doc])*
            revoke -> $row,
            "revoke",
            concat!(
                "UPDATE ", $table, " SET \
                 revoked_at = CASE WHEN revoked_at IS NULL AND ", $used, " IS NULL THEN $2 ELSE revoked_at END, \
                 updated_at = CASE WHEN revoked_at IS NULL AND ", $used, " IS NULL THEN $2 ELSE updated_at END \
                 WHERE id = $1 RETURNING ",
                columns!()
            )
        );
    };
}
pub(super) use single_use;
