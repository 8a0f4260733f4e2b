-- name: workers_register
-- A worker process announces itself.
INSERT INTO tds_workers (worker_id, hostname, pid) VALUES ($1, $2, $3)
ON CONFLICT (worker_id) DO UPDATE SET heartbeat_at = now(), stopped_at = NULL;

-- name: workers_heartbeat
-- Liveness, counters and circuit state, every few seconds.
UPDATE tds_workers
SET heartbeat_at = now(), processed = $2, failed = $3,
    circuit_changed_at = CASE WHEN circuit_state <> $4 THEN now() ELSE circuit_changed_at END,
    circuit_state = $4
WHERE worker_id = $1;

-- name: workers_stopped
-- A clean exit.
UPDATE tds_workers SET stopped_at = now(), heartbeat_at = now() WHERE worker_id = $1;

-- name: workers_hold_liveness_lock
-- Held for the worker's lifetime on its listener session: when the process dies, PostgreSQL
-- ends the session and releases the lock, and the rescuer hands its leases back at once.
SELECT pg_advisory_lock(hashtextextended($1, 0));
