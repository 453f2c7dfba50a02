-- The welcome mail's activation code is single use and expires (see the PostgreSQL
-- migration of the same number).
ALTER TABLE assets ADD COLUMN activation_expires_at TEXT
    CONSTRAINT assets_activation_expires_at_utc CHECK (activation_expires_at GLOB '????-??-??T??:??:??.??????Z');
ALTER TABLE assets ADD COLUMN activated_at TEXT
    CONSTRAINT assets_activated_at_utc CHECK (activated_at GLOB '????-??-??T??:??:??.??????Z');
-- For the redeem lookup (a 256-bit random code needs no uniqueness check).
CREATE INDEX assets_activation_code_hash ON assets (activation_code_hash) WHERE activation_code_hash IS NOT NULL;
-- The operator's change poll looks for assets activated since its last look (store::changes).
CREATE INDEX assets_activated_idx ON assets (activated_at);
