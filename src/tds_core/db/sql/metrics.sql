-- Metrics: the counts and histograms of tds_v_metric_events / tds_v_metric_samples, their
-- cumulative totals, the roll-up into tds_metrics, and the gauges of the current state.
-- Ranges are [from, to) with NULL meaning unbounded; time-dependent statements take an optional
-- now (NULL = the database's clock) so tests pin it.

-- name: metrics_rollup_state
-- Everything counted before this time is folded into tds_metric_totals (NULL: nothing yet).
SELECT rolled_through FROM tds_metric_rollup;

-- name: metrics_rollup_lock
-- The roll-up's watermark, locked until the step commits (two roll-ups never fold a minute twice).
SELECT rolled_through FROM tds_metric_rollup FOR UPDATE;

-- name: metrics_rollup_advance
-- Move the watermark: everything before $1 is now in the totals.
UPDATE tds_metric_rollup SET rolled_through = $1, rolled_at = now();

-- name: metrics_totals
-- The cumulative totals (a few hundred rows): counters, and histograms with their bucket arrays.
SELECT name, labels, value, counts FROM tds_metric_totals;

-- name: metrics_totals_add
-- Add to cumulative totals from a JSON array of {name, labels, value[, counts]}; bucket arrays add
-- element by element (an array of another length replaces the old one: the bounds changed).
INSERT INTO tds_metric_totals AS t (name, labels, value, counts)
SELECT x.name, x.labels, x.value,
       CASE WHEN x.counts IS NULL THEN NULL
            ELSE ARRAY(SELECT e.c::bigint FROM jsonb_array_elements_text(x.counts) WITH ORDINALITY AS e(c, i)
                       ORDER BY e.i) END
FROM jsonb_to_recordset($1::jsonb) AS x(name text, labels jsonb, value float8, counts jsonb)
ON CONFLICT (name, labels) DO UPDATE
SET value = t.value + excluded.value,
    counts = CASE
        WHEN excluded.counts IS NULL THEN t.counts
        WHEN t.counts IS NULL OR cardinality(t.counts) <> cardinality(excluded.counts) THEN excluded.counts
        ELSE ARRAY(SELECT u.a + u.b FROM unnest(t.counts, excluded.counts) WITH ORDINALITY AS u(a, b, i)
                   ORDER BY u.i)
    END;

-- name: metrics_events_by_minute
-- Counted events in [$1, $2) per stream, entity, kind, origin and minute, plus Zoho calls per organization.
SELECT stream, entity, kind, origin, date_trunc('minute', at, 'UTC') AS minute, count(*)::float8 AS n
FROM tds_v_metric_events
WHERE at >= coalesce($1::timestamptz, '-infinity') AND at < coalesce($2::timestamptz, 'infinity')
GROUP BY 1, 2, 3, 4, 5
UNION ALL
-- rows of tds_api_usage are per organization and second: calls made in it
SELECT 'zoho_calls', '', '', organization_id, date_trunc('minute', second, 'UTC'), sum(calls)::float8
FROM tds_api_usage
WHERE second >= coalesce($1::timestamptz, '-infinity') AND second < coalesce($2::timestamptz, 'infinity')
GROUP BY organization_id, date_trunc('minute', second, 'UTC');

-- name: metrics_samples_by_minute
-- Histogram observations in [$1, $2) per name, entity, minute and bucket of the bounds $3 ($4: names, NULL = all).
SELECT s.name, s.entity, date_trunc('minute', s.at, 'UTC') AS minute, b.bucket, count(*)::bigint AS n,
       sum(s.ms) AS total
FROM tds_v_metric_samples s
-- width_bucket counts the bounds <= ms; a value equal to a bound belongs below it (Prometheus's le)
CROSS JOIN LATERAL (SELECT width_bucket(s.ms, $3::float8[]) AS wb) w
CROSS JOIN LATERAL (SELECT w.wb - (w.wb > 0 AND s.ms = ($3::float8[])[w.wb])::int AS bucket) b
WHERE s.at >= coalesce($1::timestamptz, '-infinity') AND s.at < coalesce($2::timestamptz, 'infinity')
  AND ($4::text[] IS NULL OR s.name = ANY($4::text[]))
GROUP BY 1, 2, 3, 4;

-- name: metrics_earliest
-- The time of the oldest counted row (where a first roll-up starts); each min() is one index probe.
SELECT least(
    (SELECT min(created_at) FROM tds_sync_logs),
    (SELECT min(received_at) FROM tds_inbox_events),
    (SELECT min(created_at) FROM tds_dead_letter_queue),
    (SELECT min(finished_at) FROM tds_sync_queue WHERE finished_at IS NOT NULL),
    (SELECT min(second) FROM tds_api_usage),
    (SELECT min(detected_at) FROM tds_conflicts)
) AS earliest;

-- name: metrics_minutes_upsert
-- Write per-minute series into tds_metrics from a JSON array of {name, labels, bucket_start, value}.
INSERT INTO tds_metrics (name, labels, bucket_start, resolution_s, value)
SELECT x.name, x.labels, x.bucket_start, 60, x.value
FROM jsonb_to_recordset($1::jsonb) AS x(name text, labels jsonb, bucket_start timestamptz, value float8)
ON CONFLICT (name, labels, bucket_start, resolution_s) DO UPDATE SET value = excluded.value;

-- name: metrics_histograms_upsert
-- Write per-minute histograms from a JSON array of {name, entity, bucket_start, counts, total}.
INSERT INTO tds_metric_histograms (name, entity, bucket_start, counts, total)
SELECT x.name, x.entity, x.bucket_start,
       ARRAY(SELECT e.c::bigint FROM jsonb_array_elements_text(x.counts) WITH ORDINALITY AS e(c, i) ORDER BY e.i),
       x.total
FROM jsonb_to_recordset($1::jsonb) AS x(name text, entity text, bucket_start timestamptz, counts jsonb,
                                         total float8)
ON CONFLICT (name, entity, bucket_start) DO UPDATE SET counts = excluded.counts, total = excluded.total;

-- name: metrics_histograms_delete_before
-- Forget per-minute histograms older than $1, at most $2 rows (tds_metrics has tds_retention_cleanup).
WITH old AS (
    SELECT name, entity, bucket_start FROM tds_metric_histograms WHERE bucket_start < $1 LIMIT $2
), deleted AS (
    DELETE FROM tds_metric_histograms h USING old
    WHERE (h.name, h.entity, h.bucket_start) = (old.name, old.entity, old.bucket_start)
    RETURNING 1
)
SELECT count(*)::integer AS deleted FROM deleted;

-- name: metrics_gauges
-- The current state as (name, labels, value) rows ($1 now, $2 entities): queue, DLQ, conflicts, workers and
-- their breakers, pulls, reconciliation, Zoho usage today, and how far behind the roll-up is.
WITH clock AS (
    SELECT coalesce($1::timestamptz, now()) AS now
),
-- waiting events per entity, through the partial index of pending rows
pending AS (
    SELECT q.entity, count(*) AS events,
           count(*) FILTER (WHERE q.next_attempt_at <= c.now) AS ready,
           min(q.next_attempt_at) FILTER (WHERE q.next_attempt_at <= c.now) AS oldest_ready
    FROM tds_sync_queue q CROSS JOIN clock c
    WHERE q.status = 'pending'
    GROUP BY q.entity
),
-- leased events per entity, through the partial index of leased rows
processing AS (
    SELECT entity, count(*) AS events FROM tds_sync_queue WHERE status = 'processing' GROUP BY entity
),
-- open dead letters per entity, through the partial index of open letters
dead_letters AS (
    SELECT entity, count(*) AS open, min(created_at) AS oldest
    FROM tds_dead_letter_queue WHERE status = 'open' GROUP BY entity
),
-- ERP conflicts held open for an operator, through the partial index of open conflicts
conflicts AS (
    SELECT entity, count(*) AS open FROM tds_conflicts WHERE status = 'open' GROUP BY entity
),
-- live workers (a heartbeat in the last 30 s) by the state of their circuit breaker
workers AS (
    SELECT w.circuit_state, count(*) AS workers
    FROM tds_workers w CROSS JOIN clock c
    WHERE w.stopped_at IS NULL AND w.heartbeat_at > c.now - interval '30 seconds'
    GROUP BY w.circuit_state
),
-- per entity, the last successful pull and the last reconciliation with a drift count
pulls AS (
    SELECT e.entity, r.finished_at
    FROM unnest($2::text[]) AS e(entity)
    JOIN LATERAL (SELECT finished_at FROM tds_sync_runs
                  WHERE entity = e.entity AND kind <> 'reconcile' AND status = 'succeeded'
                    AND finished_at IS NOT NULL
                  ORDER BY started_at DESC LIMIT 1) r ON true
),
reconciles AS (
    SELECT e.entity, r.drift, r.finished_at
    FROM unnest($2::text[]) AS e(entity)
    JOIN LATERAL (SELECT drift, finished_at FROM tds_sync_runs
                  WHERE entity = e.entity AND kind = 'reconcile' AND drift IS NOT NULL
                    AND finished_at IS NOT NULL
                  ORDER BY started_at DESC LIMIT 1) r ON true
),
-- Zoho calls per organization today (UTC), as the rate limiter counts them
usage AS (
    SELECT u.organization_id, sum(u.calls) AS calls
    FROM tds_api_usage u CROSS JOIN clock c
    WHERE u.second >= date_trunc('day', c.now, 'UTC') AND u.second < date_trunc('day', c.now, 'UTC') + interval '1 day'
    GROUP BY u.organization_id
),
-- gauges that are the seconds since a moment: aged once, in the last arm below (never negative)
ages AS (
    SELECT 'queue_oldest_ready_age_seconds' AS name, jsonb_build_object('entity', entity) AS labels,
           oldest_ready AS since
    FROM pending WHERE oldest_ready IS NOT NULL
    UNION ALL
    SELECT 'dlq_oldest_age_seconds', jsonb_build_object('entity', entity), oldest FROM dead_letters
    UNION ALL
    SELECT 'pull_lag_seconds', jsonb_build_object('entity', entity), finished_at FROM pulls
    UNION ALL
    SELECT 'reconcile_age_seconds', jsonb_build_object('entity', entity), finished_at FROM reconciles
    UNION ALL
    SELECT 'rollup_lag_seconds', '{}'::jsonb, rolled_through FROM tds_metric_rollup WHERE rolled_through IS NOT NULL
)
SELECT 'queue_depth' AS name, jsonb_build_object('entity', entity, 'state', 'pending') AS labels,
       events::float8 AS value
FROM pending
UNION ALL
SELECT 'queue_depth', jsonb_build_object('entity', entity, 'state', 'processing'), events::float8 FROM processing
UNION ALL
SELECT 'queue_ready', jsonb_build_object('entity', entity), ready::float8 FROM pending
UNION ALL
SELECT 'dlq_open', jsonb_build_object('entity', entity), open::float8 FROM dead_letters
UNION ALL
SELECT 'conflicts_open', jsonb_build_object('entity', entity), open::float8 FROM conflicts
UNION ALL
SELECT 'workers', jsonb_build_object('circuit_state', circuit_state), workers::float8 FROM workers
UNION ALL
SELECT 'reconcile_drift', jsonb_build_object('entity', entity), drift::float8 FROM reconciles
UNION ALL
SELECT 'zoho_calls_today', jsonb_build_object('organization', organization_id), calls::float8 FROM usage
UNION ALL
SELECT a.name, a.labels, greatest(extract(epoch FROM c.now - a.since), 0)::float8 FROM ages a CROSS JOIN clock c;

-- name: metrics_clock
-- The database's clock (one clock for every process), or the pinned $1.
SELECT coalesce($1::timestamptz, now()) AS now;
