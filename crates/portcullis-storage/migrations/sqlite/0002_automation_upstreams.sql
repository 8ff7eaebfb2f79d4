-- Automations as proxied upstreams, their executions, and encrypted environment variables.
-- Keep in step with ../postgres/0002_automation_upstreams.sql.

ALTER TABLE automations ADD COLUMN upstream_url TEXT NOT NULL DEFAULT '';
-- AEAD-sealed bearer token of the upstream (never clear text).
ALTER TABLE automations ADD COLUMN upstream_token TEXT;
ALTER TABLE automations ADD COLUMN health TEXT NOT NULL DEFAULT 'unknown' CHECK (health IN ('unknown', 'healthy', 'unhealthy'));
ALTER TABLE automations ADD COLUMN health_reason TEXT;
ALTER TABLE automations ADD COLUMN health_checked_at BIGINT;

CREATE TABLE executions (
    id                   TEXT PRIMARY KEY,
    automation_id        TEXT NOT NULL REFERENCES automations (id) ON DELETE CASCADE,
    org_id               TEXT NOT NULL,
    user_id              TEXT,
    started_at           BIGINT NOT NULL,
    inputs_bytes         BIGINT NOT NULL,
    kickoff_id           TEXT,
    state                TEXT NOT NULL,
    upstream_latency_ms  BIGINT,
    error                TEXT,
    updated_at           BIGINT NOT NULL
);
CREATE INDEX executions_automation_started ON executions (automation_id, started_at);
CREATE UNIQUE INDEX executions_automation_kickoff ON executions (automation_id, kickoff_id) WHERE kickoff_id IS NOT NULL;

CREATE TABLE env_vars (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    automation_id  TEXT REFERENCES automations (id) ON DELETE CASCADE,
    -- '' for organization-wide variables, else the automation id: NULLs are never equal in UNIQUE
    scope_key      TEXT NOT NULL,
    name           TEXT NOT NULL,
    sealed_value   TEXT NOT NULL,
    value_bytes    BIGINT NOT NULL,
    updated_by     TEXT,
    updated_at     BIGINT NOT NULL,
    UNIQUE (org_id, scope_key, name)
);

-- A value sealed with the current secret key at first start: a wrong key is
-- detected at start-up instead of producing garbage later.
CREATE TABLE key_check (
    id      BIGINT PRIMARY KEY CHECK (id = 1),
    sealed  TEXT NOT NULL
);

-- Usage: sign-ins and upstream errors are kept one row each here; API calls
-- and kickoffs only in the roll-ups below (kickoffs are in `executions` too).
-- The roll-ups are updated in the same transaction as the events.
CREATE TABLE usage_events (
    id             TEXT PRIMARY KEY,
    at             BIGINT NOT NULL,
    org_id         TEXT,
    kind           TEXT NOT NULL,
    provider       TEXT,
    success        BIGINT,
    automation_id  TEXT,
    user_id        TEXT,
    latency_ms     BIGINT
);
CREATE INDEX usage_events_org_at ON usage_events (org_id, at);

-- Roll-ups, hourly and daily, each narrow enough that a year of one
-- organization is a few thousand rows per table. A report over whole days
-- reads the daily tables, anything finer the hourly ones.
CREATE TABLE usage_rollup (
    period     TEXT NOT NULL CHECK (period IN ('hour', 'day')),
    org_id     TEXT NOT NULL,
    start      BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    provider   TEXT NOT NULL,
    success    BIGINT NOT NULL,
    count      BIGINT NOT NULL,
    PRIMARY KEY (period, org_id, start, kind, provider, success)
);
-- Kickoffs per automation and per user (subject_type 'automation' or 'user').
CREATE TABLE usage_rollup_subject (
    period        TEXT NOT NULL CHECK (period IN ('hour', 'day')),
    org_id        TEXT NOT NULL,
    start         BIGINT NOT NULL,
    subject_type  TEXT NOT NULL,
    subject_id    TEXT NOT NULL,
    count         BIGINT NOT NULL,
    PRIMARY KEY (period, org_id, start, subject_type, subject_id)
);
-- Upstream latency histogram (log-scale buckets, see the server's usage module).
CREATE TABLE usage_rollup_latency (
    period     TEXT NOT NULL CHECK (period IN ('hour', 'day')),
    org_id     TEXT NOT NULL,
    start      BIGINT NOT NULL,
    bucket     BIGINT NOT NULL,
    count      BIGINT NOT NULL,
    PRIMARY KEY (period, org_id, start, bucket)
);
