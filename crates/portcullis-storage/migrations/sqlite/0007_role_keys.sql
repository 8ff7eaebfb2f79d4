-- Roles get an immutable key, which configuration (PORTCULLIS_ROLE_MAPPING)
-- refers to instead of the renamable display name: `owner` and `member` for
-- the predefined roles, the name's key at the time of this migration for
-- custom roles (made unique against the predefined keys).
ALTER TABLE roles ADD COLUMN role_key TEXT NOT NULL DEFAULT '';
UPDATE roles SET role_key = kind WHERE kind IN ('owner', 'member');
UPDATE roles SET role_key = name_key WHERE kind = 'custom' AND name_key NOT IN ('owner', 'member');
UPDATE roles SET role_key = name_key || '-' || id WHERE kind = 'custom' AND name_key IN ('owner', 'member');
CREATE UNIQUE INDEX roles_key ON roles (org_id, role_key);
