"""Vowel benchmark: Null vs SQLite vs Redis+MariaDB, same gunicorn settings, one run.

    .venv/bin/python bench/vowel_bench.py [--duration 10] [--concurrency 8]
        [--events 100000,1000000]

Throwaway Redis (AOF appendfsync always) and MariaDB (innodb_flush_log_at_trx_commit=1)
servers are started as the roles deploy them (stackyard.testing). For each interface,
gunicorn with ``stackyard.vowel.gunicorn_conf`` (4 sync workers, as deployed):

1. write mix: Python threads with keep-alive connections, each POST /initial with a fresh
   uuid, then POST /followup with probability 0.15 (the client's mix); throughput, p50, p99;
2. dashboards after N logged events (bulk-loaded into the store, Redis rebuilt from
   MariaDB): GET /dashboard/symbol/e and a 30-day /dashboard/range at concurrency 1.
   SQLite's take seconds each at 1 M events: a few samples.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta

import pymysql

from stackyard.testing import mariadbserver, redisserver
from stackyard.testing.http import serving
from stackyard.testing.pgcluster import free_port
from stackyard.vowel.config import Settings, env_name
from stackyard.vowel.model import iso
from stackyard.vowel.rebuild import rebuild
from stackyard.vowel.sqlite_interface import SCHEMA

LETTERS = "abcdefghijklmnopqrstuvwxyz"
END = date(2026, 3, 31)


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def write_mix(port: int, concurrency: int, duration: float) -> dict:
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors = [0] * concurrency
    stop = time.monotonic() + duration

    def worker(n: int) -> None:
        rng, conn = random.Random(n), http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < stop:
            ident = uuid.uuid4()
            paths = [f"/initial?uuid={ident}&symbol={rng.choice(LETTERS)}"]
            if rng.random() < 0.15:
                paths.append(f"/followup?uuid={ident}")
            for path in paths:
                t0 = time.perf_counter()
                conn.request("POST", path)
                response = conn.getresponse()
                response.read()
                latencies[n].append(time.perf_counter() - t0)
                errors[n] += response.status != 200

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(concurrency)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    flat = [x for xs in latencies for x in xs]
    return {"rps": len(flat) / elapsed, "p50": pct(flat, 0.5) * 1000,
            "p99": pct(flat, 0.99) * 1000, "errors": sum(errors)}  # fmt: skip


def sample(port: int, path: str, n: int) -> tuple[float, float]:
    conn, times = http.client.HTTPConnection("127.0.0.1", port, timeout=600), []
    for _ in range(n):
        t0 = time.perf_counter()
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        assert response.status == 200, (path, response.status)
        times.append(time.perf_counter() - t0)
    return pct(times, 0.5) * 1000, pct(times, 0.99) * 1000


def events(n: int, seed: int = 1):
    """n initial requests over the 60 days before END, 15 % followed up."""
    rng = random.Random(seed)
    start = datetime(END.year, END.month, END.day, tzinfo=UTC) - timedelta(days=60)
    for i in range(n):
        at = start + timedelta(seconds=i * 60 * 86_400 / n)
        yield str(uuid.UUID(int=rng.getrandbits(128))), rng.choice(LETTERS), at, rng.random() < 0.15


def load_sqlite(path: str, n: int) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA)
    rows = []
    for ident, symbol, at, followed in events(n):
        rows.append(("initial", ident, symbol, 1, iso(at)))
        if followed:
            rows.append(("followup", ident, None, None, iso(at + timedelta(seconds=1))))
    conn.executemany(
        "INSERT INTO events (kind, uuid, symbol, is_vowel, ts) VALUES (?,?,?,?,?)", rows
    )
    conn.commit()
    conn.close()


INSERT_INITIAL = (
    "INSERT INTO initial_events (uuid, symbol, is_vowel, created_at) VALUES (%s, %s, %s, %s)"
)


def load_mariadb(server, settings: Settings, n: int) -> None:
    conn = pymysql.connect(host="127.0.0.1", port=server.port, user="root_bench",
                           password="bench", database=settings.mariadb_database)  # fmt: skip
    with conn.cursor() as cur:
        batch: list[tuple] = []
        follow: list[tuple] = []
        for ident, symbol, at, followed in events(n):
            batch.append((ident, symbol, 1, at.replace(tzinfo=None)))
            if followed:
                follow.append((ident, (at + timedelta(seconds=1)).replace(tzinfo=None)))
            if len(batch) == 20_000:
                cur.executemany(INSERT_INITIAL, batch)
                batch = []
        if batch:
            cur.executemany(INSERT_INITIAL, batch)
        for i in range(0, len(follow), 20_000):
            cur.executemany("INSERT INTO followup_events (uuid, initial_id, created_at) "
                            "SELECT %s, NULL, %s", follow[i:i + 20_000])  # fmt: skip
        cur.execute("UPDATE followup_events f JOIN initial_events i ON i.uuid = f.uuid"
                    " SET f.initial_id = i.id WHERE f.initial_id IS NULL")  # fmt: skip
    conn.commit()
    conn.close()
    rebuild(settings)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--events", default="100000,1000000")
    parser.add_argument("--slow-samples", type=int, default=3)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--workers", type=int, default=4, help="as group_vars/vowel.yml")
    parser.add_argument("--threads", type=int, default=1, help="as group_vars/vowel.yml")
    args = parser.parse_args()
    sizes = [int(x) for x in args.events.split(",") if x]
    redis, maria = redisserver.start(), mariadbserver.start()
    tmp = tempfile.mkdtemp(prefix="vowel-bench-")
    maria.sql("CREATE USER 'root_bench'@'%' IDENTIFIED BY 'bench'")
    maria.sql("GRANT ALL ON *.* TO 'root_bench'@'%'")
    results: dict[str, dict] = {}

    def settings_for(kind: str, name: str) -> Settings:
        maria.create_database(name, "vowel")
        return Settings(backend=kind, sqlite_path=f"{tmp}/{name}.sqlite3", redis_port=redis.port,
                        redis_password=redis.password, redis_prefix=f"{name}:",
                        mariadb_port=maria.port, mariadb_database=name,
                        mariadb_password=mariadbserver.PASSWORD, log_level="WARNING")  # fmt: skip

    def serve(settings: Settings):
        port = free_port()
        env = {**os.environ, **{env_name(k): str(v) for k, v in vars(settings).items()}}
        env.update({env_name("bind"): f"127.0.0.1:{port}", env_name("workers"): str(args.workers),
                    env_name("threads"): str(args.threads)})  # fmt: skip
        argv = [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            "python:stackyard.vowel.gunicorn_conf",
        ]
        return port, serving(argv, env, port)

    try:
        for kind in ("null", "sqlite", "redis-mariadb"):
            port, server = serve(settings_for(kind, f"w_{kind.replace('-', '_')}"))
            with server:
                write_mix(port, args.concurrency, 2)  # warm up
                results[kind] = {"write": write_mix(port, args.concurrency, args.duration)}
            print(kind, results[kind]["write"], flush=True)
        lo = (END - timedelta(days=29)).isoformat()
        for n in sizes:
            for kind in ("sqlite", "redis-mariadb"):
                settings = settings_for(kind, f"d{n}_{kind.replace('-', '_')}")
                t0 = time.monotonic()
                load_sqlite(settings.sqlite_path, n) if kind == "sqlite" else load_mariadb(
                    maria, settings, n
                )
                loaded = time.monotonic() - t0
                samples = args.slow_samples if kind == "sqlite" else args.samples
                port, server = serve(settings)
                with server:
                    sample(port, "/dashboard/symbol/e", 1)
                    sym = sample(port, "/dashboard/symbol/e", samples)
                    rng = sample(port, f"/dashboard/range/{lo}/{END.isoformat()}", samples)
                results[kind][n] = {
                    "symbol": sym,
                    "range": rng,
                    "samples": samples,
                    "load_s": loaded,
                }
                print(kind, n, results[kind][n], flush=True)
    finally:
        redis.remove()
        maria.remove()
        shutil.rmtree(tmp, ignore_errors=True)
    null = results["null"]["write"]["rps"]
    print(
        "\n| interface | write mix req/s | vs Null | p50 ms | p99 ms |"
        + "".join(f" symbol p50/p99 ms @{n:,} | range 30 d p50/p99 ms @{n:,} |" for n in sizes)
    )
    print("|---|---|---|---|---|" + "---|---|" * len(sizes))
    for kind, r in results.items():
        w = r["write"]
        cells = "".join(
            f" {r[n]['symbol'][0]:.2f} / {r[n]['symbol'][1]:.2f} |"
            f" {r[n]['range'][0]:.2f} / {r[n]['range'][1]:.2f} |"
            if n in r
            else " - | - |"
            for n in sizes
        )
        print(
            f"| {kind} | {w['rps']:.0f} | {w['rps'] / null:.2f}x |"
            f" {w['p50']:.2f} | {w['p99']:.2f} |{cells}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
