-- accountops platform database, PostgreSQL flavour.
-- The SQLite flavour (../sqlite/0001_platform.sql) has the same tables, columns, constraint
-- names and indexes; only types differ (BOOLEAN here, INTEGER 0/1 there) and the format
-- checks use LIKE here and GLOB there. docs/database.md documents the contract.
--
-- Timestamps: TEXT, RFC 3339 UTC with six fractional digits ('2025-03-01T09:30:00.000000Z').
-- Lists: TEXT holding a JSON array of strings. IDs: TEXT '<prefix>-<uuid v4>'.

CREATE TABLE accounts (
    id               TEXT PRIMARY KEY,
    legal_name       TEXT NOT NULL,
    street_line1     TEXT NOT NULL,
    street_line2     TEXT,
    street_line3     TEXT,
    city             TEXT NOT NULL,
    postal_code      TEXT NOT NULL,
    region           TEXT,
    country          TEXT NOT NULL,
    tax_id           TEXT,
    billing_email    TEXT NOT NULL,
    currency         TEXT NOT NULL,
    invoice_language TEXT NOT NULL,
    state            TEXT NOT NULL DEFAULT 'active',
    archived_at      TEXT,
    owner_cluster    TEXT,
    owner_namespace  TEXT,
    owner_name       TEXT,
    owner_uid        TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    CONSTRAINT accounts_country_alpha2 CHECK (country ~ '^[A-Z]{2}$'),
    CONSTRAINT accounts_currency_iso4217 CHECK (currency ~ '^[A-Z]{3}$'),
    CONSTRAINT accounts_state CHECK (state IN ('active', 'archived', 'orphaned')),
    CONSTRAINT accounts_archived CHECK ((state = 'archived') = (archived_at IS NOT NULL)),
    CONSTRAINT accounts_owner CHECK ((owner_cluster IS NULL) = (owner_namespace IS NULL)
        AND (owner_cluster IS NULL) = (owner_name IS NULL)
        AND (owner_uid IS NULL OR owner_name IS NOT NULL)),
    CONSTRAINT accounts_archived_at_utc CHECK (archived_at LIKE '____-__-__T__:__:__.______Z'),
    CONSTRAINT accounts_created_at_utc CHECK (created_at LIKE '____-__-__T__:__:__.______Z'),
    CONSTRAINT accounts_updated_at_utc CHECK (updated_at LIKE '____-__-__T__:__:__.______Z')
);
CREATE UNIQUE INDEX accounts_owner_uid_key ON accounts (owner_uid) WHERE owner_uid IS NOT NULL;
CREATE UNIQUE INDEX accounts_owner_key ON accounts (owner_cluster, owner_namespace, owner_name)
    WHERE owner_uid IS NOT NULL;

CREATE TABLE organizations (
    id               TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL REFERENCES accounts (id),
    name             TEXT NOT NULL,
    service_provider BOOLEAN NOT NULL DEFAULT FALSE,
    state            TEXT NOT NULL DEFAULT 'active',
    archived_at      TEXT,
    owner_cluster    TEXT,
    owner_namespace  TEXT,
    owner_name       TEXT,
    owner_uid        TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    CONSTRAINT organizations_state CHECK (state IN ('active', 'archived', 'orphaned')),
    CONSTRAINT organizations_archived CHECK ((state = 'archived') = (archived_at IS NOT NULL)),
    CONSTRAINT organizations_owner CHECK ((owner_cluster IS NULL) = (owner_namespace IS NULL)
        AND (owner_cluster IS NULL) = (owner_name IS NULL)
        AND (owner_uid IS NULL OR owner_name IS NOT NULL)),
    CONSTRAINT organizations_archived_at_utc CHECK (archived_at LIKE '____-__-__T__:__:__.______Z'),
    CONSTRAINT organizations_created_at_utc CHECK (created_at LIKE '____-__-__T__:__:__.______Z'),
    CONSTRAINT organizations_updated_at_utc CHECK (updated_at LIKE '____-__-__T__:__:__.______Z')
);
CREATE INDEX organizations_account_idx ON organizations (account_id);
CREATE UNIQUE INDEX organizations_owner_uid_key ON organizations (owner_uid) WHERE owner_uid IS NOT NULL;
CREATE UNIQUE INDEX organizations_owner_key ON organizations (owner_cluster, owner_namespace, owner_name)
    WHERE owner_uid IS NOT NULL;

