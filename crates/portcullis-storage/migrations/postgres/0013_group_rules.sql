-- Group-to-role rules, per organization: ordered rules that give a role from
-- the IdP's groups (a claim of its token, or the organization's SCIM groups),
-- and what happens when none matches. Roles are named by kind or id, never by
-- their renamable display name. A role id is not a foreign key: a rule whose
-- role was deleted stays visible to the administrators and is skipped.
CREATE TABLE group_rule_sets (
    org_id             TEXT PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    enabled            BIGINT NOT NULL CHECK (enabled IN (0, 1)),
    no_match           TEXT NOT NULL CHECK (no_match IN ('refuse', 'default')),
    default_role_kind  TEXT CHECK (default_role_kind IN ('owner', 'member')),
    default_role_id    TEXT,
    seeded_from_env    BIGINT NOT NULL CHECK (seeded_from_env IN (0, 1)),
    version            BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    CHECK ((no_match = 'refuse' AND default_role_kind IS NULL AND default_role_id IS NULL)
        OR (no_match = 'default' AND ((default_role_kind IS NULL) <> (default_role_id IS NULL))))
);

CREATE TABLE group_rules (
    org_id      TEXT NOT NULL REFERENCES group_rule_sets (org_id) ON DELETE CASCADE,
    position    BIGINT NOT NULL CHECK (position >= 0),
    source      TEXT NOT NULL CHECK (source IN ('claim', 'scim_group')),
    claim_path  TEXT,
    glob        BIGINT NOT NULL CHECK (glob IN (0, 1)),
    pattern     TEXT NOT NULL,
    role_kind   TEXT CHECK (role_kind IN ('owner', 'member')),
    role_id     TEXT,
    PRIMARY KEY (org_id, position),
    CHECK ((source = 'claim') = (claim_path IS NOT NULL)),
    CHECK ((role_kind IS NULL) <> (role_id IS NULL))
);
