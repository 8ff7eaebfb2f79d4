-- Kickoffs per automation and per user in 30-day periods (aligned on the
-- Unix epoch), beside the hourly and daily ones: a year's top automations
-- and users then read about 12 rows per subject instead of 365. Ranges are
-- summed exactly: whole 30-day periods from here, the days and hours at
-- their edges from the finer roll-ups.
CREATE TABLE usage_rollup_subject_30d (
    org_id        TEXT NOT NULL,
    start         BIGINT NOT NULL,
    subject_type  TEXT NOT NULL,
    subject_id    TEXT NOT NULL,
    count         BIGINT NOT NULL,
    PRIMARY KEY (org_id, start, subject_type, subject_id)
);
-- What was recorded before, from the daily roll-up (2592000000 ms = 30 days).
INSERT INTO usage_rollup_subject_30d (org_id, start, subject_type, subject_id, count)
SELECT org_id, (start / 2592000000) * 2592000000, subject_type, subject_id, SUM(count)
FROM usage_rollup_subject WHERE period = 'day'
GROUP BY org_id, (start / 2592000000) * 2592000000, subject_type, subject_id;
