-- The import grant: which namespace of which cluster may take over a platform row it did not
-- release itself with the accountops.dev/external-id annotation. The platform's web app (or
-- an administrator) writes a row here; accountops only reads it. An import may take a row
-- that has no live owner and either was released by an object of the same cluster and
-- namespace, or is offered here to that cluster and namespace. Anything else (web-app rows,
-- rows another namespace or cluster released or archived) is refused as NotOffered and
-- nothing is written. An offer stays until it is deleted; once imported, the row has a live
-- owner and nobody else can take it anyway.
CREATE TABLE import_offers (
    table_name TEXT NOT NULL,
    row_id     TEXT NOT NULL,
    cluster    TEXT NOT NULL,
    namespace  TEXT NOT NULL,
    offered_at TEXT NOT NULL,
    PRIMARY KEY (table_name, row_id, cluster, namespace),
    CONSTRAINT import_offers_table CHECK (table_name IN
        ('accounts', 'organizations', 'memberships', 'tenant_links', 'provisioning_syncs')),
    CONSTRAINT import_offers_offered_at_utc CHECK (offered_at LIKE '____-__-__T__:__:__.______Z')
);
