-- Zoho API calls per organization and minute (tds_api_usage), shared by every TDS process.
-- Minutes and days are UTC. Time-dependent statements take an optional $now (NULL = now()),
-- so every process reads the database's clock unless a test pins it.

-- name: api_usage_take_slot
-- Take one call slot ($1 org, $2 per-minute limit, $3 daily quota, $4 now); calls is NULL when full.
WITH clock AS (
    SELECT coalesce($4::timestamptz, now()) AS now
),
-- the minute and the day the call falls in
slot AS (
    SELECT date_trunc('minute', now, 'UTC') AS minute, date_trunc('day', now, 'UTC') AS day FROM clock
),
-- calls made earlier today: rows of past minutes no longer change, so a snapshot is exact
earlier AS (
    SELECT coalesce(sum(u.calls), 0)::integer AS calls
    FROM tds_api_usage u, slot s
    WHERE u.organization_id = $1 AND u.minute >= s.day AND u.minute < s.minute
),
-- the atomic step: the first call of a minute inserts, the others increment the locked row
-- while the minute (and the day) have room; a full minute returns no row
taken AS (
    INSERT INTO tds_api_usage AS u (organization_id, minute, calls)
    SELECT $1, s.minute, 1 FROM slot s, earlier e WHERE e.calls < $3::integer
    ON CONFLICT (organization_id, minute) DO UPDATE SET calls = u.calls + 1
    WHERE u.calls < $2::integer AND u.calls + (SELECT calls FROM earlier) < $3::integer
    RETURNING u.calls
)
SELECT (SELECT calls FROM taken) AS calls,
       c.now,
       s.minute + interval '1 minute' AS next_minute,
       s.day + interval '1 day' AS next_day,
       -- after a refusal the snapshot may lag the locked row, never lead it: a full day is
       -- only reported when it is full
       e.calls + coalesce((SELECT calls FROM taken),
                          (SELECT calls FROM tds_api_usage WHERE organization_id = $1 AND minute = s.minute),
                          0) AS used_today
FROM clock c, slot s, earlier e;

-- name: api_usage_today
-- Calls made today (UTC) for one organization ($1 org, $2 now): the daily quota used so far.
SELECT coalesce(sum(calls), 0)::integer AS calls
FROM tds_api_usage
WHERE organization_id = $1
  AND minute >= date_trunc('day', coalesce($2::timestamptz, now()), 'UTC')
  AND minute < date_trunc('day', coalesce($2::timestamptz, now()), 'UTC') + interval '1 day';

-- name: api_usage_delete_before
-- Forget minutes older than $1 (an interval) before $2 (now); returns how many rows went.
WITH deleted AS (
    DELETE FROM tds_api_usage
    WHERE minute < coalesce($2::timestamptz, now()) - $1::interval
    RETURNING 1
)
SELECT count(*)::integer AS deleted FROM deleted;
