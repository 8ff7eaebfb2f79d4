-- Invitations are pending memberships, accepted by the person invited:
-- through a one-time link they open while signed in as the invited address
-- (or, for a new local account, by choosing a password), or, on servers
-- without password sign-in, at their first IdP sign-in with that address.
-- Nothing is joined until then. Links from the earlier scheme (which
-- created the account at once) are dropped; their accounts stay, and may be
-- invited again to choose a password.
DROP TABLE invitations;

CREATE TABLE org_invitations (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email        TEXT NOT NULL,                -- lower-cased address
    role_id      TEXT NOT NULL,
    invited_by   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash   TEXT UNIQUE,                  -- SHA-256 of the link's token; none for IdP pre-assignments
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    accepted_at  BIGINT,
    accepted_by  TEXT REFERENCES users (id) ON DELETE SET NULL,
    FOREIGN KEY (org_id, role_id) REFERENCES roles (org_id, id) ON DELETE CASCADE
);
-- One pending invitation per organization and address.
CREATE UNIQUE INDEX org_invitations_pending ON org_invitations (org_id, email) WHERE accepted_at IS NULL;
CREATE INDEX org_invitations_email ON org_invitations (email);
