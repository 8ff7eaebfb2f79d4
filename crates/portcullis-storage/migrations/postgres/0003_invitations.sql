-- One-time links that let an invited local user choose a password.
CREATE TABLE invitations (
    token_hash  TEXT PRIMARY KEY,             -- SHA-256 of the token in the link
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX invitations_user ON invitations (user_id);
