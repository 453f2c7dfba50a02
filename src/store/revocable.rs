//! Phase changes of the tables whose rows are revoked rather than deleted (memberships and
//! tenant links): both keep `phase`, `revoked_at` and `updated_at` the same way, so the two
//! statements are written once here and generated into each table module.

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

        $(#[$revoke_doc])*
        pub async fn revoke(
            conn: &mut $crate::store::Conn,
            id: &str,
            now: jiff::Timestamp,
        ) -> Result<$row, $crate::store::error::StoreError> {
            let op = $crate::store::error::Op::new(TABLE, id);
            let query = sqlx::query(concat!(
                "UPDATE ", $table, " SET phase = 'revoked', revoked_at = COALESCE(revoked_at, $2), \
                 updated_at = CASE WHEN revoked_at IS NULL THEN $2 ELSE updated_at END \
                 WHERE id = $1 RETURNING ",
                columns!()
            ))
            .bind(id)
            .bind($crate::store::time::encode(now));
            $crate::store::fetch::existing(conn, query, &op, "revoke", decode).await
        }
    };
}
pub(super) use revocable;
