-- Every invitation of a membership or tenant link, open or not (store::invitations::list_for,
-- read by each reconcile), is found by an index: the open-invitation keys are partial and
-- cannot answer it, so without these the table was scanned once per object.
CREATE INDEX invitations_membership_idx ON invitations (membership_id) WHERE membership_id IS NOT NULL;
CREATE INDEX invitations_tenant_link_idx ON invitations (tenant_link_id) WHERE tenant_link_id IS NOT NULL;
