-- Browser single sign-on through OpenID providers (issue 4).

-- What back-channel logout and RP-initiated logout need to find and end a
-- session: the IdP's session id (`sid`) and the ID token (sealed with the
-- installation key, kept only for `id_token_hint`).
ALTER TABLE sessions ADD COLUMN idp_sid TEXT;
ALTER TABLE sessions ADD COLUMN id_token_sealed TEXT;
CREATE INDEX sessions_idp_sid ON sessions (provider, idp_sid);

-- One-time values (sign-in `state`, back-channel logout `jti`): the primary
-- key makes the second use fail, on every replica, without read-then-insert.
CREATE TABLE used_once (
    kind        TEXT NOT NULL,
    key_hash    TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    PRIMARY KEY (kind, key_hash)
);
CREATE INDEX used_once_expires ON used_once (expires_at);
