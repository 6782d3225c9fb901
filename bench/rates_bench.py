"""Rates API benchmark: ours vs a single-connection reference vs the SQL alone.

    .venv/bin/python bench/rates_bench.py [--duration 10] [--concurrency 8] [--dsn DSN]

Without ``--dsn`` a throwaway PostgreSQL cluster is started and loaded from the committed
dump (``stackyard.testing.pgcluster``). With ``--dsn`` the database must hold the rates
schema and data and the DSN's role needs the API grants.

1. ours: gunicorn with ``stackyard.rates.gunicorn_conf`` (4 sync workers, as deployed)
2. reference: one global psycopg2 connection behind a lock, ``gunicorn -b ...`` with the
   default single sync worker, like the original ``gunicorn -b :3000 wsgi``; same SQL
3. upper bound: ours without HTTP: the same prepared SQL through a pool by N threads

HTTP load comes from wrk (``apt-get install wrk``; ``bench/rates_wrk.lua``) when installed,
else from Python threads (``--load python``).

Then batch ingest of 50,000 rows shaped like a daily upload: POST /prices to ours with the
statement-level port checks the rates_db role installs, the same with the dump's row-level
foreign keys (own cluster only), and the floor: a bare COPY into prices.
"""

from __future__ import annotations

import argparse
import http.client
import io
import itertools
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlencode

import psycopg2
import psycopg2.extensions
import psycopg2.pool

from stackyard.rates.queries import RATES_SQL, RatesQuery, fetch_rates
from stackyard.testing import pgcluster
from stackyard.testing.http import serving

HERE = Path(__file__).resolve().parent
GUNICORN = Path(sys.executable).parent / "gunicorn"
WRK = shutil.which("wrk")
LANES = [
    ("CNGGZ", "EETLL"),
    ("CNGGZ", "north_europe_main"),
    ("china_south_main", "baltic"),
    ("CNSHA", "DEHAM"),
    ("china_east_main", "NLRTM"),
    ("KRPUS", "scandinavia"),
]
DATE_FROM, DATE_TO = "2016-01-01", "2016-01-31"


# ---- the reference implementation (served by gunicorn from this file) -------------------


def reference_app():
    """Flask app with ONE global connection guarded by a lock, as the original service had."""
    from flask import Flask, jsonify, request

    app = Flask("reference")
    conn = psycopg2.connect(os.environ["RATES_BENCH_DSN"])
    conn.autocommit = True
    lock = threading.Lock()

    @app.get("/rates")
    def rates():
        params = {
            "date_from": request.args["date_from"],
            "date_to": request.args["date_to"],
            "orig": request.args["orig_code"],
            "dest": request.args["dest_code"],
        }
        with lock, conn.cursor() as cur:
            cur.execute(RATES_SQL, params)
            result = cur.fetchall()
        return jsonify(
            rates=[{"day": d.isoformat(), "price": p, "count": n} for d, p, n, _, _ in result]
        )

    return app


# ---- load generation -------------------------------------------------------------------


def paths():
    for orig, dest in itertools.cycle(LANES):
        yield "/rates?" + urlencode(
            {"date_from": DATE_FROM, "date_to": DATE_TO, "orig_code": orig, "dest_code": dest}
        )


def http_worker(port, stop_at, record_from, latencies, errors):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for path in paths():
        started = time.perf_counter()
        if started >= stop_at:
            break
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            ok = response.status == 200
            if response.will_close:
                conn.close()
        except (OSError, http.client.HTTPException):
            ok = False
            conn.close()
        done = time.perf_counter()
        if started >= record_from:
            if ok:
                latencies.append(done - started)
            else:
                errors.append(1)
    conn.close()


def sql_worker(pool, stop_at, record_from, latencies, errors):
    """Ours without HTTP: the prepared statement of ``queries.fetch_rates`` per connection."""
    conn = pool.getconn()
    conn.autocommit = True
    first, last = date.fromisoformat(DATE_FROM), date.fromisoformat(DATE_TO)
    for orig, dest in itertools.cycle(LANES):
        started = time.perf_counter()
        if started >= stop_at:
            break
        fetch_rates(conn, RatesQuery(first, last, orig, dest))
        if started >= record_from:
            latencies.append(time.perf_counter() - started)
    pool.putconn(conn)


