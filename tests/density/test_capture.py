"""Real gunicorn (sync and gthread) publishing to a real broker: one event per request."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import uuid
from pathlib import Path

import pytest
import requests
from density_support import TOKEN, consume, gunicorn, spooled_ids

from stackyard.density.capture.event import REDACTED, SCHEMA
from stackyard.density.capture.spool import Spool
from stackyard.testing.wait import wait_for

JOBS = "Jobs:\nTitle: Devops\nDescription: Awesome\n"


def _env(broker, tmp_path: Path, users_db: str, topic: str, **extra: str) -> dict[str, str]:
    return {
        "DENSITY_KAFKA_BOOTSTRAP": broker.bootstrap,
        "DENSITY_KAFKA_TOPIC": topic,
        "DENSITY_SPOOL_DIR": str(tmp_path / "spool"),
        "DENSITY_USERS_DB": users_db,
        "DENSITY_RETRY_INTERVAL": "0.5",
        "DENSITY_KAFKA_REQUEST_TIMEOUT_MS": "2000",
        **extra,
    }


def drive(a_url: str) -> list[tuple[str, int, str]]:
    """The known mix; (event id the client saw, status, route) per request."""
    calls = [
        ("GET", "/hello", {}, None, None),
        ("POST", "/jobs", {"Authorization": TOKEN, "Cookie": "s=1"}, None, None),
        ("POST", "/jobs", {"Authorization": "wrong"}, None, None),
        ("POST", "/jobs", {}, None, None),
        ("GET", "/missing", {}, None, None),
        ("GET", "/hello", {}, {"q": "1", "token": "secret-q"}, None),
        ("POST", "/jobs", {"Authorization": TOKEN}, None, {"password": "pw", "x": "y"}),
        ("POST", "/jobs", {"Authorization": TOKEN, "Content-Type": "application/json"}, None,
         json.dumps({"token": "secret-j", "n": [1, 2]})),
        # from a trusted proxy (loopback): the client is the forwarded address
        ("GET", "/hello", {"X-Forwarded-For": "198.51.100.7"}, None, None),
    ]  # fmt: skip
    seen = []
    for method, path, headers, params, data in calls:
        r = requests.request(
            method, a_url + path, headers=headers, params=params, data=data, timeout=10
        )
        assert r.status_code < 500
        seen.append((r.headers["X-Request-Id"], r.status_code, path))
    return seen


@pytest.mark.integration
@pytest.mark.parametrize("threads", [1, 4], ids=["sync", "gthread"])
def test_every_request_produces_exactly_one_redacted_event(broker, users_db, tmp_path, threads):
    topic = f"events-{uuid.uuid4().hex[:8]}"
    env = _env(broker, tmp_path, users_db, topic)
    with (
        gunicorn("app_b", {**env, "DENSITY_APP_NAME": "app_b"}, threads) as b,
        gunicorn("app_a", {**env, "DENSITY_APP_B_URL": b.url}, threads) as a,
    ):
        seen = drive(a.url)
    events = consume(broker.bootstrap, topic, want=len(seen) + 4)  # + app_b: 4 token calls
    by_id = {}
    for event in events:
        assert event["id"] not in by_id, "one event per request"
        by_id[event["id"]] = event
    for event_id, status, path in seen:
        event = by_id[event_id]
        assert (event["schema"], event["app"], event["path"]) == (SCHEMA, "app_a", path)
        assert event["response"]["status"] == status
        assert event["client_ip"] == ("198.51.100.7" if event_id == seen[8][0] else "127.0.0.1")
    assert {e["route"] for e in events if e["app"] == "app_a"} == {"/hello", "/jobs", "other"}
    assert [e["app"] for e in events].count("app_b") == 4  # the four calls with a token
    good = by_id[seen[1][0]]
    assert good["response"]["body"]["data"] == JOBS
    headers = dict(good["request"]["headers"])
    assert headers["Authorization"] == REDACTED and headers["Cookie"] == REDACTED
    assert ["token", REDACTED] in by_id[seen[5][0]]["query"]
    assert "pw" not in by_id[seen[6][0]]["request"]["body"]["data"]
    body = json.loads(by_id[seen[7][0]]["request"]["body"]["data"])
    assert body == {"token": REDACTED, "n": [1, 2]}
    assert all(TOKEN not in json.dumps(e) for e in events)


@pytest.mark.integration
def test_kafka_down_spools_and_every_event_arrives_after_it_returns(broker, users_db, tmp_path):
    topic = f"events-{uuid.uuid4().hex[:8]}"
    env = _env(broker, tmp_path, users_db, topic, DENSITY_CAPTURE_ENABLED="0")
    with gunicorn("app_a", {**env, "DENSITY_CAPTURE_ENABLED": "1"}, 4) as a:
        ids = [requests.get(a.url + "/hello", timeout=10).headers["X-Request-Id"]]
        broker.stop()
        try:
            for _ in range(30):
                r = requests.get(a.url + "/hello", timeout=10)
                assert (r.status_code, r.text) == (200, "Hello there")
                ids.append(r.headers["X-Request-Id"])
            time.sleep(4)
            assert Spool(str(tmp_path / "spool"), 10**9).segments(), "events were spooled"
        finally:
            broker.start()
        _wait_spool_empty(tmp_path / "spool")
    events = consume(broker.bootstrap, topic, want=len(ids))
    assert set(ids) <= {e["id"] for e in events}


@pytest.mark.integration
def test_sigterm_with_kafka_down_flushes_to_the_spool(users_db, tmp_path):
    env = {
        "DENSITY_KAFKA_BOOTSTRAP": "127.0.0.1:9",  # nothing listens: Kafka is down
        "DENSITY_SPOOL_DIR": str(tmp_path / "spool"),
        "DENSITY_RETRY_INTERVAL": "30",
    }
    with gunicorn("app_a", env, 1) as a:
        ids = [requests.get(a.url + "/hello", timeout=10).headers["X-Request-Id"] for _ in range(5)]
        a.send_signal(signal.SIGTERM)
        a.wait(timeout=30)
    assert set(spooled_ids(tmp_path / "spool")) == set(ids)


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _publisher_pids(arbiter: int, want: int = 2) -> list[int]:
    """The workers' live publisher processes, once there are ``want`` (workers boot
    slowly on a loaded machine)."""

    def live() -> list[int]:
        pids = [c for w in _children(arbiter) for c in _children(w) if _alive(c)]
        return pids if len(pids) >= want else []

    return wait_for(live, what=f"{want} live publisher processes")


def _wait_spool_empty(spool_dir: Path) -> None:
    wait_for(lambda: not Spool(str(spool_dir), 10**9).segments(), what="the spool replayed")


def _wait_settled(url: str, publishers: list[int]) -> None:
    """Until each publisher process has published all its worker handed on (by /health,
    which lands on either worker and is not captured)."""
    settled: set[int] = set()

    def all_settled() -> bool:
        health = requests.get(url + "/health", timeout=10).json()["capture"]
        if health["unsettled"] == 0:
            settled.add(health["publisher_pid"])
        else:
            settled.discard(health["publisher_pid"])
        return settled >= set(publishers)

    wait_for(all_settled, what=f"publishers {publishers} to settle")


def _hellos(url: str, n: int) -> list[str]:
    ids = []
    for _ in range(n):
        r = requests.get(url + "/hello", timeout=10)
        assert (r.status_code, r.text) == (200, "Hello there")
        ids.append(r.headers["X-Request-Id"])
    return ids


@pytest.mark.integration
def test_events_a_killed_worker_answered_still_arrive(broker, users_db, tmp_path):
    """What a worker handed on waits in the kernel's socket buffer and its publisher
    process, not in the worker: SIGKILL of every worker right after a burst loses none."""
    topic = f"events-{uuid.uuid4().hex[:8]}"
    with gunicorn("app_a", _env(broker, tmp_path, users_db, topic), 1) as a:
        assert len(_publisher_pids(a.pid)) == 2  # both workers up
        workers = _children(a.pid)
        ids = _hellos(a.url, 200)
        for worker in workers:
            os.kill(worker, signal.SIGKILL)
        ids += _hellos(a.url, 5)  # the replacement workers capture too
        _wait_spool_empty(tmp_path / "spool")  # if a publisher had to spool, replayed
    events = consume(broker.bootstrap, topic, want=len(ids))
    assert set(ids) <= {e["id"] for e in events}


@pytest.mark.integration
def test_a_killed_publisher_process_is_counted_replaced_and_nothing_after_is_lost(
    broker, users_db, tmp_path
):
    """SIGKILL both publisher processes: the workers spool meanwhile and start new ones;
    every event after that arrives, and any event around the kill that does not was
    counted as lost (``lost_with_companion``, from the dead process's shared counters)."""
    topic = f"events-{uuid.uuid4().hex[:8]}"
    with gunicorn("app_a", _env(broker, tmp_path, users_db, topic), 1) as a:
        old = _publisher_pids(a.pid)
        assert len(old) == 2, "one publisher process per worker"
        before = _hellos(a.url, 20)
        _wait_settled(a.url, old)
        for pid in old:
            os.kill(pid, signal.SIGKILL)
        while any(map(_alive, old)):
            time.sleep(0.05)
        # the workers spool these themselves (the kernel may release a dead process's socket
        # a moment after it is gone: what is sent into it then is lost, and counted)
        during = _hellos(a.url, 20)
        time.sleep(1)  # past the retry interval: the next event starts a new publisher
        after = _hellos(a.url, 20)
        new = _publisher_pids(a.pid)
        assert len(new) == 2 and not set(new) & set(old)
        health = {}
        while len(health) < 2:  # each worker's counters (by its new publisher)
            h = requests.get(a.url + "/health", timeout=10).json()["capture"]
            health[h["publisher_pid"]] = h
        _wait_spool_empty(tmp_path / "spool")  # what the workers spooled, replayed
    assert all(h["companion_restarts"] == 1 for h in health.values())
    want = len(before) + len(during) + len(after)
    arrived = {e["id"] for e in consume(broker.bootstrap, topic, want=want)}
    assert set(after) <= arrived
    lost = sum(h["lost_with_companion"] for h in health.values())
    assert len(set(before + during) - arrived) <= lost, "every event lost was counted"


@pytest.mark.integration
def test_a_stalled_publisher_process_makes_the_worker_spool_and_nothing_is_lost(
    broker, users_db, tmp_path
):
    """SIGSTOP the publisher processes: their socket buffers fill (large bodies), the
    requests still answer at once, the workers spool the overflow themselves, and after
    SIGCONT every event reaches Kafka."""
    topic = f"events-{uuid.uuid4().hex[:8]}"
    env = _env(broker, tmp_path, users_db, topic, DENSITY_CAPTURE_BODY_BYTES=str(256 * 1024))
    body = b"x" * (200 * 1024)
    with gunicorn("app_a", env, 1) as a:
        stopped = _publisher_pids(a.pid)
        assert len(stopped) == 2
        for pid in stopped:
            os.kill(pid, signal.SIGSTOP)
        ids = []
        try:
            for _ in range(120):  # 24 MB: more than both sockets' buffers hold
                r = requests.post(a.url + "/hello", data=body, timeout=10)
                assert r.status_code == 405
                ids.append(r.headers["X-Request-Id"])
        finally:
            for pid in stopped:
                os.kill(pid, signal.SIGCONT)
        health = [requests.get(a.url + "/health", timeout=10).json()["capture"] for _ in range(8)]
        assert sum({h["publisher_pid"]: h["spooled_by_worker"] for h in health}.values()) > 0
        _wait_spool_empty(tmp_path / "spool")
    events = consume(broker.bootstrap, topic, want=len(ids), timeout=60)
    assert set(ids) <= {e["id"] for e in events}


def test_a_full_spool_drops_by_policy_and_counts(tmp_path):
    lines = [b"x" * 99] * 10  # 1000 bytes per batch
    oldest = Spool(str(tmp_path / "oldest"), 2500, "oldest")
    assert [oldest.write(lines) for _ in range(3)] == [0, 0, 10]
    assert len(oldest.segments()) == 2
    newest = Spool(str(tmp_path / "newest"), 2500, "newest")
    assert [newest.write(lines) for _ in range(3)] == [0, 0, 10]
    first = newest.segments()[0]
    assert first.name.endswith(".jsonl") and len(newest.segments()) == 2


def test_a_claimed_segment_of_a_dead_process_is_replayed(tmp_path):
    spool = Spool(str(tmp_path), 10**6)
    spool.write([b"a"])
    claimed = spool.claim()
    dead = claimed.with_name(claimed.name.replace(f"-{os.getpid()}", "-999999"))
    claimed.rename(dead)
    assert spool.segments() == []
    spool.ensure()
    assert len(spool.segments()) == 1


@pytest.mark.integration
def test_a_clients_events_share_one_partition_in_order_and_failed_builds_are_counted(
    broker, tmp_path
):
    from aiokafka import AIOKafkaConsumer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.partitioner import DefaultPartitioner

    from stackyard.density.capture.publisher import Publisher
    from stackyard.density.config import load_settings

    topic = f"keys-{uuid.uuid4().hex[:8]}"

    async def create() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(topic, num_partitions=6, replication_factor=1)])
        finally:
            await admin.close()

    asyncio.run(create())
    settings = load_settings(
        {"DENSITY_KAFKA_BOOTSTRAP": broker.bootstrap, "DENSITY_KAFKA_TOPIC": topic,
         "DENSITY_SPOOL_DIR": str(tmp_path / "spool")}
    )  # fmt: skip
    publisher = Publisher(settings)
    keys = [f"10.0.0.{n}".encode() for n in range(8)]
    for n in range(400):
        key = keys[n % len(keys)]
        value = json.dumps({"key": key.decode(), "n": n}).encode()
        # events are built by the publisher's thread; every 50th build fails
        publisher.publish(key, (lambda v=value: v) if n % 50 else (lambda: 1 / 0))
    publisher.close()
    assert publisher.stats["dropped_build_error"] == 8
    assert publisher.stats["published"] == 392

    async def read() -> list:
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest",
            enable_auto_commit=False,
        )  # fmt: skip
        await consumer.start()
        records: list = []
        deadline = time.monotonic() + 30
        try:
            while len(records) < 392 and time.monotonic() < deadline:
                for batch in (await consumer.getmany(timeout_ms=10_000)).values():
                    records.extend(batch)
        finally:
            await consumer.stop()
        return records

    records = asyncio.run(read())
    partitions = sorted(range(6))
    for key in keys:
        mine = [r for r in records if r.key == key]
        assert {r.partition for r in mine} == {DefaultPartitioner()(key, partitions, partitions)}
        ns = [json.loads(r.value)["n"] for r in mine]
        assert ns == sorted(ns) and len(ns) == len(set(ns))
