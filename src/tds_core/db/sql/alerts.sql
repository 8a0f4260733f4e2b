-- Alerts: the numbers the rules judge, the life of an alert (open, update, silence, escalate,
-- resolve), its deliveries, and silences. Time-dependent statements take an optional now
-- (NULL = the database's clock) so tests pin it.

-- name: alerts_engine_lock
-- One evaluation at a time (a transaction lock: released at commit).
SELECT pg_advisory_xact_lock(hashtextextended('tds_alerts_engine', 0));

-- name: alerts_snapshot
-- What the rules judge, in one read ($1 now, $2 failure window s, $3 DLQ growth window s, $4 DLQ growth threshold, $5 DLQ max age s, $6 how long a silent worker is watched s, $7 entities).
WITH clock AS (
    SELECT coalesce($1::timestamptz, now()) AS now
),
-- worker attempts that ended in the failure window: applied or skipped (fine), retry or dead (failed)
attempts AS (
    SELECT count(*) FILTER (WHERE l.outcome IN ('completed', 'skipped_stale', 'skipped_unchanged', 'retry', 'dead'))
               AS finished,
           count(*) FILTER (WHERE l.outcome IN ('retry', 'dead')) AS failed
    FROM tds_sync_logs l, clock c
    WHERE l.created_at > c.now - make_interval(secs => $2) AND l.created_at <= c.now
),
-- events not yet applied, and when the oldest of them arrived
backlog AS (
    SELECT count(*) AS waiting, min(q.enqueued_at) AS oldest_at
    FROM tds_sync_queue q WHERE q.status IN ('pending', 'processing')
),
-- dead letters in the growth window, in arrival order: the count, and the moment it reached the
-- threshold (the threshold-th arrival), which is when the growth condition began
dlq_window AS (
    SELECT d.created_at, row_number() OVER (ORDER BY d.created_at, d.id) AS n
    FROM tds_dead_letter_queue d, clock c
    WHERE d.created_at > c.now - make_interval(secs => $3) AND d.created_at <= c.now
),
dlq_growth AS (
    SELECT count(*) AS new_in_window, max(created_at) FILTER (WHERE n = $4) AS threshold_reached_at
    FROM dlq_window
),
-- open dead letters: how many, the oldest, and how many are older than the allowed age
dlq_open AS (
    SELECT count(*) AS open, min(d.created_at) AS oldest_at,
           count(*) FILTER (WHERE d.created_at < c.now - make_interval(secs => $5)) AS over_age
    FROM tds_dead_letter_queue d CROSS JOIN clock c
    WHERE d.status = 'open'
),
-- per entity ever pulled: the first pull (lag counts from it until one succeeds), the last
-- success, a pull running now, and how the latest run ended; each a short index scan
pulls AS (
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'entity', e.entity, 'first_run_at', f.started_at, 'last_success_at', s.finished_at,
               'running_since', r.started_at, 'last_status', l.status, 'last_error', l.error)
               ORDER BY e.entity), '[]'::jsonb) AS pulls
    FROM unnest($7::text[]) AS e(entity)
    JOIN LATERAL (SELECT started_at FROM tds_sync_runs
                  WHERE entity = e.entity AND kind <> 'reconcile' ORDER BY started_at LIMIT 1) f ON true
    JOIN LATERAL (SELECT status, error FROM tds_sync_runs
                  WHERE entity = e.entity AND kind <> 'reconcile' ORDER BY started_at DESC LIMIT 1) l ON true
    LEFT JOIN LATERAL (SELECT finished_at FROM tds_sync_runs
                       WHERE entity = e.entity AND kind <> 'reconcile' AND status = 'succeeded'
                       ORDER BY started_at DESC LIMIT 1) s ON true
    LEFT JOIN LATERAL (SELECT started_at FROM tds_sync_runs
                       WHERE entity = e.entity AND kind <> 'reconcile' AND status = 'running'
                       ORDER BY started_at DESC LIMIT 1) r ON true
),
-- per entity: the latest reconciliation that finished with a drift count
reconciles AS (
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'entity', e.entity, 'run_id', x.id, 'finished_at', x.finished_at, 'drift', x.drift,
               'counts', coalesce(x.details -> 'counts', '{}'::jsonb)) ORDER BY e.entity), '[]'::jsonb) AS reconciles
    FROM unnest($7::text[]) AS e(entity)
    JOIN LATERAL (SELECT id, started_at, finished_at, drift, details FROM tds_sync_runs
                  WHERE entity = e.entity AND kind = 'reconcile' AND finished_at IS NOT NULL
                    AND drift IS NOT NULL
                  ORDER BY started_at DESC LIMIT 1) x ON true
    -- no drift alert for an entity whose first pull had not finished when the reconciliation
    -- began: a fresh install's records are "missing" until the initial sync brought them
    WHERE EXISTS (SELECT 1 FROM tds_sync_runs p
                  WHERE p.entity = e.entity AND p.kind <> 'reconcile' AND p.status = 'succeeded'
                    AND p.finished_at <= x.started_at)
),
-- workers that did not stop cleanly and beat within the watch horizon (older ones are taken for gone)
workers AS (
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'worker_id', w.worker_id, 'hostname', w.hostname, 'heartbeat_at', w.heartbeat_at,
               'circuit_state', w.circuit_state, 'circuit_changed_at', w.circuit_changed_at)
               ORDER BY w.worker_id), '[]'::jsonb) AS workers
    FROM tds_workers w, clock c
    WHERE w.stopped_at IS NULL AND w.heartbeat_at > c.now - make_interval(secs => $6)
),
-- client connections to the whole server against its limit
connections AS (
    SELECT count(*) AS used, current_setting('max_connections')::integer AS max_connections
    FROM pg_stat_activity WHERE backend_type = 'client backend'
)
SELECT c.now AS at,
       a.finished AS attempts_finished, a.failed AS attempts_failed,
       b.waiting AS backlog, b.oldest_at AS oldest_waiting_at,
       g.new_in_window AS dlq_new, g.threshold_reached_at AS dlq_threshold_reached_at,
       o.open AS dlq_open, o.oldest_at AS dlq_oldest_open_at, o.over_age AS dlq_over_age,
       p.pulls, r.reconciles, w.workers,
       k.used AS db_connections, k.max_connections AS db_max_connections
