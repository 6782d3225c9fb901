"""Sink throughput: events/s each sink takes from a pre-filled topic, next to its bound.

    .venv/bin/python bench/sinks_bench.py [--events 60000] [--partitions 6]

One run starts a throwaway Kafka broker, a TimescaleDB cluster (migrated by ``migrate``) and
a MinIO server (``stackyard.testing``), fills a topic with ``--events`` captured events (six
partitions and the sinks' default batch/flush settings, as deployed), then measures side by
side:

- **bare consumer**: an aiokafka consumer reading the whole topic (the bound of both sinks);
- **TimescaleDB sink** from the topic, and **bare COPY** of the same rows into a hypertable
  of the same schema (the database's bound);
- **S3 sink** from the topic, and **bare upload** of the same lines, gzip'd per prefix,
  with the same concurrency (the store's bound).

A sink's time runs from its first event (the group joined) until every event is stored and
committed: it is stopped
(SIGTERM's path: store and commit what is buffered) as soon as it has polled every event, so
the flush age does not count.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import io
import json
import os
import sys
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "pipeline"))

from aiokafka import AIOKafkaConsumer
from pipeline_support import encoded, make_event, new_topic, produce, settings_env

from stackyard.pipeline import db
from stackyard.pipeline.config import load_settings
from stackyard.pipeline.event import COLUMNS, decode, row
from stackyard.pipeline.migrate import migrate
from stackyard.pipeline.sink_s3 import S3Sink
from stackyard.pipeline.sink_timescaledb import TimescaleSink
from stackyard.testing import minioserver, timescale

TIMEOUT_S = 300


def bare_consumer(bootstrap: str, topic: str, total: int) -> float:
    async def run() -> float:
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        start, seen = time.perf_counter(), 0
        try:
            while seen < total:
                if time.perf_counter() - start > TIMEOUT_S:
                    raise TimeoutError(f"bare consumer: {seen} of {total}")
                for records in (await consumer.getmany(timeout_ms=500, max_records=2000)).values():
                    seen += len(records)
        finally:
            await consumer.stop()
        return time.perf_counter() - start

    return asyncio.run(run())


def run_sink(sink, total: int) -> float:
    loop = asyncio.new_event_loop()
    start = time.perf_counter()
    thread = threading.Thread(target=loop.run_until_complete, args=(sink.run(),))
    thread.start()
    while not sink.counters["consumed"]:  # the clock starts at the first event (group joined)
        if time.perf_counter() - start > TIMEOUT_S or not thread.is_alive():
            sink.request_stop()
            raise TimeoutError(f"{sink.name}: nothing consumed")
        time.sleep(0.001)
    start = time.perf_counter()
    while sink.counters["consumed"] < total:
        if time.perf_counter() - start > TIMEOUT_S or not thread.is_alive():
            sink.request_stop()
            raise TimeoutError(f"{sink.name}: {sink.counters['consumed']} of {total}")
        time.sleep(0.01)
    loop.call_soon_threadsafe(sink.request_stop)
    thread.join()
    loop.close()
    return time.perf_counter() - start


def bare_copy(settings, rows: list[tuple]) -> float:
    conn = db.connect(settings, "bench")
    with conn, conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS capture.bench_copy")
        cur.execute("CREATE TABLE capture.bench_copy (LIKE capture.requests INCLUDING ALL)")
        cur.execute(
            "SELECT create_hypertable('capture.bench_copy', by_range('time', INTERVAL '1 day'))"
        )
    buf = io.StringIO()
    for values in rows:
        buf.write("\t".join(r"\N" if v is None else str(v).replace("\\", "\\\\") for v in values))
        buf.write("\n")
    data = buf.getvalue()
    start = time.perf_counter()
    with conn, conn.cursor() as cur:
        cur.copy_expert(
            f"COPY capture.bench_copy ({', '.join(COLUMNS)}) FROM STDIN", io.StringIO(data)
        )
    took = time.perf_counter() - start
    with conn, conn.cursor() as cur:
        cur.execute("DROP TABLE capture.bench_copy")
    conn.close()
    return took


def bare_upload(server, bucket: str, lines: dict[str, list[bytes]], concurrency: int) -> float:
    s3 = server.client()
    bodies = [
        (f"bare/{p}/x.jsonl.gz", gzip.compress(b"".join(ls), mtime=0)) for p, ls in lines.items()
    ]
    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda kb: s3.put_object(Bucket=bucket, Key=kb[0], Body=kb[1]), bodies))
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=60000)
    parser.add_argument("--partitions", type=int, default=6)
    args = parser.parse_args(argv)
    n = args.events
    from stackyard.testing import kafka

    broker, cluster, minio = kafka.start(), timescale.start(), minioserver.start()
    try:
        pg = {
            "SINK_PG_HOST": "127.0.0.1",
            "SINK_PG_PORT": str(cluster.port),
            "SINK_PG_PASSWORD": timescale.PASSWORD,
        }
        migrate(load_settings(pg))
        minio.create_bucket("bench-lake")
        s3 = {
            "SINK_S3_ENDPOINT": minio.endpoint,
            "SINK_S3_BUCKET": "bench-lake",
            "SINK_S3_ACCESS_KEY": minio.access_key,
            "SINK_S3_SECRET_KEY": minio.secret_key,
        }
        topic = new_topic(broker.bootstrap, args.partitions)
        events = [make_event(i) for i in range(n)]
        messages = encoded(events)
        produce(broker.bootstrap, topic, messages)
        decoded = [decode(v) for _, v in messages]
        by_prefix: dict[str, list[bytes]] = defaultdict(list)
        for (_, value), event in zip(messages, decoded, strict=True):
            by_prefix[event.prefix].append(value + b"\n")
        env = {**os.environ, **pg, **s3}
        results = {}
        results["bare consumer"] = bare_consumer(broker.bootstrap, topic, n)
        tsdb_env = settings_env(
            broker.bootstrap, topic, **pg, SINK_LOG_INTERVAL_S="30", SINK_GROUP="bench-tsdb"
        )
        results["TimescaleDB sink"] = run_sink(TimescaleSink(load_settings(tsdb_env)), n)
        results["bare COPY"] = bare_copy(load_settings(env), [row(e) for e in decoded])
        s3_env = settings_env(
            broker.bootstrap, topic, **s3, SINK_LOG_INTERVAL_S="30", SINK_GROUP="bench-s3"
        )
        sink = S3Sink(load_settings(s3_env))
        results["S3 sink"] = run_sink(sink, n)
        results["bare upload"] = bare_upload(
            minio, "bench-lake", by_prefix, sink.settings.s3_upload_concurrency
        )
    finally:
        broker.destroy()
        cluster.stop()
        minio.remove()
    rate = {k: n / v for k, v in results.items()}
    print(
        f"{n} events, {args.partitions} partitions, "
        f"{sum(len(v) for _, v in messages) / n:.0f} bytes each"
    )
    print(f"{'what':<18} {'seconds':>8} {'events/s':>10}  ratio")
    bounds = {
        "TimescaleDB sink": "bare COPY",
        "S3 sink": "bare upload",
        "bare COPY": "bare consumer",
        "bare upload": "bare consumer",
    }
    for name, took in results.items():
        ratio = f"{rate[name] / rate[bounds[name]]:.2f} of {bounds[name]}" if name in bounds else ""
        print(f"{name:<18} {took:8.2f} {rate[name]:10.0f}  {ratio}")
    for name in ("TimescaleDB sink", "S3 sink"):
        print(f"{name} / bare consumer: {rate[name] / rate['bare consumer']:.2f}")
    print(json.dumps({k: round(v) for k, v in rate.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
