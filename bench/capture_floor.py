"""What capture costs a worker per request, in-process: the floor under capture_bench.py.

    .venv/bin/python bench/capture_floor.py [--rounds 5] [--requests 20000]

app_a's WSGI callable (as ``create_app`` builds it for gunicorn, trusted proxies
included) is called with a ``GET /hello`` environ like gunicorn's, in one thread, in three
modes interleaved every round: capture **off**, the capture middleware with its events
**discarded** (the relay's ``send`` replaced by a no-op here, in the bench: what capturing
costs before anything is handed on) and **on** (the deployed relay: every event sent to the
worker's publisher process, which spools it; Kafka is unreachable so nothing else runs).
Prints the microseconds per request of the calling thread (median over rounds), the
ratios to off, and the publisher process's CPU per event from /proc.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

from stackyard.density.app_a import create_app
from stackyard.density.capture.relay import EXTENSION
from stackyard.density.config import load_settings
from stackyard.testing.pgcluster import free_port
from stackyard.testing.process import cpu_seconds

MODES = ("off", "discarded", "on")


def environ() -> dict:
    """A GET /hello as gunicorn hands it to the app (its non-header keys included)."""
    return {
        "REQUEST_METHOD": "GET", "PATH_INFO": "/hello", "QUERY_STRING": "", "RAW_URI": "/hello",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "5000", "SERVER_PROTOCOL": "HTTP/1.0",
        "SERVER_SOFTWARE": "gunicorn", "SCRIPT_NAME": "", "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "40000", "HTTP_HOST": "127.0.0.1:5000", "HTTP_CONNECTION": "close",
        "HTTP_USER_AGENT": "ApacheBench/2.3", "HTTP_ACCEPT": "*/*",
        "HTTP_X_FORWARDED_FOR": "198.51.100.7", "HTTP_X_REAL_IP": "198.51.100.7",
        "wsgi.input": io.BytesIO(b""), "wsgi.errors": sys.stderr, "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http", "wsgi.multithread": False, "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }  # fmt: skip


def start_response(status: str, headers: list, exc_info: object = None) -> None:
    return None


def per_request_us(app, n: int) -> float:
    started = time.thread_time()
    for _ in range(n):
        result = app(environ(), start_response)
        for _chunk in result:
            pass
        result.close()
    return (time.thread_time() - started) / n * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=20000)
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="capture-floor-"))
    env = {
        "DENSITY_USERS_DB": str(tmp / "users.db"),
        "DENSITY_SPOOL_DIR": str(tmp / "spool"),
        "DENSITY_SPOOL_MAX_BYTES": str(1024**3),
        "DENSITY_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}",  # nothing listens
        "DENSITY_RETRY_INTERVAL": "3600",
        "DENSITY_LOG_LEVEL": "ERROR",
    }
    apps = {}
    for mode in MODES:
        settings = load_settings({**env, "DENSITY_CAPTURE_ENABLED": str(int(mode != "off"))})
        apps[mode] = create_app(settings)
    apps["discarded"].extensions[EXTENSION].send = lambda parts: None
    relay = apps["on"].extensions[EXTENSION]
    relay.start()
    time.sleep(2)  # the publisher process is up
    publisher = relay.snapshot()["publisher_pid"]
    for app in apps.values():
        per_request_us(app, args.requests // 4)  # warm-up
    samples: dict[str, list[float]] = {m: [] for m in MODES}
    companion_us = []
    for _ in range(args.rounds):
        for mode in MODES:
            before = cpu_seconds([publisher])
            samples[mode].append(per_request_us(apps[mode], args.requests))
            if mode == "on":
                time.sleep(0.2)  # its last read and spool write
                companion_us.append((cpu_seconds([publisher]) - before) / args.requests * 1e6)
    relay.close()
    print(f"app_a GET /hello in-process, {args.rounds} interleaved rounds x {args.requests}")
    off = statistics.median(samples["off"])
    print(f"{'mode':10} {'us/req':>8} {'ratio':>7} {'+us':>6}")
    for mode in MODES:
        us = statistics.median(samples[mode])
        print(f"{mode:10} {us:8.1f} {us / off:7.3f} {us - off:6.1f}")
    print(f"publisher process CPU per event: {statistics.median(companion_us):.1f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