FROM clock c, attempts a, backlog b, dlq_growth g, dlq_open o, pulls p, reconciles r, workers w, connections k;

-- name: alerts_upsert_firing
-- Open an alert per firing fingerprint, or bump the live one ($1 now, then arrays: rules, fingerprints, severities, titles, messages, details as JSON text).
WITH clock AS (
    SELECT coalesce($1::timestamptz, now()) AS now
),
firing AS (
    SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
        AS f(rule, fingerprint, severity, title, message, details)
)
INSERT INTO tds_alerts AS a (rule, fingerprint, severity, title, message, details, first_seen_at, last_seen_at)
SELECT f.rule, f.fingerprint, f.severity, f.title, f.message, f.details::jsonb, c.now, c.now
FROM firing f, clock c
ON CONFLICT (fingerprint) WHERE status IN ('open', 'acknowledged', 'silenced')
DO UPDATE SET occurrences = a.occurrences + 1,
              last_seen_at = EXCLUDED.last_seen_at,
              severity = EXCLUDED.severity,
              title = EXCLUDED.title,
              message = EXCLUDED.message,
              -- the condition began when it was first seen; later evaluations keep that start
              details = EXCLUDED.details
                        || jsonb_strip_nulls(jsonb_build_object('condition_since', a.details -> 'condition_since'))
RETURNING a.id, a.fingerprint, (a.xmax = 0) AS inserted;

-- name: alerts_resolved_fingerprints
-- Which of these fingerprints already had an alert that ended (per-event rules raise one alert per event).
SELECT DISTINCT fingerprint FROM tds_alerts WHERE fingerprint = ANY($1::text[]) AND status = 'resolved';

