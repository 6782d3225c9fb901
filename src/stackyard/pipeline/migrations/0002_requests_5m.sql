-- 5-minute buckets per app / method / route / status: requests, errors by status class,
-- average and p95 duration. materialized_only = false makes it a real-time aggregate: rows
-- newer than the last refresh are aggregated from capture.requests at query time.
CREATE MATERIALIZED VIEW capture.requests_5m
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT
    time_bucket(INTERVAL '5 minutes', time) AS bucket,
    app,
    method,
    route,
    status,
    count(*) AS requests,
    count(*) FILTER (WHERE status >= 400 AND status < 500) AS errors_4xx,
    count(*) FILTER (WHERE status >= 500) AS errors_5xx,
    avg(duration_ms) AS avg_duration_ms,
    percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95_duration_ms
FROM capture.requests
GROUP BY bucket, app, method, route, status
WITH NO DATA;

SELECT add_continuous_aggregate_policy('capture.requests_5m',
    start_offset => INTERVAL '1 day',
    end_offset => INTERVAL '5 minutes',
    schedule_interval => INTERVAL '1 minute');

-- The current (still open) bucket, for dashboards: the real-time aggregate aggregates it
-- from the raw rows at query time (it is newer than any refresh).
CREATE VIEW capture.requests_current_5m AS
SELECT * FROM capture.requests_5m
WHERE bucket >= time_bucket(INTERVAL '5 minutes', now());
