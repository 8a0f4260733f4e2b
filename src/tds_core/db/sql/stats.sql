-- Stats for the admin API and the dashboard: rolled-up minutes (tds_metrics,
-- tds_metric_histograms) in [$1, $2); the minutes not rolled up yet are read live through
-- metrics_events_by_minute / metrics_samples_by_minute.

-- name: stats_rolled_counts
-- Count series ($3 names) per entity over the rolled minutes in [$1, $2).
SELECT name, labels ->> 'entity' AS entity, sum(value)::float8 AS value
FROM tds_metrics
WHERE bucket_start >= $1 AND bucket_start < $2 AND resolution_s = 60 AND name = ANY($3::text[])
GROUP BY 1, 2;

-- name: stats_rolled_minutes
-- Count series ($3 names) per rolled minute in [$1, $2), every entity added up (the busiest minute).
SELECT bucket_start AS minute, sum(value)::float8 AS value
FROM tds_metrics
WHERE bucket_start >= $1 AND bucket_start < $2 AND resolution_s = 60 AND name = ANY($3::text[])
GROUP BY 1;

-- name: stats_rolled_histogram
-- Histogram $3 per entity and bucket over the rolled minutes in [$1, $2) (arrays of $4 buckets only).
SELECT h.entity, (u.i - 1)::integer AS bucket, sum(u.c)::bigint AS n
FROM tds_metric_histograms h
CROSS JOIN LATERAL unnest(h.counts) WITH ORDINALITY AS u(c, i)
WHERE h.bucket_start >= $1 AND h.bucket_start < $2 AND h.name = $3 AND cardinality(h.counts) = $4
GROUP BY 1, 2;

-- name: stats_history
-- One series over [$3, $4) in steps of $5 seconds: per step the sum and the largest minute
-- ($1 name, $2 labels to match, NULL = every label set, summed).
SELECT floor(extract(epoch FROM m.bucket_start - $3::timestamptz) / $5)::integer AS step,
       sum(m.value)::float8 AS total, max(m.value)::float8 AS peak
FROM (
    -- one value per minute: label sets (entities) added up first
    SELECT bucket_start, sum(value) AS value
    FROM tds_metrics
    WHERE name = $1 AND resolution_s = 60 AND bucket_start >= $3 AND bucket_start < $4
      AND ($2::jsonb IS NULL OR labels = $2::jsonb)
    GROUP BY bucket_start
) m
GROUP BY 1
ORDER BY 1;
