-- Keys of the keyed hashes accountops shows (ProvisioningSync status.credentialsHash is an
-- HMAC-SHA256 of the credentials Secret's content under the key `credentials_hash`), so a
-- hash in a status cannot confirm a guessed token. 32 random bytes as lower-case hex, created
-- once by the first writer that needs the key and shared by every operator and local-mode run
-- on this database. Never shown; deleting a row makes the next writer create a new key (every
-- such hash in status then changes once).
CREATE TABLE hash_keys (
    name TEXT PRIMARY KEY,
    key_hex TEXT NOT NULL,
    created_at TEXT NOT NULL,
    CONSTRAINT hash_keys_key_hex_256 CHECK (length(key_hex) = 64 AND NOT key_hex GLOB '*[^0-9a-f]*'),
    CONSTRAINT hash_keys_created_at_utc CHECK (created_at GLOB '????-??-??T??:??:??.??????Z')
);
