"""The TimescaleDB sink against real Kafka and TimescaleDB: once per event id, whatever happens."""

from __future__ import annotations

import json
import signal
import urllib.error
import urllib.request

import pytest
from pipeline_support import (
    encoded,
    in_process,
    in_thread,
    make_event,
    new_topic,
    produce,
    read_all,
    settings_env,
    settings_for,
)

from stackyard.pipeline.sink_timescaledb import TimescaleSink
from stackyard.testing.wait import wait_for

pytestmark = pytest.mark.integration


def health(env: dict[str, str]) -> tuple[int, dict]:
    url = f"http://{env['SINK_HEALTH_BIND']}/health"
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)
    except OSError:
        return 0, {}


def rows_of(sql, ids: list[str]) -> tuple[int, int]:
    """(rows, distinct event ids) among ``ids``."""
    found = sql(
        "SELECT count(*), count(DISTINCT event_id) FROM capture.requests "
        "WHERE event_id = ANY(%s::uuid[])",
        ids,
    )
    return found[0]


def test_duplicates_in_the_topic_give_one_row_per_event_id(broker, tsdb_env, sql):
    topic = new_topic(broker.bootstrap)
    events = [make_event(i) for i in range(300)]
    produce(
        broker.bootstrap, topic, encoded(events, copies=lambda i: 1 + (i % 3 == 0) + (i % 7 == 0))
    )
    env = settings_env(broker.bootstrap, topic, **tsdb_env, SINK_BATCH_MAX="64")
    ids = [e["id"] for e in events]
    with in_thread(TimescaleSink(settings_for(env))) as sink:
        wait_for(lambda: rows_of(sql, ids)[0] == len(ids), 60, "every event as a row")
        wait_for(lambda: sum(sink.lag.values()) == 0 and sink.lag, 30, "lag 0")
        status, body = health(env)
    assert rows_of(sql, ids) == (len(ids), len(ids))
    assert status == 200 and body["counters"]["duplicates_skipped"] > 0
    row = sql(
        "SELECT app, client_ip::text, method, route, status, params, user_agent "
        "FROM capture.requests WHERE event_id = %s",
        ids[2],
    )[0]
    e = events[2]
    assert row == (
        e["app"],
        e["client_ip"] + ("/128" if ":" in e["client_ip"] else "/32"),
        e["method"],
        e["route"],
        e["response"]["status"],
        e["query"],
        "test",
    )


def test_poison_goes_to_the_dead_letter_topic_with_its_reason_and_does_not_block(
    broker, tsdb_env, sql
):
    topic = new_topic(broker.bootstrap, partitions=1)
    good = [make_event(i) for i in range(20)]
    wrong_schema = {**make_event(99), "schema": "stackyard.density.event/2"}
    bad_ip = {**make_event(98), "client_ip": "not-an-ip"}
    messages = encoded(good[:10])
    messages += [(b"k", b"{not json"), (b"k", b"\xff\xfe"), (b"k", None)]
    messages += encoded([wrong_schema, bad_ip]) + encoded(good[10:])
    produce(broker.bootstrap, topic, messages)
    env = settings_env(broker.bootstrap, topic, **tsdb_env)
    ids = [e["id"] for e in good]
    with in_thread(TimescaleSink(settings_for(env))) as sink:
        wait_for(lambda: rows_of(sql, ids)[0] == len(ids), 60, "the good events behind the poison")
        wait_for(lambda: sink.lag.get(0) == 0, 30, "the partition committed past the poison")
    dead = read_all(broker.bootstrap, topic + ".dlq", 5)
    reasons = [dict(r.headers)["reason"].decode() for r in dead]
    assert len(dead) == 5 and sink.counters["dead_lettered"] == 5
    assert [r.split(":")[0] for r in reasons] == [
        "not JSON",
        "not UTF-8",
        "empty message (tombstone)",
        "schema",
        "client_ip",
    ]
    assert dead[0].value == b"{not json" and dict(dead[0].headers)["sink"] == b"timescaledb"


