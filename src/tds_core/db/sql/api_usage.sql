-- Zoho API calls per organization (tds_api_usage), shared by every TDS process: one row per
-- organization and UTC second in which calls were made. The per-minute limit is a sliding
-- 60-second window; days are the organization's (from Zoho's x-rate-limit-reset), UTC before
-- the first answer said. Time-dependent statements take an optional $now (NULL = now()),
-- so every process reads the database's clock unless a test pins it.

-- name: api_usage_lock
-- Serialise slot-taking for organization $1 until the transaction ends (so counts are exact).
SELECT pg_advisory_xact_lock(hashtextextended('tds_api_usage:' || $1, 0));

-- name: api_usage_take_slot
-- Take one call slot under api_usage_lock ($1 org, $2 calls per window, $3 daily quota, $4 now,
-- $5 window seconds); calls is NULL when the window or the day is full. What Zoho last said
-- (tds_zoho_quota) wins over $3 and the UTC day: its limit is the quota, its reset the day's
-- end (the organization's midnight), and its remaining less the calls made since caps the day.
WITH clock AS (
    -- clock_timestamp, not now(): the transaction may have waited for the lock
    SELECT coalesce($4::timestamptz, clock_timestamp()) AS now
),
seen AS (
    SELECT q.daily_limit, q.remaining, q.resets_at, q.observed_at,
           -- the organization's day holding now: the observed reset's day, rolled forward
           q.resets_at - interval '1 day'
               + floor(extract(epoch FROM c.now - (q.resets_at - interval '1 day')) / 86400)
               * interval '1 day' AS day
    FROM tds_zoho_quota q, clock c
    WHERE q.organization_id = $1
),
slot AS (
    -- calls are counted in whole-second buckets; a bucket counts while any call in it may
    -- still be less than a window old, so the window is never under-counted
    SELECT c.now, date_trunc('second', c.now) AS second,
           coalesce((SELECT day FROM seen), date_trunc('day', c.now, 'UTC')) AS day,
           coalesce((SELECT daily_limit FROM seen), $3::integer) AS quota,
           date_trunc('second', c.now) - make_interval(secs => $5::integer) AS window_start
    FROM clock c
),
recent AS (
    -- calls in the sliding window, and its oldest bucket (when the first slot frees up)
    SELECT coalesce(sum(u.calls), 0)::integer AS calls, min(u.second) AS oldest
    FROM tds_api_usage u, slot s
    WHERE u.organization_id = $1 AND u.second >= s.window_start
),
today AS (
    -- TDS's own count for the day, or what Zoho said was used (plus TDS's calls since), if more
    SELECT greatest(
        (SELECT coalesce(sum(u.calls), 0) FROM tds_api_usage u
         WHERE u.organization_id = $1 AND u.second >= s.day AND u.second < s.day + interval '1 day'),
        (SELECT e.daily_limit - e.remaining
                + (SELECT coalesce(sum(u.calls), 0) FROM tds_api_usage u
                   WHERE u.organization_id = $1 AND u.second > date_trunc('second', e.observed_at))
         FROM seen e WHERE e.resets_at > s.now),
        0
    )::integer AS calls
    FROM slot s
),
taken AS (
    INSERT INTO tds_api_usage AS u (organization_id, second, calls)
    SELECT $1, s.second, 1 FROM slot s, recent r, today t
    WHERE r.calls < $2::integer AND t.calls < s.quota
    ON CONFLICT (organization_id, second) DO UPDATE SET calls = u.calls + 1
    RETURNING u.calls
)
SELECT (SELECT calls FROM taken) AS calls,
       s.now,
       -- the oldest bucket leaves the window one window (plus its own second) after it began
       coalesce(r.oldest + make_interval(secs => $5::integer + 1), s.now) AS next_free,
       s.day + interval '1 day' AS next_day,
       s.quota AS daily_quota,
       t.calls + (SELECT count(*) FROM taken)::integer AS used_today
FROM slot s, recent r, today t;