CREATE TABLE organization_roles (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    name            TEXT NOT NULL,
    permissions     TEXT NOT NULL DEFAULT '[]',
    archived_at     TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    CONSTRAINT organization_roles_archived_at_utc CHECK (archived_at LIKE '____-__-__T__:__:__.______Z'),
    CONSTRAINT organization_roles_created_at_utc CHECK (created_at LIKE '____-__-__T__:__:__.______Z'),
    CONSTRAINT organization_roles_updated_at_utc CHECK (updated_at LIKE '____-__-__T__:__:__.______Z')
);
CREATE UNIQUE INDEX organization_roles_name_key ON organization_roles (organization_id, name);

CREATE TABLE organization_groups (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    name            TEXT NOT NULL,
    description     TEXT,
    archived_at     TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    CONSTRAINT organization_groups_archived_at_utc CHECK (archived_at LIKE '____-__-__T__:__:__.______Z'),
    CONSTRAINT organization_groups_created_at_utc CHECK (created_at LIKE '____-__-__T__:__:__.______Z'),
    CONSTRAINT organization_groups_updated_at_utc CHECK (updated_at LIKE '____-__-__T__:__:__.______Z')
);
CREATE UNIQUE INDEX organization_groups_name_key ON organization_groups (organization_id, name);

CREATE TABLE users (
    id               TEXT PRIMARY KEY,
    email            TEXT NOT NULL,
    email_normalized TEXT NOT NULL,
    display_name     TEXT,
    phone            TEXT,
    has_login        BOOLEAN NOT NULL DEFAULT FALSE,
    archived_at      TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    CONSTRAINT users_email_normalized_lower CHECK (email_normalized = lower(email_normalized)),
    CONSTRAINT users_archived_at_utc CHECK (archived_at LIKE '____-__-__T__:__:__.______Z'),
    CONSTRAINT users_created_at_utc CHECK (created_at LIKE '____-__-__T__:__:__.______Z'),
    CONSTRAINT users_updated_at_utc CHECK (updated_at LIKE '____-__-__T__:__:__.______Z')
);
CREATE UNIQUE INDEX users_email_key ON users (email_normalized);

CREATE TABLE memberships (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id),
    organization_id TEXT REFERENCES organizations (id),
    account_id      TEXT REFERENCES accounts (id),
    role_names      TEXT NOT NULL DEFAULT '[]',
    group_names     TEXT NOT NULL DEFAULT '[]',
    notifications   TEXT NOT NULL DEFAULT '[]',
    login           BOOLEAN NOT NULL,
    phase           TEXT NOT NULL DEFAULT 'pending',
    revoked_at      TEXT,
    owner_cluster   TEXT,
    owner_namespace TEXT,
    owner_name      TEXT,
    owner_uid       TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    CONSTRAINT memberships_scope CHECK ((organization_id IS NULL) <> (account_id IS NULL)),
    CONSTRAINT memberships_phase CHECK (phase IN ('pending', 'invited', 'active', 'expired', 'failed', 'revoked')),
    CONSTRAINT memberships_revoked CHECK ((phase = 'revoked') = (revoked_at IS NOT NULL)),
    CONSTRAINT memberships_owner CHECK ((owner_cluster IS NULL) = (owner_namespace IS NULL)
        AND (owner_cluster IS NULL) = (owner_name IS NULL)
        AND (owner_uid IS NULL OR owner_name IS NOT NULL)),
    CONSTRAINT memberships_revoked_at_utc CHECK (revoked_at LIKE '____-__-__T__:__:__.______Z'),
    CONSTRAINT memberships_created_at_utc CHECK (created_at LIKE '____-__-__T__:__:__.______Z'),
    CONSTRAINT memberships_updated_at_utc CHECK (updated_at LIKE '____-__-__T__:__:__.______Z')
);
CREATE INDEX memberships_user_idx ON memberships (user_id);
CREATE INDEX memberships_organization_idx ON memberships (organization_id);
CREATE INDEX memberships_account_idx ON memberships (account_id);
CREATE UNIQUE INDEX memberships_user_organization_key ON memberships (user_id, organization_id)
    WHERE revoked_at IS NULL AND organization_id IS NOT NULL;
