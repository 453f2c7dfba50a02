-- An object re-created under a released row's name finds that row by its names
-- (store::ownership::find_released), not by a scan of the table.
CREATE INDEX accounts_released_idx ON accounts (owner_cluster, owner_namespace, owner_name, updated_at) WHERE owner_uid IS NULL;
CREATE INDEX organizations_released_idx ON organizations (owner_cluster, owner_namespace, owner_name, updated_at) WHERE owner_uid IS NULL;
CREATE INDEX memberships_released_idx ON memberships (owner_cluster, owner_namespace, owner_name, updated_at) WHERE owner_uid IS NULL;
CREATE INDEX tenant_links_released_idx ON tenant_links (owner_cluster, owner_namespace, owner_name, updated_at) WHERE owner_uid IS NULL;
CREATE INDEX provisioning_syncs_released_idx ON provisioning_syncs (owner_cluster, owner_namespace, owner_name, updated_at) WHERE owner_uid IS NULL;
