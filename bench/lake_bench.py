"""Lake query cost: raw JSONL objects vs compacted Parquet vs a bare fetch of the same objects.

    .venv/bin/python bench/lake_bench.py [--objects 1000] [--events 50] [--rounds 3]

A throwaway MinIO (``stackyard.testing.minioserver``) gets ``--objects`` gzip JSON Lines
objects of ``--events`` events each in one hour of the S3 sink's layout. Then, side by side
in every round:

- ``jsonl``: what ``stackyard lake query`` does: list the hour's prefix, build the ``events``
  view, run the query (top paths by p95 duration) — listing included;
- ``fetch``: the bound for any reader of the raw layout: the same listing plus a bare GET of
  every object with boto3, 8 at a time (no decompression, no parsing);
- ``parquet``: the same query over the hour compacted into one Parquet object (the
  docs/data-lake.md recipe; the compaction's own time is printed once).

Prints seconds per mode (median over rounds) and the ratios to ``jsonl``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import statistics
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from stackyard.pipeline import lake
from stackyard.pipeline.lakerange import LakeRange
from stackyard.testing import minioserver

BUCKET = "bench-lake"
FETCH_THREADS = 8
HOUR = "2026-11-23T05"
QUERY = """SELECT path, count(*) AS n, quantile_cont(duration_ms, 0.95) AS p95
FROM {source} GROUP BY path ORDER BY p95 DESC LIMIT 5"""


def event(rng: random.Random, i: int) -> dict:
    path = rng.choice(["/hello", "/jobs", "/jobs/42", "/auth", "/nope"])
    return {
        "schema": "stackyard.density.event/1",
        "id": str(uuid.uuid4()),
        "time": f"2026-11-23T05:{i % 60:02d}:{rng.uniform(0, 59.999999):09.6f}Z",
        "app": "app_a",
        "client_ip": "10.0.0.9",
        "method": "GET",
        "path": path,
        "route": path,
        "query": [["page", str(i)]],
        "request": {"headers": [["Host", "app"], ["User-Agent", "bench"]],
                    "body": {"size": 0, "truncated": False, "encoding": "utf-8", "data": ""}},
        "response": {"status": rng.choice([200, 200, 404, 500]), "headers": [["X-Request-Id", "x"]],
                     "body": {"size": 20, "truncated": False, "encoding": "utf-8",
                              "data": '{"ok": true, "n": 1}'}},
        "duration_ms": round(rng.uniform(0.5, 900), 3),
    }  # fmt: skip


def fill(server: minioserver.MinioServer, objects: int, events: int) -> None:
    s3 = server.client()
    rng = random.Random(7)
    bodies = [
        gzip.compress("".join(json.dumps(event(rng, i)) + "\n" for i in range(events)).encode())
        for _ in range(objects)
    ]
    keys = [
        f"2026-11-23/05/10.0.0.9/density.events-0-{i * events:020d}.jsonl.gz"
        for i in range(objects)
    ]

    def put(item: tuple[str, bytes]) -> None:
        s3.put_object(Bucket=BUCKET, Key=item[0], Body=item[1])

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, zip(keys, bodies, strict=True)))


def timed(action) -> tuple[float, object]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    server = minioserver.start()
    try:
        server.create_bucket(BUCKET)
        fill(server, args.objects, args.events)
        settings = lake.LakeSettings(
            endpoint=server.endpoint,
            bucket=BUCKET,
            access_key=server.access_key,
            secret_key=server.secret_key,
        )
        hour = LakeRange.parse(HOUR)
        parquet = f"s3://{BUCKET}/compacted/events/date=2026-11-23/hour=05/data_0.parquet"
        con = lake.open_events(settings, hour)
        copy = f"COPY (SELECT * EXCLUDE (filename) FROM events) TO '{parquet}' (FORMAT parquet)"
        compaction, _ = timed(lambda: lake.run(con, copy))
        con.close()

        def jsonl():
            with lake.open_events(settings, hour) as c:
                return lake.run(c, QUERY.format(source="events"))[1]

        def fetch():
            s3 = lake.s3_client(settings)

            def get(key: str) -> int:
                return len(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())

            with ThreadPoolExecutor(FETCH_THREADS) as pool:
                list(pool.map(get, [item.key for item in lake.list_objects(settings, hour)]))

        def compacted():
            with lake.connect(settings) as c:
                return lake.run(c, QUERY.format(source=f"read_parquet('{parquet}')"))[1]

        modes = {"jsonl": jsonl, "fetch": fetch, "parquet": compacted}
        seconds: dict[str, list[float]] = {mode: [] for mode in modes}
        answers = []
        for _ in range(args.rounds):
            for mode, action in random.sample(list(modes.items()), len(modes)):
                took, answer = timed(action)
                seconds[mode].append(took)
                if answer is not None:
                    answers.append(answer)
        assert all(answer == answers[0] for answer in answers), "modes disagree"
        print(f"{args.objects} objects x {args.events} events, {args.rounds} rounds; "
              f"compaction into one Parquet object: {compaction:.2f} s")  # fmt: skip
        base = statistics.median(seconds["jsonl"])
        for mode, values in seconds.items():
            median = statistics.median(values)
            print(f"  {mode:<8} {median:7.3f} s   x{median / base:6.3f} of jsonl")
    finally:
        server.remove()


if __name__ == "__main__":
    main()
