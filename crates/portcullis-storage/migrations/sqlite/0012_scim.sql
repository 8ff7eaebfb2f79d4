-- SCIM 2.0 provisioning (RFC 7643, RFC 7644), per organization: the tokens
-- an identity provider provisions with, and the users and groups it
-- provisions. A provisioned user has an account (users) and a membership
-- before their first sign-in; the account is keyed ('scim', scim_users.id)
-- until that sign-in links it to the IdP's issuer and subject.
CREATE TABLE scim_tokens (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,         -- SHA-256 of the token; the token is shown once
    created_by    TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT,
    revoked_at    BIGINT
);
CREATE INDEX scim_tokens_org ON scim_tokens (org_id);

CREATE TABLE scim_users (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    user_name      TEXT NOT NULL,
    user_name_key  TEXT NOT NULL,               -- lower-cased: userName is not case-exact
    external_id    TEXT,
    display_name   TEXT,
    active         BIGINT NOT NULL CHECK (active IN (0, 1)),
    role_id        TEXT,                        -- the role held when deactivated, restored at reactivation
    document       TEXT NOT NULL,               -- the canonical resource, JSON (no id, meta or groups)
    version        BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    UNIQUE (org_id, user_name_key),
    UNIQUE (org_id, external_id),
    UNIQUE (org_id, user_id),
    UNIQUE (org_id, id)
);
CREATE INDEX scim_users_external_id ON scim_users (external_id);
CREATE INDEX scim_users_user_name_key ON scim_users (user_name_key);
CREATE INDEX scim_users_user ON scim_users (user_id);

CREATE TABLE scim_groups (
    id                TEXT PRIMARY KEY,
    org_id            TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    display_name      TEXT NOT NULL,
    display_name_key  TEXT NOT NULL,
    external_id       TEXT,
    document          TEXT NOT NULL,            -- the canonical resource, JSON (no id, meta or members)
    version           BIGINT NOT NULL,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    UNIQUE (org_id, display_name_key),
    UNIQUE (org_id, external_id),
    UNIQUE (org_id, id)
);

-- Members are people of the same organization (the composite keys say so).
CREATE TABLE scim_group_members (
    org_id     TEXT NOT NULL,
    group_id   TEXT NOT NULL,
    member_id  TEXT NOT NULL,
    PRIMARY KEY (group_id, member_id),
    FOREIGN KEY (org_id, group_id) REFERENCES scim_groups (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, member_id) REFERENCES scim_users (org_id, id) ON DELETE CASCADE
);
CREATE INDEX scim_group_members_member ON scim_group_members (member_id);