-- name: alerts_apply_silences
-- Live alerts follow the silences in force at $1: muted while one matches, back to open (or acknowledged) after.
WITH clock AS (
    SELECT coalesce($1::timestamptz, now()) AS now
),
-- each live alert with the longest-running matching silence in force, if any
wanted AS (
    SELECT a.id, m.ends_at AS silenced_until, m.created_by AS silenced_by
    FROM tds_alerts a
    CROSS JOIN clock c
    LEFT JOIN LATERAL (
        SELECT s.ends_at, s.created_by FROM tds_alert_silences s
        WHERE s.starts_at <= c.now AND s.ends_at > c.now
          AND (s.rule IS NULL OR s.rule = a.rule)
          AND (s.fingerprint IS NULL OR s.fingerprint = a.fingerprint)
        ORDER BY s.ends_at DESC LIMIT 1) m ON true
    WHERE a.status IN ('open', 'acknowledged', 'silenced')
)
UPDATE tds_alerts a
SET status = CASE WHEN w.silenced_until IS NOT NULL THEN 'silenced'
                  WHEN a.acknowledged_at IS NOT NULL THEN 'acknowledged'
                  ELSE 'open' END,
    silenced_until = w.silenced_until,
    silenced_by = coalesce(w.silenced_by, a.silenced_by)
FROM wanted w
WHERE a.id = w.id
  AND ((a.status = 'silenced') <> (w.silenced_until IS NOT NULL)
       OR a.silenced_until IS DISTINCT FROM w.silenced_until)
RETURNING a.id, a.status;

-- name: alerts_resolve_cleared
-- Resolve live alerts of the evaluated rules ($2) whose fingerprint no longer fires ($3) at $1; says who heard of them.
UPDATE tds_alerts
SET status = 'resolved', resolved_at = coalesce($1::timestamptz, now()), resolved_by = 'tds'
WHERE status IN ('open', 'acknowledged', 'silenced')
  AND rule = ANY($2::text[])
  AND NOT (fingerprint = ANY($3::text[]))
RETURNING id, fingerprint, notified_at IS NOT NULL AS notified, escalation_level;

-- name: alerts_mark_notified
-- Open alerts nobody was told about yet are told now ($1 now); reopened = the fingerprint fired before.
UPDATE tds_alerts a
SET notified_at = coalesce($1::timestamptz, now())
WHERE a.status = 'open' AND a.notified_at IS NULL
RETURNING a.id, a.fingerprint,
          EXISTS (SELECT 1 FROM tds_alerts p WHERE p.fingerprint = a.fingerprint AND p.id < a.id) AS reopened;

-- name: alerts_escalate
-- Open alerts unacknowledged for $2 s since their last page go one level up, to at most $3 ($1 now).
UPDATE tds_alerts
SET escalation_level = escalation_level + 1, escalated_at = coalesce($1::timestamptz, now())
WHERE status = 'open'
  AND acknowledged_at IS NULL
  AND notified_at IS NOT NULL
  AND escalation_level < $3::integer
  AND coalesce(escalated_at, notified_at) <= coalesce($1::timestamptz, now()) - make_interval(secs => $2)
RETURNING id, fingerprint, escalation_level;

-- name: alert_deliveries_insert
-- Queue notifications ($1 now, then arrays: alert ids, reasons, levels, channels, channel types, recipients).
INSERT INTO tds_alert_deliveries (alert_id, reason, level, channel, channel_type, recipient, next_attempt_at,
                                  created_at)
SELECT d.alert_id, d.reason, d.level, d.channel, d.channel_type, d.recipient,
       coalesce($1::timestamptz, now()), coalesce($1::timestamptz, now())
FROM unnest($2::bigint[], $3::text[], $4::integer[], $5::text[], $6::text[], $7::text[])
    AS d(alert_id, reason, level, channel, channel_type, recipient)
