"""Helpers the pipeline tests import: events, topics, running a sink in a thread or a process."""

from __future__ import annotations

import asyncio
import collections
import gzip
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from stackyard.pipeline.config import Settings, load_settings
from stackyard.pipeline.consumer import Sink
from stackyard.pipeline.event import SCHEMA
from stackyard.testing import timescale
from stackyard.testing.pgcluster import free_port

BASE_TIME = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
IPS = ["10.0.0.1", "192.0.2.44", "2001:db8::1", "::1", "203.0.113.9"]


def make_event(
    i: int, *, ip: str | None = None, when: datetime | None = None, status: int | None = None
) -> dict[str, Any]:
    """A captured event as app_a/app_b publish it (docs/pipeline.md)."""
    when = when or BASE_TIME + timedelta(minutes=7 * i % 170, microseconds=i)
    status = status or (200, 200, 401, 403, 404, 502)[i % 6]
    route = ("/hello", "/jobs", "other")[i % 3]
    event_id = str(uuid.uuid4())
    body = {"size": 5, "truncated": False, "encoding": "utf-8", "data": "hello"}
    return {
        "schema": SCHEMA,
        "id": event_id,
        "time": when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "app": ("app_a", "app_b")[i % 2],
        "client_ip": ip or IPS[i % len(IPS)],
        "method": ("GET", "POST")[i % 2],
        "path": route if route != "other" else f"/x/{i}",
        "route": route,
        "query": [["q", str(i)], ["token", "[REDACTED]"]],
        "request": {
            "headers": [["User-Agent", "test"], ["Authorization", "[REDACTED]"]],
            "body": body,
        },
        "response": {"status": status, "headers": [["X-Request-Id", event_id]], "body": body},
        "duration_ms": round(0.5 + (i % 37) * 1.25, 3),
    }


def new_topic(bootstrap: str, partitions: int = 3) -> str:
    name = f"events-{uuid.uuid4().hex[:10]}"

    async def create() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.create_topics(
                [NewTopic(name, partitions, 1), NewTopic(name + ".dlq", 1, 1)]
            )
        finally:
            await admin.close()

    asyncio.run(create())
    return name


def produce(bootstrap: str, topic: str, messages: list[tuple[bytes | None, bytes | None]],
            timestamp_ms: int | None = None) -> None:  # fmt: skip
    """Send (key, value) pairs in order and wait for every acknowledgement (with the given
    CreateTime, else now)."""

    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
        await producer.start()
        try:
            futures = [await producer.send(topic, value=v, key=k, timestamp_ms=timestamp_ms)
                       for k, v in messages]  # fmt: skip
            await asyncio.gather(*futures)
        finally:
            await producer.stop()

    asyncio.run(send())


def encoded(events: list[dict[str, Any]], copies: Callable[[int], int] = lambda i: 1):
    """(key, value) messages, event i sent ``copies(i)`` times (an at-least-once producer)."""
    out = []
    for i, event in enumerate(events):
        value = json.dumps(event, separators=(",", ":")).encode()
        out.extend([(event["client_ip"].encode(), value)] * copies(i))
    return out


def read_all(bootstrap: str, topic: str, want: int, timeout: float = 20) -> list[Any]:
    """Every record of ``topic`` from the start, once ``want`` have arrived (or time is up)."""

    async def run() -> list[Any]:
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        out: list[Any] = []
        try:
            deadline = time.monotonic() + timeout
            while len(out) < want and time.monotonic() < deadline:
                for records in (await consumer.getmany(timeout_ms=300)).values():
                    out.extend(records)
        finally:
            await consumer.stop()
        return out

    return asyncio.run(run())


def settings_env(bootstrap: str, topic: str, **extra: str) -> dict[str, str]:
    return {
        "SINK_KAFKA_BOOTSTRAP": bootstrap,
        "SINK_TOPIC": topic,
        "SINK_DLQ_TOPIC": topic + ".dlq",
        "SINK_GROUP": f"g-{topic}",
        "SINK_HEALTH_BIND": f"127.0.0.1:{free_port()}",
        "SINK_LOG_INTERVAL_S": "2",
        "SINK_STOP_TIMEOUT_S": "5",
        **extra,
    }


def pg_env(cluster: Any) -> dict[str, str]:
    return {"SINK_PG_HOST": "127.0.0.1", "SINK_PG_PORT": str(cluster.port),
            "SINK_PG_PASSWORD": timescale.PASSWORD}  # fmt: skip


def settings_for(env: dict[str, str]) -> Settings:
    return load_settings(env)


@contextmanager
def in_thread(sink: Sink) -> Iterator[Sink]:
    """Run ``sink`` on its own event loop in a thread; stop it gracefully on exit."""
    loop = asyncio.new_event_loop()
    errors: list[BaseException] = []

    def target() -> None:
        try:
            loop.run_until_complete(sink.run())
        except BaseException as err:
            errors.append(err)
            tasks = asyncio.all_tasks(loop)  # a crash leaves the other flushes running: end them
            for task in tasks:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        if thread.is_alive():
            loop.call_soon_threadsafe(sink.request_stop)
        thread.join(60)
        loop.close()
    if errors and not getattr(sink, "crashed", False):
        raise errors[0]


@contextmanager
def in_process(module: str, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """``python -m stackyard.pipeline.<module>`` with ``env``; killed if still running on exit."""
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", f"stackyard.pipeline.{module}"],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def ids_in(records: dict[str, list[dict[str, Any]]]) -> collections.Counter:
    """How many times each event id is in ``records`` (as :func:`lake_records` gives them)."""
    return collections.Counter(r["id"] for lines in records.values() for r in lines)


def lake_records(s3: Any, bucket: str) -> dict[str, list[dict[str, Any]]]:
    """Every object of ``bucket`` and its decoded JSON Lines."""
    out: dict[str, list[dict[str, Any]]] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            lines = gzip.decompress(body).decode().splitlines()
            out[item["Key"]] = [json.loads(line) for line in lines]
    return out
