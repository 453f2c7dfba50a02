//! `hash_keys`: random keys for the keyed hashes accountops shows, created once per database.
//!
//! A ProvisioningSync's `status.credentialsHash` tells that its credentials Secret changed. A
//! plain SHA-256 of the Secret would let anyone who reads the status (every editor of the
//! namespace) confirm a guessed token offline; an HMAC under a key only the database holds
//! does not. Every operator and local-mode run on the database uses the same key, so replicas
//! and clusters agree on the hash.
//!
//! ```text
//! get_or_create(name) ── INSERT … ON CONFLICT (name) DO NOTHING (32 random bytes)
//!                     └─ SELECT key_hex WHERE name  ── two writers racing read the same row
//! ```

use std::fmt;

use jiff::Timestamp;

use super::Conn;
use super::error::{Op, StoreError};
use super::time;

pub const TABLE: &str = "hash_keys";

/// The key of `status.credentialsHash`.
pub const CREDENTIALS_HASH: &str = "credentials_hash";

/// 32 secret bytes; `Debug` never shows them.
#[derive(Clone, PartialEq, Eq)]
pub struct HashKey([u8; 32]);

impl HashKey {
    /// 32 bytes from the operating system's CSPRNG.
    pub fn random() -> Result<HashKey, getrandom::Error> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)?;
        Ok(HashKey(bytes))
    }

    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn from_hex(text: &str) -> Option<HashKey> {
        if text.len() != 64 {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(HashKey(bytes))
    }
}

impl fmt::Debug for HashKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HashKey(redacted)")
    }
}

/// The key `name`, created with random bytes when the database has none yet.
pub async fn get_or_create(conn: &mut Conn, name: &str, now: Timestamp) -> Result<HashKey, StoreError> {
    let op = Op::new(TABLE, name);
    let fresh = HashKey::random().map_err(|e| op.invalid(format!("no random bytes for a new key: {e}")))?;
    sqlx::query("INSERT INTO hash_keys (name, key_hex, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
        .bind(name)
        .bind(fresh.hex())
        .bind(time::encode(now))
        .execute(&mut *conn)
        .await
        .map_err(|e| op.error("insert", e))?;
    let stored: String = sqlx::query_scalar("SELECT key_hex FROM hash_keys WHERE name = $1")
        .bind(name)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| op.error("read", e))?;
    HashKey::from_hex(&stored).ok_or_else(|| StoreError::Decode {
        table: TABLE,
        id: name.to_owned(),
        column: "key_hex",
        reason: "is not 64 hex digits".to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_hex_and_never_print() {
        let key = HashKey::random().expect("random");
        assert_eq!(HashKey::from_hex(&key.hex()), Some(key.clone()));
        assert_eq!(format!("{key:?}"), "HashKey(redacted)");
        assert_eq!(HashKey::from_hex("zz"), None);
        assert_eq!(HashKey::from_hex(&"g".repeat(64)), None);
        assert_ne!(HashKey::random().expect("random"), key, "random");
    }
}
