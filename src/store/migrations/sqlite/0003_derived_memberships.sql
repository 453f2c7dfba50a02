-- Memberships a TenantLink derives from spec.members: provider staff placed in the tenant
-- organization while the link is active. NULL: not derived (a Membership object's row, or
-- a row the platform made). The link revokes the memberships it derived when it ends.
ALTER TABLE memberships ADD COLUMN tenant_link_id TEXT REFERENCES tenant_links (id);
CREATE INDEX memberships_tenant_link_idx ON memberships (tenant_link_id);
