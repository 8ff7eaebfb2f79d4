-- Limits that hold across replicas and under parallel requests.
--
-- Password checks, registered before the password is hashed: a row with
-- failed_at NULL is a check running now; failed_at is set when it failed; a
-- successful check deletes its row (and the account's failures). The
-- throttle counts both, so parallel guesses cannot all pass a count taken
-- before any of them failed.
CREATE TABLE sign_in_checks (
    id           TEXT PRIMARY KEY,
    account      TEXT NOT NULL,
    address_key  TEXT,
    started_at   BIGINT NOT NULL,
    failed_at    BIGINT
);
CREATE INDEX sign_in_checks_account ON sign_in_checks (account, started_at);
CREATE INDEX sign_in_checks_address ON sign_in_checks (address_key, started_at);

-- Fixed-window counters by key (wrong device codes per session, account and
-- address): one atomic upsert per hit.
CREATE TABLE rate_limits (
    limit_key     TEXT PRIMARY KEY,
    window_start  BIGINT NOT NULL,
    hits          BIGINT NOT NULL
);
CREATE INDEX rate_limits_window ON rate_limits (window_start);
