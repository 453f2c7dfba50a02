-- What the last push of a sync wrote to its external system (JSON, internal to accountops):
-- per user and group our ID, the SCIM ID and the attributes pushed. A difference between the
-- system and this record is drift (someone changed it there); a difference between this record
-- and the platform is our own change. Users leave it only when deprovisioned. NULL: nothing
-- recorded yet (a sync older than this migration, or never pushed).
ALTER TABLE provisioning_syncs ADD COLUMN pushed TEXT;
