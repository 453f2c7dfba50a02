-- The operator polls every few seconds for invitations, and invitation mails, changed since
-- its last look (store::changes; issue 15). These indexes make each poll cost what changed
-- rather than the size of the tables.
CREATE INDEX invitations_updated_idx ON invitations (updated_at);
CREATE INDEX mail_outbox_related_updated_idx ON mail_outbox (related_table, updated_at);
