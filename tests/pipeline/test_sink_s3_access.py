"""The S3 sink when the lake refuses it: a bucket that does not exist, credentials that are
wrong. Nothing is committed, dead-lettered or lost meanwhile; /health says what to fix;
once fixed, every event lands exactly once (real Kafka and MinIO)."""

from __future__ import annotations

import uuid

import pytest
from pipeline_support import (
    encoded,
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


def refused(sink: S3Sink, words: str) -> bool:
    healthy, status = sink.status()
    return not healthy and words in status["dependencies"]["s3"]


def test_a_missing_bucket_holds_every_event_until_it_exists(broker, minio):
    topic = new_topic(broker.bootstrap)
    bucket = f"lake-{uuid.uuid4().hex[:10]}"  # not created yet
    events = [make_event(i) for i in range(120)]
    produce(broker.bootstrap, topic, encoded(events))
    env = settings_env(broker.bootstrap, topic, SINK_S3_ENDPOINT=minio.endpoint,
                       SINK_S3_BUCKET=bucket, SINK_S3_ACCESS_KEY=minio.access_key,
                       SINK_S3_SECRET_KEY=minio.secret_key, SINK_FLUSH_AGE_S="1")  # fmt: skip
    with in_thread(S3Sink(settings_for(env))) as sink:
        wait_for(lambda: refused(sink, f"bucket {bucket!r} does not exist"), 30, "the 503")
        assert sink.counters["dead_lettered"] == 0
        minio.create_bucket(bucket)
        s3 = minio.client()
        wait_for(lambda: len(ids_in(lake_records(s3, bucket))) == 120, 90, "every event")
        wait_for(lambda: sink.status()[0] and not any(sink.lag.values()), 30, "healthy, lag 0")
    assert set(ids_in(lake_records(s3, bucket)).values()) == {1}
    assert read_all(broker.bootstrap, topic + ".dlq", 1, timeout=3) == []


def test_wrong_credentials_commit_nothing_and_a_restart_with_right_ones_loses_nothing(
    broker, minio, bucket, s3_env
):
    topic = new_topic(broker.bootstrap)
    events = [make_event(i) for i in range(150)]
    produce(broker.bootstrap, topic, encoded(events, copies=lambda i: 1 + (i % 5 == 0)))
    env = settings_env(broker.bootstrap, topic, **s3_env, SINK_FLUSH_AGE_S="1")
    wrong = settings_for({**env, "SINK_S3_SECRET_KEY": "not-the-secret"})
    s3 = minio.client()
    with in_thread(S3Sink(wrong)) as sink:
        wait_for(lambda: refused(sink, "S3 refused the credentials"), 60, "the 503")
        consumed = sink.counters["consumed"]
        assert consumed > 0 and sink.counters["stored"] == 0
    assert lake_records(s3, bucket) == {}  # stopped with nothing stored, nothing committed
    with in_thread(S3Sink(settings_for(env))) as sink:
        wait_for(lambda: len(ids_in(lake_records(s3, bucket))) == 150, 90, "every event")
        wait_for(lambda: not any(sink.lag.values()), 30, "lag 0")
        # the replay started at the beginning: nothing had been committed
        assert sink.counters["consumed"] == 180
    assert set(ids_in(lake_records(s3, bucket)).values()) == {1}
    assert read_all(broker.bootstrap, topic + ".dlq", 1, timeout=3) == []
