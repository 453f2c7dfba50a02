-- Who placed a membership derived from a tenant link (see the PostgreSQL migration of the
-- same number).
ALTER TABLE memberships ADD COLUMN placed_by TEXT
    CONSTRAINT memberships_placed_by CHECK (placed_by IN ('tenant', 'provider'));
UPDATE memberships SET placed_by = 'tenant' WHERE tenant_link_id IS NOT NULL;
