"""The S3 sink against real Kafka and MinIO: one lake record per event id, whatever crashes."""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime

import pytest
from pipeline_support import (
    encoded,
    ids_in,
    in_process,
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


class Crashed(BaseException):
    pass


class CrashAfterUpload(S3Sink):
    """Dies in the window between a flush's uploads and its commit (nothing is committed)."""

    crashed = False

    async def before_commit(self, tp, offset):
        self.crashed = True
        raise Crashed

    async def commit(self, offsets):
        if self.crashed:
            raise Crashed
        return await super().commit(offsets)


def test_duplicates_give_one_lake_record_per_event_at_its_prefix(broker, minio, bucket, s3_env):
    topic = new_topic(broker.bootstrap)
    events = [make_event(i) for i in range(250)]
    produce(broker.bootstrap, topic, encoded(events, copies=lambda i: 1 + (i % 4 == 0)))
    env = settings_env(broker.bootstrap, topic, **s3_env, SINK_FLUSH_AGE_S="1")
    s3 = minio.client()
    with in_thread(S3Sink(settings_for(env))) as sink:
        wait_for(lambda: len(ids_in(lake_records(s3, bucket))) == 250, 60, "every event")
        wait_for(lambda: sink.lag and not any(sink.lag.values()), 30, "lag 0")
    records = lake_records(s3, bucket)
    assert set(ids_in(records).values()) == {1}
    by_id = {e["id"]: e for e in events}
    for key, lines in records.items():
        date, hour, ip, name = key.split("/")
        assert name.startswith(f"{topic}-") and name.endswith(".jsonl.gz")
        for line in lines:
            assert line == by_id[line["id"]]  # the whole event, as consumed
            when = datetime.fromisoformat(line["time"]).astimezone(UTC)
            assert (date, hour) == (f"{when:%Y-%m-%d}", f"{when:%H}")
            assert ip == line["client_ip"].replace(":", "-")
    assert any(key.split("/")[2] == "2001-db8--1" for key in records)


def test_a_crash_after_upload_before_commit_is_replayed_onto_the_same_names(
    broker, minio, bucket, s3_env
):
    topic = new_topic(broker.bootstrap)
    events = [make_event(i) for i in range(600)]
    produce(broker.bootstrap, topic, encoded(events))
    s3 = minio.client()
    # first run: one big flush per partition after 2 s, then death before its commit
    env = settings_env(broker.bootstrap, topic, **s3_env, SINK_FLUSH_AGE_S="2")
    with in_thread(CrashAfterUpload(settings_for(env))) as crashed:
        wait_for(lambda: crashed.crashed and lake_records(s3, bucket), 60, "uploads, then crash")
        time.sleep(1)  # let the other partitions' uploads finish too
    first = {key: len(lines) for key, lines in lake_records(s3, bucket).items()}
    stamps = {k: s3.head_object(Bucket=bucket, Key=k)["LastModified"] for k in first}
    # replay with other batch boundaries: small size-triggered flushes
    time.sleep(1.1)  # LastModified has a resolution of a second
    env = settings_env(
        broker.bootstrap,
        topic,
        **s3_env,
        SINK_FLUSH_BYTES="4000",
        SINK_FLUSH_AGE_S="1",
        SINK_GROUP=env["SINK_GROUP"],
    )
    with in_thread(S3Sink(settings_for(env))) as sink:
        wait_for(lambda: len(ids_in(lake_records(s3, bucket))) == 600, 60, "every event")
        wait_for(lambda: sink.lag and not any(sink.lag.values()), 30, "lag 0")
    records = lake_records(s3, bucket)
    assert set(ids_in(records).values()) == {1}, "an event is in the lake twice"
    assert len(records) > len(first), "the replay's boundaries did not differ"
    for key in first:  # every object of the crashed flush was written again by the replay
        assert s3.head_object(Bucket=bucket, Key=key)["LastModified"] > stamps[key]


def test_poison_goes_to_the_dead_letter_topic_and_the_partition_moves_on(
    broker, minio, bucket, s3_env
):
    topic = new_topic(broker.bootstrap, partitions=1)
    good = [make_event(i) for i in range(10)]
    messages = [*encoded(good[:5]), (b"k", b"[1, 2]")]
    messages += encoded([{**make_event(50), "time": "yesterday"}]) + encoded(good[5:])
    produce(broker.bootstrap, topic, messages)
    env = settings_env(broker.bootstrap, topic, **s3_env, SINK_FLUSH_AGE_S="1")
    with in_thread(S3Sink(settings_for(env))) as sink:
        wait_for(lambda: len(ids_in(lake_records(minio.client(), bucket))) == 10, 60, "good ones")
        wait_for(lambda: sink.lag.get(0) == 0, 30, "committed past the poison")
    dead = read_all(broker.bootstrap, topic + ".dlq", 2)
    assert [dict(r.headers)["reason"].split(b":")[0] for r in dead] == [
        b"not a JSON object",
        b"time",
    ]
    assert {dict(r.headers)["sink"] for r in dead} == {b"s3"}


def test_minio_and_kafka_restarts_during_consumption_lose_nothing(broker, minio, bucket, s3_env):
    topic = new_topic(broker.bootstrap)
    batches = [[make_event(i) for i in range(k * 150, (k + 1) * 150)] for k in range(3)]
    produce(broker.bootstrap, topic, encoded(batches[0]))
    env = settings_env(broker.bootstrap, topic, **s3_env, SINK_FLUSH_AGE_S="1")
    s3 = minio.client()
    with in_thread(S3Sink(settings_for(env))) as sink:
        wait_for(lambda: len(ids_in(lake_records(s3, bucket))) == 150, 60, "the first events")
        minio.kill()
        produce(broker.bootstrap, topic, encoded(batches[1]))
        wait_for(lambda: "s3" in sink.down, 30, "the sink noticing MinIO is gone")
        minio.start()
        wait_for(lambda: len(ids_in(lake_records(s3, bucket))) == 300, 60, "after MinIO is back")
        broker.stop()
        wait_for(lambda: "kafka" in sink.down, 30, "the sink noticing Kafka is gone")
        broker.start()
        produce(broker.bootstrap, topic, encoded(batches[2]))
        wait_for(lambda: len(ids_in(lake_records(s3, bucket))) == 450, 90, "after Kafka is back")
        wait_for(lambda: sink.lag and not any(sink.lag.values()), 30, "lag 0")
    assert set(ids_in(lake_records(s3, bucket)).values()) == {1}


def test_sigkill_mid_stream_then_sigterm_loses_and_duplicates_nothing(
    broker, minio, bucket, s3_env, tmp_path
):
    topic = new_topic(broker.bootstrap)
    # enough that the kill lands mid-stream even when the machine is quiet (3000 could all
    # be stored before it)
    total = 12_000
    events = [make_event(i) for i in range(total)]
    produce(broker.bootstrap, topic, encoded(events))
    env = settings_env(
        broker.bootstrap, topic, **s3_env, SINK_FLUSH_BYTES="20000", SINK_FLUSH_AGE_S="1"
    )
    s3, log = minio.client(), tmp_path / "sink.log"
    with in_process("sink_s3", env, log) as proc:
        wait_for(lambda: lake_records(s3, bucket), 60, "objects arriving")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert len(ids_in(lake_records(s3, bucket))) < total, "finished before the kill"
    with in_process("sink_s3", env, log) as proc:
        wait_for(lambda: len(ids_in(lake_records(s3, bucket))) == total, 120, "every event")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    assert set(ids_in(lake_records(s3, bucket)).values()) == {1}


def test_a_duplicate_arriving_flushes_or_restarts_later_is_left_out(broker, minio, bucket, s3_env):
    topic = new_topic(broker.bootstrap)
    first = [make_event(i) for i in range(200)]
    later = [make_event(i) for i in range(200, 300)]
    produce(broker.bootstrap, topic, encoded(first))
    env = settings_env(broker.bootstrap, topic, **s3_env, SINK_FLUSH_AGE_S="1")
    s3 = minio.client()
    with in_thread(S3Sink(settings_for(env))) as sink:
        wait_for(lambda: len(ids_in(lake_records(s3, bucket))) == 200, 60, "the first events")
        produce(broker.bootstrap, topic, encoded(first[1::5]))  # after their flush, same process
        wait_for(lambda: sink.counters["duplicates_skipped"] == 40, 30, "the late copies seen")
        wait_for(lambda: sink.lag and not any(sink.lag.values()), 30, "lag 0")
    # a new process knows nothing: the ids come from the committed objects in the bucket
    produce(broker.bootstrap, topic, encoded(first[::3] + later + later[::2]))
    with in_thread(S3Sink(settings_for(env))) as sink:
        wait_for(lambda: len(ids_in(lake_records(s3, bucket))) == 300, 60, "the later events")
        wait_for(lambda: sink.lag and not any(sink.lag.values()), 30, "lag 0")
        assert sink.counters["duplicates_skipped"] == 67 + 50
        assert sink.counters["prefixes_loaded"] > 0
    assert set(ids_in(lake_records(s3, bucket)).values()) == {1}


def test_two_sinks_in_one_group_one_killed_mid_stream_give_each_event_once(
    broker, minio, bucket, s3_env, tmp_path
):
    """Partitions move between the group's members twice (the second member joining, the
    first one's death): an uncommitted flush of a partition that moves is replayed by its new
    owner onto the same object names, so the lake has each event once."""
    topic = new_topic(broker.bootstrap, partitions=6)
    total = 12_000
    produce(broker.bootstrap, topic, encoded([make_event(i) for i in range(total)]))
    env = settings_env(
        broker.bootstrap, topic, **s3_env, SINK_FLUSH_BYTES="20000", SINK_FLUSH_AGE_S="1"
    )
    other = {**env, "SINK_HEALTH_BIND": settings_env(broker.bootstrap, topic)["SINK_HEALTH_BIND"]}
    s3 = minio.client()
    with (
        in_process("sink_s3", env, tmp_path / "first.log") as first,
        in_process("sink_s3", other, tmp_path / "second.log") as second,
    ):
        wait_for(lambda: len(ids_in(lake_records(s3, bucket))) > 1000, 60, "objects arriving")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        assert len(ids_in(lake_records(s3, bucket))) < total, "finished before the kill"
        wait_for(lambda: len(ids_in(lake_records(s3, bucket))) == total, 180, "every event")
        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0
    assert set(ids_in(lake_records(s3, bucket)).values()) == {1}
    logs = (tmp_path / "second.log").read_text()
    assert "consuming" in logs


@pytest.mark.parametrize("published_s_ago", [60, -3600])
def test_the_flush_age_counts_from_when_the_event_was_published(
    broker, minio, bucket, s3_env, published_s_ago
):
    """A partition is flushed once its oldest record is ~SINK_FLUSH_AGE_S old by its Kafka
    timestamp, so objects land within that age of the request: records published a minute
    ago are flushed on the first poll (a 40 s age), and a timestamp from the future (a
    producer's clock ahead) counts as now instead of holding them for an hour."""
    topic = new_topic(broker.bootstrap)
    sent = int((time.time() - published_s_ago) * 1000)
    produce(broker.bootstrap, topic, encoded([make_event(i) for i in range(30)]), sent)
    age = "40" if published_s_ago > 0 else "2"
    env = settings_env(broker.bootstrap, topic, **s3_env, SINK_FLUSH_AGE_S=age)
    s3 = minio.client()
    started = time.monotonic()
    with in_thread(S3Sink(settings_for(env))):
        wait_for(lambda: len(ids_in(lake_records(s3, bucket))) == 30, 30, "every event")
        took = time.monotonic() - started
    assert took < 25, took  # well under the 40 s age; the group join takes seconds
