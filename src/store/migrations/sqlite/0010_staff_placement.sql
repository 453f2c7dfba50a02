-- Who placed a membership derived from a tenant link (see the PostgreSQL migration of the
-- same number).
ALTER TABLE memberships ADD COLUMN placed_by TEXT
    CONSTRAINT memberships_placed_by CHECK (placed_by IN ('tenant', 'provider'));
UPDATE memberships SET placed_by = 'tenant' WHERE tenant_link_id IS NOT NULL;
-- The operator's change poll (store::changes) carries staff across namespaces: links that
-- changed bring their provider back, staff a provider placed or removed bring the link back.
CREATE INDEX tenant_links_updated_idx ON tenant_links (updated_at);
CREATE INDEX memberships_provider_placed_idx ON memberships (updated_at) WHERE placed_by = 'provider';
