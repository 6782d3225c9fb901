-- One row per captured request, keyed on (time, event_id): a hypertable's unique index must
-- include its time column, and a duplicate event has the same time and id.
CREATE EXTENSION IF NOT EXISTS timescaledb;
CREATE SCHEMA IF NOT EXISTS capture;

CREATE TABLE capture.requests (
    time           timestamptz      NOT NULL,
    event_id       uuid             NOT NULL,
    app            text             NOT NULL,
    client_ip      inet             NOT NULL,
    method         text             NOT NULL,
    path           text             NOT NULL,
    route          text             NOT NULL,
    params         jsonb            NOT NULL DEFAULT '[]',
    status         smallint         NOT NULL,
    duration_ms    double precision NOT NULL,
    request_bytes  bigint,
    response_bytes bigint,
    user_agent     text,
    PRIMARY KEY (time, event_id)
);
COMMENT ON TABLE capture.requests IS
    'One row per request captured by app_a/app_b (schema stackyard.density.event/1); '
    'params are the query parameters as [name, value] pairs in order';

SELECT create_hypertable('capture.requests', by_range('time', INTERVAL '1 day'));
CREATE INDEX requests_client_ip_time ON capture.requests (client_ip, time DESC);
CREATE INDEX requests_route_time ON capture.requests (app, route, time DESC);
