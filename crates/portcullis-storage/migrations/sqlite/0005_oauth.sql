-- The `local` provider as an OAuth 2.0 authorization server for the CLI
-- (issue 5): its signing keys, device authorizations (RFC 8628) and
-- refresh tokens (rotated, with reuse detection).

-- Access tokens are JWTs signed with the active key; retired keys stay
-- published until the last token they signed has expired.
CREATE TABLE oauth_signing_keys (
    kid             TEXT PRIMARY KEY,
    alg             TEXT NOT NULL,
    -- The private key (PKCS#1 DER), sealed with the installation key.
    private_sealed  TEXT NOT NULL,
    -- The public key as a JWK (RFC 7517), as published at /oauth2/jwks.
    public_jwk      TEXT NOT NULL,
    -- 1 for the one signing key, NULL once retired: the UNIQUE constraint
    -- keeps a second active key out even when two replicas race.
    active          BIGINT UNIQUE CHECK (active = 1),
    created_at      BIGINT NOT NULL,
    retired_at      BIGINT,
    publish_until   BIGINT
);

-- The device code is kept only as a hash; the user code is what a person
-- types, unique while the row exists (expired rows are purged).
CREATE TABLE device_authorizations (
    device_code_hash  TEXT PRIMARY KEY,
    user_code         TEXT NOT NULL UNIQUE,
    client_id         TEXT NOT NULL,
    scope             TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'redeemed')),
    user_id           TEXT REFERENCES users (id) ON DELETE CASCADE,
    interval_secs     BIGINT NOT NULL,
    last_polled_at    BIGINT,
    client_ip         TEXT,
    created_at        BIGINT NOT NULL,
    expires_at        BIGINT NOT NULL,
    CHECK ((status IN ('approved', 'redeemed')) = (user_id IS NOT NULL))
);
CREATE INDEX device_authorizations_expires ON device_authorizations (expires_at);

-- Refresh tokens, by hash. Every token descended from one login shares a
-- family; presenting a used token again revokes the family.
CREATE TABLE refresh_tokens (
    token_hash         TEXT PRIMARY KEY,
    family_id          TEXT NOT NULL,
    user_id            TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id          TEXT NOT NULL,
    scope              TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    expires_at         BIGINT NOT NULL,
    family_expires_at  BIGINT NOT NULL,
    used_at            BIGINT,
    revoked_at         BIGINT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_family_expires ON refresh_tokens (family_expires_at);