def run_wrk(port, concurrency, duration, warmup):
    """The same load from wrk (C, epoll), so the generator takes little of the CPU."""
    lane_paths = list(itertools.islice(paths(), len(LANES)))

    def wrk(seconds):
        argv = [WRK, "-t", str(min(concurrency, os.cpu_count() or 1)), "-c", str(concurrency)]
        argv += ["-d", f"{seconds:g}s", "-s", str(HERE / "rates_wrk.lua")]
        argv += [f"http://127.0.0.1:{port}", "--", *lane_paths]
        return subprocess.run(argv, check=True, capture_output=True, text=True).stdout

    if warmup > 0:
        wrk(warmup)
    out = wrk(duration)
    figures = json.loads(out.strip().splitlines()[-1])
    seconds = figures["duration_us"] / 1e6
    return {
        "requests": figures["requests"],
        "rps": figures["requests"] / seconds,
        "p50_ms": figures["p50_us"] / 1000,
        "p99_ms": figures["p99_us"] / 1000,
        "errors": figures["errors"],
    }


def run_load(worker, args, concurrency, duration, warmup):
    latencies, errors = [], []
    record_from = time.perf_counter() + warmup
    stop_at = record_from + duration
    threads = [
        threading.Thread(target=worker, args=(*args, stop_at, record_from, latencies, errors))
        for _ in range(concurrency)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies.sort()
    q = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else []
    return {
        "requests": len(latencies),
        "rps": len(latencies) / duration,
        "p50_ms": q[49] * 1000 if q else float("nan"),
        "p99_ms": q[98] * 1000 if q else float("nan"),
        "errors": len(errors),
    }


def http_load(port, args):
    if args.load == "wrk":
        return run_wrk(port, args.concurrency, args.duration, args.warmup)
    return run_load(http_worker, (port,), args.concurrency, args.duration, args.warmup)


# ---- servers ---------------------------------------------------------------------------


@contextmanager
def warm_server(argv, env, port):
    """The server for the length of the block, its workers' imports and pools warmed first."""
    with serving(argv, env, port):
        for _ in range(4):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", next(paths()))
            conn.getresponse().read()
            conn.close()
        yield


def port_codes(dsn):
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT code FROM public.ports ORDER BY code")
        return [code for (code,) in cur.fetchall()]


def batch_items(codes, rows, run):
    """A batch shaped like a daily upload: many lanes, a few days, every port in play."""
    rnd = random.Random(run)
    first_day = date(2050, 1, 1) + timedelta(days=7 * run)
    return [
        {
            "orig_code": rnd.choice(codes),
            "dest_code": rnd.choice(codes),
            "day": (first_day + timedelta(days=rnd.randrange(7))).isoformat(),
            "price": rnd.randrange(100, 5000),
        }
        for _ in range(rows)
    ]


def post_batch(port, items):
    """Seconds from sending the JSON body of POST /prices to reading the 201."""
    body = json.dumps(items).encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    started = time.perf_counter()
    conn.request("POST", "/prices", body, {"Content-Type": "application/json"})
    response = conn.getresponse()
    payload = json.loads(response.read())
    elapsed = time.perf_counter() - started
    conn.close()
    if response.status != 201 or payload.get("inserted") != len(items):
        raise RuntimeError(f"batch failed: {response.status} {payload}")
    return elapsed


def copy_batch(dsn, items):
    """The floor: COPY straight into prices in one transaction (rolled back), no HTTP."""
    text = "".join(f"{i['orig_code']}\t{i['dest_code']}\t{i['day']}\t{i['price']}\n" for i in items)
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        started = time.perf_counter()
        cur.copy_expert("COPY public.prices FROM STDIN", io.StringIO(text))  # checks included
        elapsed = time.perf_counter() - started
        conn.rollback()
    return elapsed


def use_port_checks(cluster, kind):
    """Switch the throwaway cluster between statement-level checks and row-level FKs."""
    cluster.run_sql_file("rates", pgcluster.port_checks(kind))


def median_line(times):
    listed = ", ".join(f"{t:.2f}" for t in times)
    return f"{statistics.median(times):.2f} s ({listed})"


def deployed_settings(path: str) -> dict[str, str]:
    """RATES_* settings (without the prefix) that reproduce a running gunicorn's state file."""
    state = json.loads(Path(path).read_text())
    names = ("workers", "threads", "timeout", "graceful_timeout", "keepalive")
    settings = {name.upper(): str(state[name]) for name in names}
    print(
        f"ours as deployed ({path}): worker_class {state['worker_class']}, "
        + ", ".join(f"{name} {state[name]}" for name in names)
    )
    return settings


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", help="libpq DSN of a loaded rates database (default: own cluster)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured per run")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before measuring")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4, help="ours: gunicorn workers")
    parser.add_argument("--threads", type=int, default=1, help="ours: threads per worker")
    parser.add_argument(
        "--load",
        choices=("wrk", "python"),
        default="wrk" if WRK else "python",
        help="HTTP load generator: wrk (default when installed) or Python threads",
    )
    parser.add_argument(
        "--from-state",
        metavar="GUNICORN_JSON",
        help="ours: workers, threads and timeouts of a running deployment, from the state file"
        " its gunicorn writes (/run/rates-api/gunicorn.json); overrides --workers/--threads",
    )
    parser.add_argument("--batch-rows", type=int, default=50_000)
    parser.add_argument("--batch-runs", type=int, default=3)
    args = parser.parse_args(argv)
    if args.load == "wrk" and not WRK:
        parser.error("wrk is not installed (apt-get install wrk), or use --load python")
    deployed = deployed_settings(args.from_state) if args.from_state else {}
    if deployed:
        args.workers, args.threads = int(deployed["WORKERS"]), int(deployed["THREADS"])

    cluster = None
    if args.dsn:
        dsn = args.dsn
    else:
        cluster = pgcluster.start()
        pgcluster.load_rates(cluster, api_password="bench-password")
        dsn = cluster.dsn("rates", user="rates_api", password="bench-password")
    parsed = psycopg2.extensions.parse_dsn(dsn)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("RATES_")}
    results, ingest = {}, {}
    try:
        ours_port = pgcluster.free_port()
        ours_env = {
            **base_env,
            "RATES_DB_HOST": parsed.get("host", "127.0.0.1"),
            "RATES_DB_PORT": parsed.get("port", "5432"),
            "RATES_DB_NAME": parsed.get("dbname", "rates"),
            "RATES_DB_USER": parsed.get("user", "rates_api"),
            "RATES_DB_PASSWORD": parsed.get("password", ""),
            "RATES_DB_POOL_MAX": str(max(args.threads, 1)),
            "RATES_BIND": f"127.0.0.1:{ours_port}",
            "RATES_WORKERS": str(args.workers),
            "RATES_THREADS": str(args.threads),
            "RATES_LOG_LEVEL": "INFO",
            **{f"RATES_{name}": value for name, value in deployed.items()},
        }
        ours_argv = [str(GUNICORN), "--config", "python:stackyard.rates.gunicorn_conf"]
        with warm_server(ours_argv, ours_env, ours_port):
            kind = "gthread" if args.threads > 1 else "sync"
            name = f"ours (gunicorn {args.workers} workers x {args.threads} threads, {kind}, pool)"
            results[name] = http_load(ours_port, args)

        port = pgcluster.free_port()
        with warm_server(
            [str(GUNICORN), "-b", f"127.0.0.1:{port}", "rates_bench:reference_app()"],
            {**base_env, "RATES_BENCH_DSN": dsn, "PYTHONPATH": str(HERE)},
            port,
        ):
            results["reference (1 sync worker, 1 locked connection)"] = http_load(port, args)

        pool = psycopg2.pool.ThreadedConnectionPool(1, args.concurrency, dsn)
        try:
            results[f"upper bound (prepared SQL only, {args.concurrency} threads, pool)"] = (
                run_load(sql_worker, (pool,), args.concurrency, args.duration, args.warmup)
            )
        finally:
            pool.closeall()

        # Last: batches grow prices, and every read above must see the same table.
        with warm_server(ours_argv, ours_env, ours_port):
            codes = port_codes(dsn)
            batches = [batch_items(codes, args.batch_rows, run) for run in range(args.batch_runs)]
            ingest["ours: POST /prices, statement-level port checks"] = [
                post_batch(ours_port, items) for items in batches
            ]
            if cluster is not None:
                use_port_checks(cluster, "row")
                try:
                    ingest["ours: POST /prices, row-level foreign keys (the dump's)"] = [
                        post_batch(ours_port, items) for items in batches
                    ]
                finally:
                    use_port_checks(cluster, "statement")
            ingest["floor: COPY into prices, no HTTP (rolled back)"] = [
                copy_batch(dsn, items) for items in batches
            ]
    finally:
        if cluster is not None:
            cluster.stop()

    print(f"\nconcurrency {args.concurrency}, {args.duration:g} s per run after")
    print(
        f"{args.warmup:g} s warm-up, 31-day queries, {len(LANES)} lanes, {os.cpu_count()} CPUs,"
        f" load from {args.load}\n"
    )
    print("| implementation | requests/s | p50 ms | p99 ms | errors |")
    print("|---|---:|---:|---:|---:|")
    for name, r in results.items():
        print(
            f"| {name} | {r['rps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']} |"
        )
    names = list(results)
    ours_r, ref_r, top_r = (results[n] for n in names)
    print(f"\nours / reference throughput: {ours_r['rps'] / ref_r['rps']:.2f}x")
    print(f"ours / upper bound throughput: {ours_r['rps'] / top_r['rps']:.2f}x")
    print(f"\nbatch ingest of {args.batch_rows} rows (daily-upload shape), median (runs):\n")
    print("| path | seconds to commit |")
    print("|---|---:|")
    for name, times in ingest.items():
        print(f"| {name} | {median_line(times)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
