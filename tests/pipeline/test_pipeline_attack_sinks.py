"""Hostile events on a real topic through the real sinks: stored once or dead-lettered."""

from __future__ import annotations

import collections
import json
import re

import pytest
from pipeline_support import (
    ids_in,
    in_thread,
    lake_records,
    make_event,
    new_topic,
    produce,
    read_all,
    settings_env,
    settings_for,
)

from stackyard.pipeline.sink_s3 import S3Sink
from stackyard.testing.wait import wait_for

pytestmark = pytest.mark.integration


def value(event: dict) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()


def hostile(i: int, **changes) -> bytes:
    event = make_event(i)
    event.update(changes)
    return value(event)


def produce_hostile(broker, topic: str, good: list[dict], poison: list[bytes], repeated: dict):
    """The good events under a key that is not their client, the poison, and one event
    1000 times: what both sinks are attacked with."""
    messages = [(b"wrong-key", value(e)) for e in good]
    messages += [(b"10.0.0.1", v) for v in poison]
    messages += [(repeated["client_ip"].encode(), value(repeated))] * 1000
    produce(broker.bootstrap, topic, messages)


def poison_values() -> list[bytes]:
    return [
        hostile(10, client_ip="../../x"),
        hostile(11, client_ip="%2e%2e"),
        hostile(12, client_ip=["10.0.0.1"]),
        hostile(13, client_ip="1" * 100_000),
        hostile(14, time="0001-01-01T00:00:00+14:00"),  # used to kill the sink (OverflowError)
        hostile(15, time="2026-11-23T14:00:00"),
        hostile(16, schema="stackyard.density.event/2"),
        hostile(17, response={"status": 10**12}),
        value(make_event(18)).replace(b'"query":[', b'"query":[[NaN],'),
        b"[" * 100_000 + b"]" * 100_000,
        b"\xff\xfe not utf-8",
    ]


def test_hostile_events_are_stored_once_or_dead_lettered_and_keys_stay_in_layout(
    broker, minio, bucket, s3_env
):
    topic = new_topic(broker.bootstrap, partitions=2)
    good = [
        make_event(0, ip="fe80::1%eth0"),
        make_event(1, ip="::ffff:192.0.2.1"),
        make_event(2, ip="10.0.0.9"),
        {
            **make_event(3),
            "extra": {"deep": [[[[1]]]]},
            "request": {"headers": [["X", "y" * 100_000]]},
        },
    ]
    repeated = make_event(4)
    poison = poison_values()
    produce_hostile(broker, topic, good, poison, repeated)
    env = settings_env(broker.bootstrap, topic, **s3_env, SINK_FLUSH_AGE_S="1")
    s3 = minio.client()
    want = len(good) + 1
    with in_thread(S3Sink(settings_for(env))) as sink:
        wait_for(
            lambda: sum(len(v) for v in lake_records(s3, bucket).values()) >= want, 60, "events"
        )
        wait_for(lambda: sink.lag and not any(sink.lag.values()), 30, "lag 0")
    records = lake_records(s3, bucket)
    ids = ids_in(records)
    assert ids == collections.Counter({e["id"]: 1 for e in [*good, repeated]})
    layout = re.compile(
        rf"^\d{{4}}-\d\d-\d\d/\d\d/[0-9a-f.-]+/{re.escape(topic)}-\d+-\d{{20}}\.jsonl\.gz$"
    )
    assert all(layout.match(key) for key in records), list(records)
    segments = {key.split("/")[2] for key in records}
    assert {"fe80--1", "--ffff-c000-201", "10.0.0.9"} <= segments
    dead = read_all(broker.bootstrap, topic + ".dlq", len(poison))
    assert len(dead) == len(poison)
    assert all(dict(r.headers)["reason"] for r in dead)


def rows_of(sql, ids: list[str]) -> dict[str, int]:
    found = sql(
        "SELECT event_id::text, count(*) FROM capture.requests "
        "WHERE event_id = ANY(%s::uuid[]) GROUP BY 1",
        ids,
    )
    return dict(found)


def test_hostile_events_give_one_row_each_or_dead_letter_in_timescaledb(broker, tsdb_env, sql):
    from stackyard.pipeline.sink_timescaledb import TimescaleSink

    topic = new_topic(broker.bootstrap, partitions=2)
    good = [
        make_event(0, ip="fe80::1%eth0"),
        {**make_event(1), "path": "/a\u0000b", "query": [["k\u0000", "\u0000"]]},
        {**make_event(2), "time": "0001-01-02T00:00:00Z"},
        {**make_event(3), "time": "9999-12-30T00:00:00Z"},
        {**make_event(5), "duration_ms": 1e308, "request": {"body": {"size": 2**61}}},
        {**make_event(6), "request": {"headers": [["User-Agent", "\u0000" * 1000]]}},
    ]
    repeated = make_event(4)
    poison = poison_values()
    produce_hostile(broker, topic, good, poison, repeated)
    env = settings_env(broker.bootstrap, topic, **tsdb_env, SINK_BATCH_MAX="64")
    ids = [e["id"] for e in [*good, repeated]]
    with in_thread(TimescaleSink(settings_for(env))) as sink:
        wait_for(lambda: sink.lag and not any(sink.lag.values()), 60, "lag 0")
    dead = read_all(broker.bootstrap, topic + ".dlq", len(poison) + 1, timeout=5)
    reasons = [dict(r.headers)["reason"].decode()[:300] for r in dead]
    reasons = [r for r in reasons if r.startswith("timescaledb")] or reasons
    assert rows_of(sql, ids) == dict.fromkeys(ids, 1), reasons
    assert len(dead) == len(poison), reasons
    assert all(dict(r.headers)["reason"] for r in dead)