RETURNING id;

-- name: alert_deliveries_claim
-- Take up to $2 due deliveries ($1 now; $4 only those of this report, NULL = any), each leased for $3 s by pushing its next attempt out, with its alert or report.
WITH clock AS (
    SELECT coalesce($1::timestamptz, now()) AS now
),
-- due rows in order; another runner's rows are skipped, not waited for
due AS (
    SELECT d.id FROM tds_alert_deliveries d, clock c
    WHERE d.status = 'pending' AND d.next_attempt_at <= c.now
      AND ($4::bigint IS NULL OR d.report_id = $4)
    ORDER BY d.next_attempt_at, d.id
    LIMIT $2
    FOR UPDATE OF d SKIP LOCKED
),
-- the lease: one more attempt, and nobody else takes the row until it runs out
claimed AS (
    UPDATE tds_alert_deliveries d
    SET attempts = d.attempts + 1, next_attempt_at = c.now + make_interval(secs => $3)
    FROM due, clock c
    WHERE d.id = due.id
    RETURNING d.id, d.alert_id, d.report_id, d.reason, d.level, d.channel, d.channel_type, d.recipient,
              d.attempts
)
-- what the notification says: the alert's fields, or the report's bodies
SELECT d.id, d.alert_id, d.report_id, d.reason, d.level, d.channel, d.channel_type, d.recipient, d.attempts,
       a.rule, a.fingerprint, a.severity, a.status, a.title, a.message, a.details, a.occurrences,
       a.first_seen_at, a.last_seen_at, a.acknowledged_by, a.resolved_by, a.escalation_level,
       r.kind AS report_kind, r.period_start, r.period_end, r.subject AS report_subject, r.text_body,
       r.chat_body, r.data AS report_data
FROM claimed d
LEFT JOIN tds_alerts a ON a.id = d.alert_id
LEFT JOIN tds_reports r ON r.id = d.report_id
ORDER BY d.id;

-- name: alert_deliveries_record
-- Record sending results ($1 now, then arrays: ids, attempts as claimed, statuses, errors, retry delays s); a lost lease changes nothing.
WITH clock AS (
    SELECT coalesce($1::timestamptz, now()) AS now
),
results AS (
    SELECT * FROM unnest($2::bigint[], $3::integer[], $4::text[], $5::text[], $6::float8[])
        AS r(id, attempts, status, error, retry_seconds)
)
UPDATE tds_alert_deliveries d
SET status = r.status,
    last_error = r.error,
    sent_at = CASE WHEN r.status = 'sent' THEN c.now END,
    next_attempt_at = CASE WHEN r.status = 'pending' THEN c.now + make_interval(secs => r.retry_seconds)
                           ELSE d.next_attempt_at END
FROM results r, clock c
WHERE d.id = r.id AND d.attempts = r.attempts AND d.status = 'pending'
RETURNING d.id, d.status, d.reason,
          -- condition to notification (alerts only): from the condition's start when known, else
          -- from first sight
          CASE WHEN d.status = 'sent' AND d.alert_id IS NOT NULL THEN (
              SELECT extract(epoch FROM d.sent_at - coalesce(
                  (a.details ->> 'condition_since')::timestamptz, a.first_seen_at))::float8
              FROM tds_alerts a WHERE a.id = d.alert_id) END AS notify_seconds;

-- name: alerts_list
-- Alerts newest first, optionally of one status ($1) or rule ($2), before id $3, at most $4.
SELECT id, rule, fingerprint, severity, status, title, message, details, occurrences, first_seen_at,
       last_seen_at, acknowledged_at, acknowledged_by, resolved_at, resolved_by, silenced_until, silenced_by,
       notified_at, escalation_level, escalated_at, note
FROM tds_alerts
WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR rule = $2) AND ($3::bigint IS NULL OR id < $3)
ORDER BY id DESC
LIMIT $4;

