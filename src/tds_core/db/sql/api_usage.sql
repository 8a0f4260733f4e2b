-- Zoho API calls per organization (tds_api_usage), shared by every TDS process: one row per
-- organization and UTC second in which calls were made. The per-minute limit is a sliding
-- 60-second window; days are UTC. Time-dependent statements take an optional $now (NULL = now()),
-- so every process reads the database's clock unless a test pins it.

-- name: api_usage_lock
-- Serialise slot-taking for organization $1 until the transaction ends (so counts are exact).
SELECT pg_advisory_xact_lock(hashtextextended('tds_api_usage:' || $1, 0));

-- name: api_usage_take_slot
-- Take one call slot under api_usage_lock ($1 org, $2 calls per window, $3 daily quota, $4 now,
-- $5 window seconds); calls is NULL when the window or the day is full.
WITH clock AS (
    -- clock_timestamp, not now(): the transaction may have waited for the lock
    SELECT coalesce($4::timestamptz, clock_timestamp()) AS now
),
slot AS (
    -- calls are counted in whole-second buckets; a bucket counts while any call in it may
    -- still be less than a window old, so the window is never under-counted
    SELECT now, date_trunc('second', now) AS second, date_trunc('day', now, 'UTC') AS day,
           date_trunc('second', now) - make_interval(secs => $5::integer) AS window_start
    FROM clock
),
recent AS (
    -- calls in the sliding window, and its oldest bucket (when the first slot frees up)
    SELECT coalesce(sum(u.calls), 0)::integer AS calls, min(u.second) AS oldest
    FROM tds_api_usage u, slot s
    WHERE u.organization_id = $1 AND u.second >= s.window_start
),
today AS (
    -- the daily quota is counted per UTC day
    SELECT coalesce(sum(u.calls), 0)::integer AS calls
    FROM tds_api_usage u, slot s
    WHERE u.organization_id = $1 AND u.second >= s.day AND u.second < s.day + interval '1 day'
),
taken AS (
    INSERT INTO tds_api_usage AS u (organization_id, second, calls)
    SELECT $1, s.second, 1 FROM slot s, recent r, today t
    WHERE r.calls < $2::integer AND t.calls < $3::integer
    ON CONFLICT (organization_id, second) DO UPDATE SET calls = u.calls + 1
    RETURNING u.calls
)
SELECT (SELECT calls FROM taken) AS calls,
       s.now,
       -- the oldest bucket leaves the window one window (plus its own second) after it began
       coalesce(r.oldest + make_interval(secs => $5::integer + 1), s.now) AS next_free,
       s.day + interval '1 day' AS next_day,
       t.calls + (SELECT count(*) FROM taken)::integer AS used_today
FROM slot s, recent r, today t;

-- name: api_usage_today
-- Calls made today (UTC) for one organization ($1 org, $2 now): the daily quota used so far.
SELECT coalesce(sum(calls), 0)::integer AS calls
FROM tds_api_usage
WHERE organization_id = $1
  AND second >= date_trunc('day', coalesce($2::timestamptz, now()), 'UTC')
  AND second < date_trunc('day', coalesce($2::timestamptz, now()), 'UTC') + interval '1 day';

-- name: api_usage_delete_before
-- Forget usage rows older than $1 (an interval) before $2 (now); returns how many rows went.
WITH deleted AS (
    DELETE FROM tds_api_usage
    WHERE second < coalesce($2::timestamptz, now()) - $1::interval
    RETURNING 1
)
SELECT count(*)::integer AS deleted FROM deleted;
