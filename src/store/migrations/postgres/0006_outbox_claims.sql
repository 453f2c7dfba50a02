-- Who sends each mail, and for how long (issue 14).
-- origin: the shell that queued the mail, `operator:<cluster id>` or `local:<cluster id>`; only
--   a dispatcher of that origin sends it (NULL: queued before this migration, any operator).
-- namespace: the namespace of the object that queued it, for each namespace's fair share.
-- claimed_by / claimed_until: the sender holding the mail under a lease while it sends it;
--   claimed_by stays as the last sender. A lease that ran out may be claimed again.
-- refusals: attempts the relay refused permanently (5xx); only they count toward the limit.
-- dead_reason: why a dead mail was given up.
ALTER TABLE mail_outbox ADD COLUMN origin TEXT;
ALTER TABLE mail_outbox ADD COLUMN namespace TEXT;
ALTER TABLE mail_outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE mail_outbox ADD COLUMN claimed_until
    TEXT CONSTRAINT mail_outbox_claimed_until_utc CHECK (claimed_until LIKE '____-__-__T__:__:__.______Z');
ALTER TABLE mail_outbox ADD COLUMN refusals
    BIGINT NOT NULL DEFAULT 0 CONSTRAINT mail_outbox_refusals CHECK (refusals >= 0);
ALTER TABLE mail_outbox ADD COLUMN dead_reason
    TEXT CONSTRAINT mail_outbox_dead_reason CHECK (dead_reason IN ('refused', 'expired', 'undeliverable'));
CREATE INDEX mail_outbox_origin_due_idx ON mail_outbox (state, origin, next_attempt_at);