-- name: api_usage_today
-- Calls made today for one organization ($1 org, $2 now, $3 configured daily quota), counted as
-- api_usage_take_slot counts them: the organization's day and Zoho's word where an answer gave
-- them, else the UTC day; with the quota that applies and when the day ends.
WITH clock AS (
    SELECT coalesce($2::timestamptz, now()) AS now
),
seen AS (
    SELECT q.daily_limit, q.remaining, q.resets_at, q.observed_at,
           q.resets_at - interval '1 day'
               + floor(extract(epoch FROM c.now - (q.resets_at - interval '1 day')) / 86400)
               * interval '1 day' AS day
    FROM tds_zoho_quota q, clock c
    WHERE q.organization_id = $1
),
slot AS (
    SELECT c.now, coalesce((SELECT day FROM seen), date_trunc('day', c.now, 'UTC')) AS day
    FROM clock c
)
SELECT greatest(
           (SELECT coalesce(sum(u.calls), 0) FROM tds_api_usage u
            WHERE u.organization_id = $1 AND u.second >= s.day AND u.second < s.day + interval '1 day'),
           (SELECT e.daily_limit - e.remaining
                   + (SELECT coalesce(sum(u.calls), 0) FROM tds_api_usage u
                      WHERE u.organization_id = $1 AND u.second > date_trunc('second', e.observed_at))
            FROM seen e WHERE e.resets_at > s.now),
           0
       )::integer AS calls,
       coalesce((SELECT daily_limit FROM seen), $3::integer) AS daily_quota,
       s.day + interval '1 day' AS next_day
FROM slot s;

-- name: zoho_quota_observe
-- Keep what a Zoho answer said of the quota ($1 org, $2 limit, $3 remaining, $4 resets at,
-- $5 observed at); an older observation never replaces a newer one.
INSERT INTO tds_zoho_quota AS q (organization_id, daily_limit, remaining, resets_at, observed_at)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (organization_id) DO UPDATE
SET daily_limit = EXCLUDED.daily_limit, remaining = EXCLUDED.remaining,
    resets_at = EXCLUDED.resets_at, observed_at = EXCLUDED.observed_at
WHERE q.observed_at <= EXCLUDED.observed_at;

-- name: zoho_inflight_lock
-- Serialise slot-taking for organization $1 until the transaction ends (its own statement: a
-- statement's snapshot is taken before a lock inside it is granted).
SELECT pg_advisory_xact_lock(hashtextextended('tds_zoho_inflight:' || $1, 0));

-- name: zoho_inflight_take
-- Under zoho_inflight_lock, lease the lowest free call slot of organization $1 among $2 ($3
-- holder, $4 lease seconds); no row when all $2 are held. A lease past its end is free (its
-- process died mid-call).
WITH free AS (
    SELECT s AS slot
    FROM generate_series(1, $2::integer) AS s
    WHERE NOT EXISTS (
        SELECT 1 FROM tds_zoho_inflight i
        WHERE i.organization_id = $1 AND i.slot = s AND i.lease_until > clock_timestamp()
    )
    ORDER BY s
    LIMIT 1
)
INSERT INTO tds_zoho_inflight AS i (organization_id, slot, holder, lease_until)
SELECT $1, f.slot, $3, clock_timestamp() + make_interval(secs => $4::integer) FROM free f
ON CONFLICT (organization_id, slot) DO UPDATE SET holder = EXCLUDED.holder, lease_until = EXCLUDED.lease_until
RETURNING i.slot;

-- name: zoho_inflight_release
-- Give back slot $2 of organization $1, if holder $3 still holds it.
DELETE FROM tds_zoho_inflight WHERE organization_id = $1 AND slot = $2 AND holder = $3;

-- name: api_usage_delete_before
-- Forget usage rows older than $1 (an interval) before $2 (now); returns how many rows went.
WITH deleted AS (
    DELETE FROM tds_api_usage
    WHERE second < coalesce($2::timestamptz, now()) - $1::interval
    RETURNING 1
)
SELECT count(*)::integer AS deleted FROM deleted;
