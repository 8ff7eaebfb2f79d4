-- Portcullis schema, SQLite flavour. Keep in step with ../postgres/0001_initial.sql.
-- Identifiers are UUID text, times are milliseconds since the Unix epoch.

CREATE TABLE organizations (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    name_key    TEXT NOT NULL UNIQUE,          -- lower-cased name: one organization per name
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    email          TEXT NOT NULL,
    display_name   TEXT NOT NULL,
    password_hash  TEXT,
    factory_admin  BIGINT NOT NULL DEFAULT 0 CHECK (factory_admin IN (0, 1)),
    disabled_at    BIGINT,
    idp_issuer     TEXT,
    idp_subject    TEXT,
    created_at     BIGINT NOT NULL,
    UNIQUE (idp_issuer, idp_subject)
);
-- Local accounts are keyed on their e-mail address; IdP accounts on issuer + subject.
CREATE UNIQUE INDEX users_local_email ON users (email) WHERE idp_issuer IS NULL;

CREATE TABLE roles (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    name_key     TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('owner', 'member', 'custom')),
    permissions  TEXT NOT NULL,               -- JSON object {feature: level}
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    UNIQUE (org_id, name_key),
    UNIQUE (org_id, id)
);
CREATE UNIQUE INDEX roles_one_owner_role ON roles (org_id) WHERE kind = 'owner';
CREATE UNIQUE INDEX roles_one_member_role ON roles (org_id) WHERE kind = 'member';

CREATE TABLE memberships (
    org_id      TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_id     TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (org_id, user_id),
    -- the role must be one of this organization's roles
    FOREIGN KEY (org_id, role_id) REFERENCES roles (org_id, id) ON DELETE RESTRICT
);
CREATE INDEX memberships_user ON memberships (user_id);
CREATE INDEX memberships_role ON memberships (role_id);

CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,
    token_hash    TEXT NOT NULL UNIQUE,       -- SHA-256 of the cookie value
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider      TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    revoked_at    BIGINT,
    ip            TEXT,
    user_agent    TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE setup_tokens (
    token_hash  TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);

CREATE TABLE audit_events (
    id          TEXT PRIMARY KEY,
    at          BIGINT NOT NULL,
    org_id      TEXT,
    actor_id    TEXT,
    actor       TEXT,
    action      TEXT NOT NULL,
    target      TEXT,
    outcome     TEXT NOT NULL CHECK (outcome IN ('success', 'failure')),
    ip          TEXT,
    request_id  TEXT,
    detail      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_at ON audit_events (at);
CREATE INDEX audit_org_at ON audit_events (org_id, at);
CREATE INDEX audit_actor_at ON audit_events (actor_id, at);
CREATE INDEX audit_action_target_at ON audit_events (action, target, at);
CREATE INDEX audit_action_ip_at ON audit_events (action, ip, at);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

CREATE TABLE automations (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    name_key     TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    visibility   TEXT NOT NULL CHECK (visibility IN ('organization', 'private')),
    created_by   TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    UNIQUE (org_id, name_key)
);

CREATE TABLE automation_grants (
    automation_id  TEXT NOT NULL REFERENCES automations (id) ON DELETE CASCADE,
    subject_type   TEXT NOT NULL CHECK (subject_type IN ('user', 'role')),
    subject_id     TEXT NOT NULL,
    permissions    BIGINT NOT NULL CHECK (permissions > 0),
    PRIMARY KEY (automation_id, subject_type, subject_id)
);
CREATE INDEX automation_grants_subject ON automation_grants (subject_type, subject_id);
