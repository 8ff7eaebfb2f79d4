-- Group-to-role rules, per organization: ordered rules that give a role from
-- the IdP's groups (the provider's roles, a claim of its token, or the
-- organization's SCIM groups), and what happens when none matches. A role is
-- named by what no rename changes: 'kind:owner', 'kind:member', 'id:<uuid>'
-- or 'key:<custom role key>'. It is not a foreign key: a rule whose role was
-- deleted stays visible to the administrators and is skipped.
CREATE TABLE group_rule_sets (
    org_id           TEXT PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    enabled          BIGINT NOT NULL CHECK (enabled IN (0, 1)),
    no_match         TEXT NOT NULL CHECK (no_match IN ('refuse', 'default')),
    default_role     TEXT CHECK (default_role LIKE 'kind:%' OR default_role LIKE 'id:%' OR default_role LIKE 'key:%'),
    seeded_from_env  BIGINT NOT NULL CHECK (seeded_from_env IN (0, 1)),
    version          BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    CHECK ((no_match = 'refuse') = (default_role IS NULL))
);

CREATE TABLE group_rules (
    org_id      TEXT NOT NULL REFERENCES group_rule_sets (org_id) ON DELETE CASCADE,
    position    BIGINT NOT NULL CHECK (position >= 0),
    source      TEXT NOT NULL CHECK (source IN ('idp_roles', 'claim', 'scim_group')),
    claim_path  TEXT,
    glob        BIGINT NOT NULL CHECK (glob IN (0, 1)),
    pattern     TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role LIKE 'kind:%' OR role LIKE 'id:%' OR role LIKE 'key:%'),
    PRIMARY KEY (org_id, position),
    CHECK ((source = 'claim') = (claim_path IS NOT NULL))
);