-- name: alerts_get
-- One alert.
SELECT id, rule, fingerprint, severity, status, title, message, details, occurrences, first_seen_at,
       last_seen_at, acknowledged_at, acknowledged_by, resolved_at, resolved_by, silenced_until, silenced_by,
       notified_at, escalation_level, escalated_at, note
FROM tds_alerts WHERE id = $1;

-- name: alert_deliveries_of_alert
-- One alert's deliveries in order, with the time from its condition to each notification sent.
SELECT d.id, d.reason, d.level, d.channel, d.channel_type, d.recipient, d.status, d.attempts, d.last_error,
       d.next_attempt_at, d.created_at, d.sent_at,
       extract(epoch FROM d.sent_at - coalesce((a.details ->> 'condition_since')::timestamptz,
                                               a.first_seen_at))::float8 AS notify_seconds
FROM tds_alert_deliveries d JOIN tds_alerts a ON a.id = d.alert_id
WHERE d.alert_id = $1
ORDER BY d.id;

-- name: alerts_acknowledge
-- Someone is on it ($2 who, $3 note, $4 now): escalation stops; a silenced alert stays muted until its silence ends.
UPDATE tds_alerts
SET status = CASE WHEN status = 'open' THEN 'acknowledged' ELSE status END,
    acknowledged_at = coalesce($4::timestamptz, now()), acknowledged_by = $2, note = coalesce($3, note)
WHERE id = $1 AND status IN ('open', 'silenced') AND acknowledged_at IS NULL
RETURNING id;

-- name: alerts_resolve
-- An operator closes a live alert ($2 who, $3 note, $4 now); if its condition still holds the engine opens a new one.
UPDATE tds_alerts
SET status = 'resolved', resolved_at = coalesce($4::timestamptz, now()), resolved_by = $2,
    note = coalesce($3, note)
WHERE id = $1 AND status IN ('open', 'acknowledged', 'silenced')
RETURNING id;

-- name: alert_silences_insert
-- A silence over a rule and/or a fingerprint ($1, $2) from $3 (default now) for $4 minutes ($5 reason, $6 who, $7 now).
WITH clock AS (
    SELECT coalesce($7::timestamptz, now()) AS now
),
-- times stay within what clients can read back (1970 to 9999, never +-infinity), and a silence
-- always ends after it starts
span AS (
    SELECT greatest(least(coalesce($3::timestamptz, c.now), '9999-12-31 23:59:59.998+00'::timestamptz),
                    '1970-01-01 00:00:00+00'::timestamptz) AS starts_at
    FROM clock c
)
INSERT INTO tds_alert_silences (rule, fingerprint, starts_at, ends_at, reason, created_by, created_at)
SELECT $1, $2, s.starts_at,
       least(s.starts_at + make_interval(mins => $4), '9999-12-31 23:59:59.999+00'::timestamptz),
       $5, $6, c.now
FROM span s, clock c
RETURNING id, rule, fingerprint, starts_at, ends_at, reason, created_by, created_at;

-- name: alert_silences_list
-- Silences newest first: those not yet over at $2 (now), or every one when $1; at most $3.
SELECT id, rule, fingerprint, starts_at, ends_at, reason, created_by, created_at
FROM tds_alert_silences
WHERE $1::boolean OR ends_at > coalesce($2::timestamptz, now())
ORDER BY id DESC
LIMIT $3;

-- name: alert_silences_get
-- One silence.
SELECT id, rule, fingerprint, starts_at, ends_at, reason, created_by, created_at
FROM tds_alert_silences WHERE id = $1;

-- name: alert_silences_end
-- End a silence that is not over yet at $2 (now): it stops now (one that has not started ends as it starts).
UPDATE tds_alert_silences
SET ends_at = greatest(coalesce($2::timestamptz, now()), starts_at + interval '1 millisecond')
WHERE id = $1 AND ends_at > coalesce($2::timestamptz, now())
RETURNING id, rule, fingerprint, starts_at, ends_at, reason, created_by, created_at;
