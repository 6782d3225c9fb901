"""End-to-end lag of the sinks: event time → row visible, event time → lake object visible.

    .venv/bin/python bench/sinks_lag_bench.py [--rate 1500] [--seconds 20]

Starts Kafka, TimescaleDB and MinIO (``stackyard.testing``) and both sinks as their own
processes (``python -m stackyard.pipeline.sink_*``, as deployed) with their default
settings (batch 2000 rows / 200 ms, flush 8 MiB / 10 s), then publishes ``--rate`` events
per second (the apps' maximum, docs/benchmarks.md) stamped with the current time, as the
capture middleware does. Pollers in this process see each event id first appear as a row
(every 0.1 s, rows of the last 8 s; a final sweep stamps anything missed with the end time)
and in an object (listing every 0.25 s); lag = first seen - event time. Targets: p99 <= 2 s
to TimescaleDB, within the flush age to S3.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "pipeline"))

from aiokafka import AIOKafkaProducer
from pipeline_support import make_event, new_topic, settings_env

from stackyard.pipeline import db
from stackyard.pipeline.config import load_settings
from stackyard.pipeline.migrate import migrate
from stackyard.testing import kafka, minioserver, timescale


async def publish(bootstrap: str, topic: str, rate: int, seconds: float) -> dict[str, float]:
    """Events at ``rate``/s for ``seconds``; event id -> its time (epoch seconds)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
    await producer.start()
    sent: dict[str, float] = {}
    start, i = time.time(), 0
    try:
        while time.time() - start < seconds:
            due = int((time.time() - start) * rate)
            while i < due:
                now = time.time()
                event = make_event(i, when=datetime.fromtimestamp(now, UTC))
                sent[event["id"]] = now
                value = json.dumps(event, separators=(",", ":")).encode()
                await producer.send(topic, value=value, key=event["client_ip"].encode())
                i += 1
            await asyncio.sleep(0.005)
        await producer.flush()
    finally:
        await producer.stop()
    return sent


def watch_rows(settings, seen: dict[str, float], stop: threading.Event) -> None:
    conn = db.connect(settings, "lag-bench")
    conn.autocommit = True
    with conn.cursor() as cur:
        while not stop.is_set():
            cur.execute("SELECT event_id::text FROM capture.requests "
                        "WHERE time > now() - INTERVAL '8 seconds'")  # fmt: skip
            now = time.time()
            for (event_id,) in cur.fetchall():
                seen.setdefault(event_id, now)
            time.sleep(0.1)
        cur.execute("SELECT event_id::text FROM capture.requests")
        now = time.time()
        for (event_id,) in cur.fetchall():
            seen.setdefault(event_id, now)
    conn.close()


def watch_lake(s3, bucket: str, seen: dict[str, float], stop: threading.Event) -> None:
    etags: dict[str, str] = {}
    while not stop.is_set():
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for item in page.get("Contents", []):
                if etags.get(item["Key"]) == item["ETag"]:
                    continue
                etags[item["Key"]] = item["ETag"]
                now = time.time()
                body = gzip.decompress(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
                for line in body.splitlines():
                    seen.setdefault(json.loads(line)["id"], now)
        time.sleep(0.25)


def healthy(env: dict[str, str]) -> bool:
    try:
        with urllib.request.urlopen(f"http://{env['SINK_HEALTH_BIND']}/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def percentiles(sent: dict[str, float], seen: dict[str, float]) -> str:
    lags = sorted(seen[i] - t for i, t in sent.items() if i in seen)
    if not lags:
        return "nothing arrived"
    p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))]
    return (f"{len(lags)}/{len(sent)} arrived, p50 {statistics.median(lags):.2f} s, "
            f"p99 {p99:.2f} s, max {lags[-1]:.2f} s")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=int, default=1500)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args(argv)
    broker, cluster, minio = kafka.start(), timescale.start(), minioserver.start()
    procs: list[subprocess.Popen] = []
    flush_age = load_settings({}).flush_age_s
    stop = threading.Event()
    try:
        pg = {"SINK_PG_HOST": "127.0.0.1", "SINK_PG_PORT": str(cluster.port),
              "SINK_PG_PASSWORD": timescale.PASSWORD}  # fmt: skip
        migrate(load_settings(pg))
        minio.create_bucket("lag-lake")
        s3 = {
            "SINK_S3_ENDPOINT": minio.endpoint,
            "SINK_S3_BUCKET": "lag-lake",
            "SINK_S3_ACCESS_KEY": minio.access_key,
            "SINK_S3_SECRET_KEY": minio.secret_key,
        }
        topic = new_topic(broker.bootstrap, 6)
        envs = {
            "sink_timescaledb": settings_env(broker.bootstrap, topic, **pg, SINK_GROUP="lag-tsdb"),
            "sink_s3": settings_env(broker.bootstrap, topic, **s3, SINK_GROUP="lag-s3"),
        }
        for module, env in envs.items():
            procs.append(subprocess.Popen(
                [sys.executable, "-m", f"stackyard.pipeline.{module}"],
                env={**os.environ, **env}, stdout=subprocess.DEVNULL,
            ))  # fmt: skip
        deadline = time.monotonic() + 60
        while not all(healthy(e) for e in envs.values()) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(3)  # both groups joined
        rows: dict[str, float] = {}
        objects: dict[str, float] = {}
        watchers = [
            threading.Thread(target=watch_rows, args=(load_settings(pg), rows, stop)),
            threading.Thread(target=watch_lake, args=(minio.client(), "lag-lake", objects, stop)),
        ]
        for w in watchers:
            w.start()
        sent = asyncio.run(publish(broker.bootstrap, topic, args.rate, args.seconds))
        wait = time.monotonic() + 30 + flush_age
        while time.monotonic() < wait and (len(rows) < len(sent) or len(objects) < len(sent)):
            time.sleep(0.5)
        stop.set()
        for w in watchers:
            w.join()
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
        broker.destroy()
        cluster.stop()
        minio.remove()
    print(f"{len(sent)} events at {args.rate}/s for {args.seconds:.0f} s "
          f"(flush age {flush_age:.0f} s)")  # fmt: skip
    print(f"to TimescaleDB: {percentiles(sent, rows)}")
    print(f"to the lake:    {percentiles(sent, objects)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
