-- name: jobs_insert
-- A new background job, queued; its creation wakes the runners (NOTIFY is sent at commit).
WITH job AS (
    INSERT INTO tds_jobs (kind, params, total, created_by)
    VALUES ($1, $2::jsonb, $3, $4)
    RETURNING *
), rung AS (
    -- The runners' doorbell: a wake-up, not a message (they poll too).
    SELECT pg_notify('tds_jobs', '')
)
SELECT job.* FROM job, rung;

-- name: jobs_get
-- One job with its progress.
SELECT * FROM tds_jobs WHERE id = $1;

-- name: jobs_lock_one
-- One job's state, locked for the rest of the transaction (cancel).
SELECT id, status FROM tds_jobs WHERE id = $1 FOR UPDATE;

-- name: jobs_page
-- Jobs, newest first, optionally of one status and kind, one page before the keyset id $3.
SELECT * FROM tds_jobs
WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR kind = $2) AND ($3::bigint IS NULL OR id < $3)
ORDER BY id DESC
LIMIT $4;

-- name: jobs_request_cancel
-- Cancel a job: a queued one ends at once; a running one is asked to stop after its current batch.
UPDATE tds_jobs
SET cancel_requested = true,
    status = CASE WHEN status = 'queued' THEN 'cancelled' ELSE status END,
    finished_at = CASE WHEN status = 'queued' THEN now() ELSE finished_at END
WHERE id = $1 AND status IN ('queued', 'running')
RETURNING *;

-- name: jobs_claim
-- Take one job to run (of the kinds $5 this runner has handlers for; $3 picks one by id): the oldest
-- queued one, or a running one whose runner stopped beating before $2 - $4 seconds (it died: the
-- job resumes from its last checkpoint, and the takeover is kept in its result).
WITH next AS (
    -- SKIP LOCKED: two runners never take the same job, and neither waits for the other.
    SELECT id, runner AS previous_runner FROM tds_jobs
    WHERE (status = 'queued'
           OR (status = 'running'
               AND heartbeat_at < coalesce($2::timestamptz, now()) - make_interval(secs => $4)))
      AND ($3::bigint IS NULL OR id = $3) AND kind = ANY($5::text[])
    ORDER BY id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
UPDATE tds_jobs j
SET status = 'running', runner = $1::text, started_at = coalesce(j.started_at, now()), heartbeat_at = now(),
    result = CASE WHEN next.previous_runner IS NULL THEN j.result
                  ELSE jsonb_set(j.result, '{takeovers}', coalesce(j.result -> 'takeovers', '[]'::jsonb)
                       || jsonb_build_array(jsonb_build_object('from', next.previous_runner, 'by', $1::text,
                                                               'at', now(), 'done', j.done))) END
FROM next
WHERE j.id = next.id
RETURNING j.*;

-- name: jobs_heartbeat
-- The runner is alive; answers whether an operator asked the job to stop (no row: the job was taken over).
UPDATE tds_jobs SET heartbeat_at = now()
WHERE id = $1 AND runner = $2 AND status = 'running'
RETURNING cancel_requested;

-- name: jobs_progress
-- Progress (absolute counters) and, when given, the checkpoint a successor resumes from; guarded by
-- the runner, so a runner whose job was taken over writes nothing (no row).
UPDATE tds_jobs
SET done = $3, total = coalesce($4, total), skipped = $5, heartbeat_at = now(),
    result = CASE WHEN $6::jsonb IS NULL THEN result ELSE jsonb_set(result, '{checkpoint}', $6::jsonb) END
WHERE id = $1 AND runner = $2 AND status = 'running'
RETURNING cancel_requested;

-- name: jobs_finish
-- The end of a run: completed, cancelled or failed, with the handler's result (takeovers are kept).
-- A completed job's total is what it handled (letters resolved by someone else meanwhile drop out).
UPDATE tds_jobs
SET status = $3, error = $5, finished_at = now(), heartbeat_at = now(),
    result = $4::jsonb || jsonb_strip_nulls(jsonb_build_object('takeovers', result -> 'takeovers')),
    total = CASE WHEN $3 = 'completed' THEN done ELSE total END
WHERE id = $1 AND runner = $2 AND status = 'running'
RETURNING *;

-- name: jobs_release
-- A runner stopping (shutdown, lost leadership) hands its job back: queued again, checkpoint kept.
UPDATE tds_jobs SET status = 'queued', runner = NULL, heartbeat_at = NULL
WHERE id = $1 AND runner = $2 AND status = 'running';

-- name: jobs_initial_sync_open
-- The initial sync job that is queued or running, if any (there is at most one at a time).
SELECT id FROM tds_jobs
WHERE kind = 'sync' AND status IN ('queued', 'running') AND params ? 'initial'
ORDER BY id LIMIT 1;
