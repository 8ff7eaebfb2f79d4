-- Kickoffs per automation and per user in weeks and four-week periods
-- (aligned on the Unix epoch), beside the hourly and daily ones: a year's
-- top automations and users then read about 30 rows per subject instead of
-- 365. A range is summed exactly: whole four-week periods, then whole weeks
-- and days at its edges, then hours, each hour of the range once.
CREATE TABLE usage_rollup_subject_weeks (
    period        TEXT NOT NULL CHECK (period IN ('7d', '28d')),
    org_id        TEXT NOT NULL,
    start         BIGINT NOT NULL,
    subject_type  TEXT NOT NULL,
    subject_id    TEXT NOT NULL,
    count         BIGINT NOT NULL,
    PRIMARY KEY (period, org_id, start, subject_type, subject_id)
);
-- What was recorded before, from the daily roll-up (604800000 ms = 7 days).
INSERT INTO usage_rollup_subject_weeks (period, org_id, start, subject_type, subject_id, count)
SELECT '7d', org_id, (start / 604800000) * 604800000, subject_type, subject_id, SUM(count)
FROM usage_rollup_subject WHERE period = 'day'
GROUP BY org_id, (start / 604800000) * 604800000, subject_type, subject_id;
INSERT INTO usage_rollup_subject_weeks (period, org_id, start, subject_type, subject_id, count)
SELECT '28d', org_id, (start / 2419200000) * 2419200000, subject_type, subject_id, SUM(count)
FROM usage_rollup_subject WHERE period = 'day'
GROUP BY org_id, (start / 2419200000) * 2419200000, subject_type, subject_id;