def test_the_aggregate_sums_equal_the_raw_counts_after_a_refresh(broker, tsdb_env, sql):
    sql("TRUNCATE capture.requests")
    topic = new_topic(broker.bootstrap)
    events = [make_event(i) for i in range(400)]
    produce(broker.bootstrap, topic, encoded(events, copies=lambda i: 1 + (i % 5 == 0)))
    env = settings_env(broker.bootstrap, topic, **tsdb_env)
    with in_thread(TimescaleSink(settings_for(env))):
        wait_for(lambda: sql("SELECT count(*) FROM capture.requests")[0][0] == 400, 60, "rows")
    sql("CALL refresh_continuous_aggregate('capture.requests_5m', NULL, NULL)")
    (job,) = sql(
        "SELECT job_id FROM timescaledb_information.jobs "
        "WHERE hypertable_name = 'requests_5m' "
        "AND proc_name = 'policy_refresh_continuous_aggregate'"
    )
    sql("CALL run_job(%s)", job[0])
    raw = sql(
        "SELECT app, route, status, count(*), count(*) FILTER (WHERE status >= 400) "
        "FROM capture.requests GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    )
    ((schema, table),) = sql(
        "SELECT materialization_hypertable_schema, materialization_hypertable_name "
        "FROM timescaledb_information.continuous_aggregates WHERE view_name = 'requests_5m'"
    )
    totals = (
        "SELECT app, route, status, sum(requests)::bigint, "
        "sum(errors_4xx + errors_5xx)::bigint FROM {} "
        "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    )
    materialized = sql(totals.format(f'"{schema}"."{table}"'))  # what the refresh stored
    assert raw == materialized == sql(totals.format("capture.requests_5m"))
    assert sum(r[3] for r in raw) == 400
    (last_run,) = sql(
        "SELECT last_run_status FROM timescaledb_information.job_stats WHERE job_id = %s", job[0]
    )
    assert last_run == ("Success",)


def test_a_timescaledb_restart_during_consumption_loses_nothing(broker, tsdb, tsdb_env, sql):
    topic = new_topic(broker.bootstrap)
    first = [make_event(i) for i in range(200)]
    later = [make_event(i) for i in range(200, 400)]
    produce(broker.bootstrap, topic, encoded(first))
    env = settings_env(broker.bootstrap, topic, **tsdb_env, SINK_BATCH_MAX="50")
    ids = [e["id"] for e in first + later]
    with in_thread(TimescaleSink(settings_for(env))) as sink:
        wait_for(lambda: rows_of(sql, ids)[0] > 0, 60, "the first rows")
        tsdb.pg_ctl("-m", "fast", "-w", "stop")
        produce(broker.bootstrap, topic, encoded(later))
        wait_for(lambda: health(env)[0] == 503, 30, "health 503 while the database is down")
        assert "timescaledb" in sink.down
        tsdb.pg_ctl("-l", str(tsdb.root / "log"), "-w", "-t", "60", "start")
        wait_for(lambda: rows_of(sql, ids)[0] == len(ids), 90, "every row after the restart")
        wait_for(lambda: health(env)[0] == 200, 30, "health 200 again")
    assert rows_of(sql, ids) == (len(ids), len(ids))


def test_killed_mid_stream_and_restarted_it_loses_nothing_and_duplicates_nothing(
    broker, tsdb_env, sql, tmp_path
):
    topic = new_topic(broker.bootstrap)
    events = [make_event(i) for i in range(3000)]
    produce(broker.bootstrap, topic, encoded(events))
    env = settings_env(
        broker.bootstrap, topic, **tsdb_env, SINK_BATCH_MAX="100", SINK_BATCH_WAIT_MS="50"
    )
    ids = [e["id"] for e in events]
    log = tmp_path / "sink.log"
    with in_process("sink_timescaledb", env, log) as proc:
        wait_for(lambda: rows_of(sql, ids)[0] > 0, 60, "rows arriving")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    killed_at = rows_of(sql, ids)[0]
    assert killed_at < len(ids), (
        "the sink finished before it could be killed: make the topic longer"
    )
    with in_process("sink_timescaledb", env, log) as proc:
        wait_for(lambda: rows_of(sql, ids)[0] == len(ids), 90, "every row after the restart")
        wait_for(
            lambda: health(env)[0] == 200 and not any(health(env)[1]["lag"].values()), 30, "lag 0"
        )
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    assert rows_of(sql, ids) == (len(ids), len(ids))