CREATE UNIQUE INDEX memberships_user_account_key ON memberships (user_id, account_id)
    WHERE revoked_at IS NULL AND account_id IS NOT NULL;
CREATE UNIQUE INDEX memberships_owner_uid_key ON memberships (owner_uid) WHERE owner_uid IS NOT NULL;
CREATE UNIQUE INDEX memberships_owner_key ON memberships (owner_cluster, owner_namespace, owner_name)
    WHERE owner_uid IS NOT NULL;

CREATE TABLE tenant_links (
    id                       TEXT PRIMARY KEY,
    provider_organization_id TEXT NOT NULL REFERENCES organizations (id),
    tenant_organization_id   TEXT NOT NULL REFERENCES organizations (id),
    mode                     TEXT NOT NULL,
    partner_role             TEXT,
    admin_email              TEXT,
    granted_roles            TEXT NOT NULL DEFAULT '[]',
    sharing_scope            TEXT NOT NULL DEFAULT '[]',
    phase                    TEXT NOT NULL DEFAULT 'pending',
    accepted_at              TEXT,
    revoked_at               TEXT,
    owner_cluster            TEXT,
    owner_namespace          TEXT,
    owner_name               TEXT,
    owner_uid                TEXT,
    created_at               TEXT NOT NULL,
    updated_at               TEXT NOT NULL,
    CONSTRAINT tenant_links_distinct CHECK (provider_organization_id <> tenant_organization_id),
    CONSTRAINT tenant_links_mode CHECK (mode IN ('provider_code', 'partner_invitation')),
    CONSTRAINT tenant_links_partner_role CHECK (partner_role IN ('partner', 'customer', 'service_provider')),
    CONSTRAINT tenant_links_partner CHECK (mode <> 'partner_invitation'
        OR (partner_role IS NOT NULL AND admin_email IS NOT NULL)),
    CONSTRAINT tenant_links_phase CHECK (phase IN ('pending', 'active', 'rejected', 'expired', 'revoked')),
    CONSTRAINT tenant_links_revoked CHECK ((phase = 'revoked') = (revoked_at IS NOT NULL)),
    CONSTRAINT tenant_links_owner CHECK ((owner_cluster IS NULL) = (owner_namespace IS NULL)
        AND (owner_cluster IS NULL) = (owner_name IS NULL)
        AND (owner_uid IS NULL OR owner_name IS NOT NULL)),
    CONSTRAINT tenant_links_accepted_at_utc CHECK (accepted_at LIKE '____-__-__T__:__:__.______Z'),
    CONSTRAINT tenant_links_revoked_at_utc CHECK (revoked_at LIKE '____-__-__T__:__:__.______Z'),
    CONSTRAINT tenant_links_created_at_utc CHECK (created_at LIKE '____-__-__T__:__:__.______Z'),
    CONSTRAINT tenant_links_updated_at_utc CHECK (updated_at LIKE '____-__-__T__:__:__.______Z')
);
CREATE INDEX tenant_links_provider_idx ON tenant_links (provider_organization_id);
CREATE INDEX tenant_links_tenant_idx ON tenant_links (tenant_organization_id);
CREATE UNIQUE INDEX tenant_links_live_key ON tenant_links (provider_organization_id, tenant_organization_id)
    WHERE phase IN ('pending', 'active');
CREATE UNIQUE INDEX tenant_links_owner_uid_key ON tenant_links (owner_uid) WHERE owner_uid IS NOT NULL;
CREATE UNIQUE INDEX tenant_links_owner_key ON tenant_links (owner_cluster, owner_namespace, owner_name)
    WHERE owner_uid IS NOT NULL;

