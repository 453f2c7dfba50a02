-- Who placed a membership derived from a tenant link (tenant_link_id set): 'tenant' (the
-- TenantLink's spec.members, declared in the tenant's namespace) or 'provider' (the provider
-- Organization's spec.serviceProvider.staff, declared in the provider's namespace). NULL: not
-- derived. Each side adds, re-roles and revokes only its own rows; deleting the link revokes both.
ALTER TABLE memberships ADD COLUMN placed_by TEXT
    CONSTRAINT memberships_placed_by CHECK (placed_by IN ('tenant', 'provider'));
UPDATE memberships SET placed_by = 'tenant' WHERE tenant_link_id IS NOT NULL;
-- The operator's change poll (store::changes) carries staff across namespaces: links that
-- changed bring their provider back, staff a provider placed or removed bring the link back.
CREATE INDEX tenant_links_updated_idx ON tenant_links (updated_at);
CREATE INDEX memberships_provider_placed_idx ON memberships (updated_at) WHERE placed_by = 'provider';
