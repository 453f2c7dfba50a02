-- The welcome mail's activation code is single use and expires: the portal (or
-- `accountops asset activate CODE`) redeems it with one conditional UPDATE that sets
-- activated_at while the code is unused and unexpired (docs/database.md). Assets executed
-- before this migration have no expiry (activation_expires_at NULL: redeemable once, any time).
ALTER TABLE assets ADD COLUMN activation_expires_at TEXT
    CONSTRAINT assets_activation_expires_at_utc CHECK (activation_expires_at LIKE '____-__-__T__:__:__.______Z');
ALTER TABLE assets ADD COLUMN activated_at TEXT
    CONSTRAINT assets_activated_at_utc CHECK (activated_at LIKE '____-__-__T__:__:__.______Z');
-- For the redeem lookup (a 256-bit random code needs no uniqueness check).
CREATE INDEX assets_activation_code_hash ON assets (activation_code_hash) WHERE activation_code_hash IS NOT NULL;
-- The operator's change poll looks for assets activated since its last look (store::changes).
CREATE INDEX assets_activated_idx ON assets (activated_at);