CREATE TABLE invitations (
    id             TEXT PRIMARY KEY,
    kind           TEXT NOT NULL,
    membership_id  TEXT REFERENCES memberships (id),
    tenant_link_id TEXT REFERENCES tenant_links (id),
    email          TEXT NOT NULL,
    token_hash     TEXT NOT NULL,
    locale         TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    send_attempts  BIGINT NOT NULL DEFAULT 0,
    sent_at        TEXT,
    message_id     TEXT,
    accepted_at    TEXT,
    revoked_at     TEXT,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    CONSTRAINT invitations_kind CHECK (kind IN ('membership', 'tenant_link')),
    CONSTRAINT invitations_subject CHECK (
        (kind = 'membership' AND membership_id IS NOT NULL AND tenant_link_id IS NULL)
        OR (kind = 'tenant_link' AND tenant_link_id IS NOT NULL AND membership_id IS NULL)),
    CONSTRAINT invitations_token_hash_sha256 CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    CONSTRAINT invitations_settled_once CHECK (accepted_at IS NULL OR revoked_at IS NULL),
    CONSTRAINT invitations_send_attempts CHECK (send_attempts >= 0),
    CONSTRAINT invitations_expires_at_utc CHECK (expires_at LIKE '____-__-__T__:__:__.______Z'),
    CONSTRAINT invitations_sent_at_utc CHECK (sent_at LIKE '____-__-__T__:__:__.______Z'),
    CONSTRAINT invitations_accepted_at_utc CHECK (accepted_at LIKE '____-__-__T__:__:__.______Z'),
    CONSTRAINT invitations_revoked_at_utc CHECK (revoked_at LIKE '____-__-__T__:__:__.______Z'),
    CONSTRAINT invitations_created_at_utc CHECK (created_at LIKE '____-__-__T__:__:__.______Z'),
    CONSTRAINT invitations_updated_at_utc CHECK (updated_at LIKE '____-__-__T__:__:__.______Z')
);
CREATE UNIQUE INDEX invitations_token_hash_key ON invitations (token_hash);
CREATE UNIQUE INDEX invitations_open_membership_key ON invitations (membership_id)
    WHERE accepted_at IS NULL AND revoked_at IS NULL AND membership_id IS NOT NULL;
CREATE UNIQUE INDEX invitations_open_tenant_link_key ON invitations (tenant_link_id)
    WHERE accepted_at IS NULL AND revoked_at IS NULL AND tenant_link_id IS NOT NULL;

CREATE TABLE provider_codes (
    id                     TEXT PRIMARY KEY,
    organization_id        TEXT NOT NULL REFERENCES organizations (id),
    code_hash              TEXT NOT NULL,
    expires_at             TEXT NOT NULL,
    used_at                TEXT,
    used_by_tenant_link_id TEXT REFERENCES tenant_links (id),
    revoked_at             TEXT,
    created_at             TEXT NOT NULL,
    updated_at             TEXT NOT NULL,
    CONSTRAINT provider_codes_code_hash_sha256 CHECK (code_hash ~ '^[0-9a-f]{64}$'),
    CONSTRAINT provider_codes_used CHECK ((used_at IS NULL) = (used_by_tenant_link_id IS NULL)),
    CONSTRAINT provider_codes_settled_once CHECK (used_at IS NULL OR revoked_at IS NULL),
    CONSTRAINT provider_codes_expires_at_utc CHECK (expires_at LIKE '____-__-__T__:__:__.______Z'),
    CONSTRAINT provider_codes_used_at_utc CHECK (used_at LIKE '____-__-__T__:__:__.______Z'),
    CONSTRAINT provider_codes_revoked_at_utc CHECK (revoked_at LIKE '____-__-__T__:__:__.______Z'),
    CONSTRAINT provider_codes_created_at_utc CHECK (created_at LIKE '____-__-__T__:__:__.______Z'),
    CONSTRAINT provider_codes_updated_at_utc CHECK (updated_at LIKE '____-__-__T__:__:__.______Z')
);
CREATE UNIQUE INDEX provider_codes_code_hash_key ON provider_codes (code_hash);
CREATE INDEX provider_codes_organization_idx ON provider_codes (organization_id);

