"""Vowel benchmark: Null vs SQLite vs Redis+MariaDB, same gunicorn settings, one run.

    .venv/bin/python bench/vowel_bench.py [--duration 5] [--rounds 4] [--concurrency 8]
        [--events 100000,1000000] [--workers 4] [--threads 1]

Throwaway Redis (AOF appendfsync always) and MariaDB (innodb_flush_log_at_trx_commit=1)
servers are started as the roles deploy them (stackyard.testing). For each interface,
gunicorn with ``stackyard.vowel.gunicorn_conf`` (4 sync workers, as deployed):

1. write mix: Python threads with keep-alive connections, each POST /initial with a fresh
   uuid, then POST /followup with probability 0.15 (the client's mix). All interfaces are
   served at once and measured in turn, ``--rounds`` times, so a neighbour's load hits
   them alike; the median round's throughput, p50, p99, and the CPU time per request of
   the processes involved (gunicorn, Redis, MariaDB, this client), which a neighbour's
   load hardly changes. ``stream-probe`` (bench/vowel_stream_probe.py, never deployed)
   is the request path of option (a): one fsynced Redis script per write, no MariaDB;
2. dashboards after N logged events (bulk-loaded into the store, Redis rebuilt from
   MariaDB): GET /dashboard/symbol/e and a 30-day /dashboard/range at concurrency 1,
   each sample interleaved with one of Null's trivial /dashboard/symbol/e (no store):
   the scheduling floor of the same moment. SQLite's take seconds at 1 M: a few samples.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

from vowel_data import END, LETTERS, load_mariadb, load_sqlite

from stackyard.testing import mariadbserver, redisserver
from stackyard.testing.http import serving
from stackyard.testing.pgcluster import free_port
from stackyard.testing.process import cpu_seconds
from stackyard.vowel.config import Settings, env_name


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


def sample(paths: list[tuple[int, str]], n: int) -> list[tuple[float, float]]:
    """p50, p99 ms of each (port, GET path), one of each in turn, n times, concurrency 1."""
    conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=600) for port, _ in paths]
    times: list[list[float]] = [[] for _ in paths]
    for _ in range(n):
        for conn, (_, path), out in zip(conns, paths, times, strict=True):
            t0 = time.perf_counter()
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            assert response.status == 200, (path, response.status)
            out.append(time.perf_counter() - t0)
    return [(pct(t, 0.5) * 1000, pct(t, 0.99) * 1000) for t in times]


def measured_mix(port: int, app: int, stores: list[int], concurrency: int, duration: float) -> dict:
    """write_mix plus CPU milliseconds per request: of the gunicorn tree ``app`` alone, and
    of everything (gunicorn, the ``stores`` it uses, this client)."""
    before, stores_before, own = cpu_seconds([app]), cpu_seconds(stores), os.times()
    result = write_mix(port, concurrency, duration)
    after, stores_after, own2 = cpu_seconds([app]), cpu_seconds(stores), os.times()
    n = max(1.0, result["rps"] * duration) / 1000
    client = own2.user - own.user + own2.system - own.system
    result["app_cpu_ms"] = (after - before) / n
    result["cpu_ms"] = (after - before + stores_after - stores_before + client) / n
    return result


WRITERS = ("null", "sqlite", "redis-mariadb", "stream-probe")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5, help="seconds per round")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--events", default="100000,1000000")
    parser.add_argument("--slow-samples", type=int, default=3)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--workers", type=int, default=4, help="as group_vars/vowel.yml")
    parser.add_argument("--threads", type=int, default=1, help="as group_vars/vowel.yml")
    args = parser.parse_args()
    sizes = [int(x) for x in args.events.split(",") if x]
    redis, maria = redisserver.start(), mariadbserver.start()
    store_pids = [redis.proc.pid, maria.proc.pid]
    tmp = tempfile.mkdtemp(prefix="vowel-bench-")
    maria.sql("CREATE USER 'root_bench'@'%' IDENTIFIED BY 'bench'")
    maria.sql("GRANT ALL ON *.* TO 'root_bench'@'%'")
    results: dict[str, dict] = {}

    def settings_for(kind: str, name: str) -> Settings:
        maria.create_database(name, "vowel")
        backend = "redis-mariadb" if kind == "stream-probe" else kind
        return Settings(backend=backend, sqlite_path=f"{tmp}/{name}.sqlite3", redis_port=redis.port,
                        redis_password=redis.password, redis_prefix=f"{name}:",
                        mariadb_port=maria.port, mariadb_database=name,
                        mariadb_password=mariadbserver.PASSWORD, log_level="WARNING")  # fmt: skip

    def serve(kind: str, settings: Settings, stack: ExitStack) -> tuple[int, int]:
        port = free_port()
        env = {**os.environ, **{env_name(k): str(v) for k, v in vars(settings).items()}}
        env.update({env_name("bind"): f"127.0.0.1:{port}", env_name("workers"): str(args.workers),
                    env_name("threads"): str(args.threads),
                    "PYTHONPATH": str(Path(__file__).resolve().parent)})  # fmt: skip
        argv = [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            "python:stackyard.vowel.gunicorn_conf",
        ]
        if kind == "stream-probe":
            argv.append("vowel_stream_probe:create_app()")
        proc = stack.enter_context(serving(argv, env, port))
        return port, proc.pid

    try:
        with ExitStack() as stack:
            served = {
                k: serve(k, settings_for(k, f"w_{k.replace('-', '_')}"), stack) for k in WRITERS
            }
            for port, _ in served.values():
                write_mix(port, args.concurrency, 1)  # warm up
            rounds: dict[str, list[dict]] = {k: [] for k in WRITERS}
            for _ in range(args.rounds):
                for kind, (port, pid) in served.items():
                    stores = [] if kind in ("null", "sqlite") else store_pids
                    run = measured_mix(port, pid, stores, args.concurrency, args.duration)
                    rounds[kind].append(run)
            for kind, runs in rounds.items():
                median = sorted(runs, key=lambda r: r["rps"])[len(runs) // 2]
                median["rounds"] = [round(r["rps"]) for r in runs]
                results[kind] = {"write": median}
                print(kind, median, flush=True)
        lo = (END - timedelta(days=29)).isoformat()
        paths = ["/dashboard/symbol/e", f"/dashboard/range/{lo}/{END.isoformat()}"]
        for n in sizes:
            for kind in ("sqlite", "redis-mariadb"):
                settings = settings_for(kind, f"d{n}_{kind.replace('-', '_')}")
                t0 = time.monotonic()
                load_sqlite(settings.sqlite_path, n) if kind == "sqlite" else load_mariadb(
                    maria, settings, n
                )
                loaded = time.monotonic() - t0
                samples = args.slow_samples if kind == "sqlite" else args.samples
                with ExitStack() as stack:
                    port, _ = serve(kind, settings, stack)
                    null, _ = serve("null", settings_for("null", "d_null"), stack)
                    sample([(port, paths[0]), (null, paths[0])], 1)  # connect, warm up
                    floor, sym, rng = sample(
                        [(null, paths[0]), *((port, p) for p in paths)], samples
                    )
                results[kind][n] = {"symbol": sym, "range": rng, "floor": floor,
                                    "samples": samples, "load_s": loaded}  # fmt: skip
                print(kind, n, results[kind][n], flush=True)
    finally:
        redis.remove()
        maria.remove()
        shutil.rmtree(tmp, ignore_errors=True)
    report(results, sizes)
    return 0


def report(results: dict[str, dict], sizes: list[int]) -> None:
    null = results["null"]["write"]
    print(
        "\n| interface | write mix req/s (rounds) | vs Null | p50 ms | p99 ms"
        " | CPU ms/req all | vs Null | CPU ms/req gunicorn | vs Null |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for kind, r in results.items():
        w = r["write"]
        print(f"| {kind} | {w['rps']:.0f} ({', '.join(map(str, w['rounds']))}) |"
              f" {w['rps'] / null['rps']:.2f}x | {w['p50']:.2f} | {w['p99']:.2f} |"
              f" {w['cpu_ms']:.3f} | {null['cpu_ms'] / w['cpu_ms']:.2f}x |"
              f" {w['app_cpu_ms']:.3f} | {null['app_cpu_ms'] / w['app_cpu_ms']:.2f}x |"
              )  # fmt: skip
    print("\n| events | interface | symbol p50/p99 ms | range 30 d p50/p99 ms |"
          " Null trivial route p50/p99 ms (same moment) | samples |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for n in sizes:
        for kind in ("sqlite", "redis-mariadb"):
            d = results[kind][n]
            cells = " | ".join(
                f"{a:.2f} / {b:.2f}" for a, b in (d["symbol"], d["range"], d["floor"])
            )
            print(f"| {n:,} | {kind} | {cells} | {d['samples']} |")


if __name__ == "__main__":
    sys.exit(main())