CREATE TABLE provisioning_syncs (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts (id),
    endpoint        TEXT NOT NULL,
    sync_status     TEXT NOT NULL DEFAULT 'unsynchronized',
    external_id     TEXT,
    last_sync_time  TEXT,
    last_error      TEXT,
    archived_at     TEXT,
    owner_cluster   TEXT,
    owner_namespace TEXT,
    owner_name      TEXT,
    owner_uid       TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    CONSTRAINT provisioning_syncs_sync_status CHECK (sync_status IN ('unsynchronized', 'synchronized', 'error')),
    CONSTRAINT provisioning_syncs_owner CHECK ((owner_cluster IS NULL) = (owner_namespace IS NULL)
        AND (owner_cluster IS NULL) = (owner_name IS NULL)
        AND (owner_uid IS NULL OR owner_name IS NOT NULL)),
    CONSTRAINT provisioning_syncs_last_sync_time_utc CHECK (last_sync_time LIKE '____-__-__T__:__:__.______Z'),
    CONSTRAINT provisioning_syncs_archived_at_utc CHECK (archived_at LIKE '____-__-__T__:__:__.______Z'),
    CONSTRAINT provisioning_syncs_created_at_utc CHECK (created_at LIKE '____-__-__T__:__:__.______Z'),
    CONSTRAINT provisioning_syncs_updated_at_utc CHECK (updated_at LIKE '____-__-__T__:__:__.______Z')
);
CREATE INDEX provisioning_syncs_account_idx ON provisioning_syncs (account_id);
CREATE UNIQUE INDEX provisioning_syncs_owner_uid_key ON provisioning_syncs (owner_uid) WHERE owner_uid IS NOT NULL;
CREATE UNIQUE INDEX provisioning_syncs_owner_key ON provisioning_syncs (owner_cluster, owner_namespace, owner_name)
    WHERE owner_uid IS NOT NULL;

CREATE TABLE assets (
    id                   TEXT PRIMARY KEY,
    sync_id              TEXT NOT NULL REFERENCES provisioning_syncs (id),
    order_name           TEXT NOT NULL,
    product              TEXT NOT NULL,
    quantity             BIGINT NOT NULL,
    notification_email   TEXT NOT NULL,
    invoice              TEXT NOT NULL,
    locale               TEXT NOT NULL,
    activation_code_hash TEXT,
    external_id          TEXT,
    welcome_message_id   TEXT,
    archived_at          TEXT,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL,
    CONSTRAINT assets_quantity CHECK (quantity > 0),
    CONSTRAINT assets_invoice CHECK (invoice IN ('immediately', 'next_invoice', 'do_not_invoice')),
    CONSTRAINT assets_activation_code_hash_sha256 CHECK (activation_code_hash ~ '^[0-9a-f]{64}$'),
    CONSTRAINT assets_archived_at_utc CHECK (archived_at LIKE '____-__-__T__:__:__.______Z'),
    CONSTRAINT assets_created_at_utc CHECK (created_at LIKE '____-__-__T__:__:__.______Z'),
    CONSTRAINT assets_updated_at_utc CHECK (updated_at LIKE '____-__-__T__:__:__.______Z')
);
CREATE UNIQUE INDEX assets_order_key ON assets (sync_id, order_name);

CREATE TABLE mail_outbox (
    id              TEXT PRIMARY KEY,
    message_id      TEXT NOT NULL,
    kind            TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body_text       TEXT NOT NULL,
    body_html       TEXT,
    locale          TEXT NOT NULL,
    related_table   TEXT,
    related_id      TEXT,
    state           TEXT NOT NULL DEFAULT 'pending',
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT,
    sent_at         TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    CONSTRAINT mail_outbox_state CHECK (state IN ('pending', 'sent', 'dead')),
    CONSTRAINT mail_outbox_sent CHECK ((state = 'sent') = (sent_at IS NOT NULL)),
    CONSTRAINT mail_outbox_attempts CHECK (attempts >= 0),
    CONSTRAINT mail_outbox_related CHECK ((related_table IS NULL) = (related_id IS NULL)),
    CONSTRAINT mail_outbox_next_attempt_at_utc CHECK (next_attempt_at LIKE '____-__-__T__:__:__.______Z'),
    CONSTRAINT mail_outbox_sent_at_utc CHECK (sent_at LIKE '____-__-__T__:__:__.______Z'),
    CONSTRAINT mail_outbox_created_at_utc CHECK (created_at LIKE '____-__-__T__:__:__.______Z'),
    CONSTRAINT mail_outbox_updated_at_utc CHECK (updated_at LIKE '____-__-__T__:__:__.______Z')
);
CREATE UNIQUE INDEX mail_outbox_message_id_key ON mail_outbox (message_id);
CREATE INDEX mail_outbox_due_idx ON mail_outbox (state, next_attempt_at);
CREATE INDEX mail_outbox_related_idx ON mail_outbox (related_table, related_id);
