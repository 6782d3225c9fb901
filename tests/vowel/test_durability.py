"""Acknowledged events survive crashes: gunicorn workers, Redis and MariaDB, all real."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid as uuidlib
from collections import Counter
from contextlib import contextmanager

import pytest
import requests

from stackyard.testing.http import serving
from stackyard.testing.pgcluster import free_port
from stackyard.vowel.config import env_name
from stackyard.vowel.rebuild import rebuild

pytestmark = pytest.mark.integration


@pytest.fixture
def service(new_store):
    """A gunicorn vowel service (2 sync workers) over fresh stores: (base URL, settings, proc)."""
    settings = new_store(workers=2, threads=1)
    port = free_port()
    env = {**os.environ, **{env_name(k): str(v) for k, v in vars(settings).items()}}
    env[env_name("bind")] = f"127.0.0.1:{port}"
    argv = [sys.executable, "-m", "gunicorn", "--config", "python:stackyard.vowel.gunicorn_conf"]
    with serving(argv, env, port) as proc:
        yield f"http://127.0.0.1:{port}", settings, proc


def send(base: str, n: int, symbols: str = "aeiouxyz") -> tuple[Counter, Counter, int]:
    """n initials and a follow-up for every third; the acknowledged ones by symbol, and errors."""
    acked, followed, failed = Counter(), Counter(), 0
    with requests.Session() as http:
        for i in range(n):
            ident, symbol = str(uuidlib.uuid4()), symbols[i % len(symbols)]
            try:
                r = http.post(
                    f"{base}/initial", params={"uuid": ident, "symbol": symbol}, timeout=10
                )
                assert r.status_code in (200, 503), (r.status_code, r.text)
                if r.status_code != 200:
                    failed += 1
                    continue
                acked[symbol] += 1
                if i % 3 == 0:
                    r = http.post(f"{base}/followup", params={"uuid": ident}, timeout=10)
                    assert r.status_code in (200, 503), (r.status_code, r.text)
                    followed[symbol] += r.status_code == 200
            except requests.ConnectionError:  # a worker killed mid-request: not acknowledged
                failed += 1
    return acked, followed, failed


def counts(tsv: str) -> Counter:
    return Counter({s: int(n) for s, n in (line.split("\t") for line in tsv.splitlines() if line)})


def stored(mariadb_server, settings) -> tuple[Counter, Counter]:
    """Counts computed independently from the raw MariaDB rows."""
    db = settings.mariadb_database
    initials = mariadb_server.sql("SELECT symbol, COUNT(*) FROM initial_events GROUP BY symbol", db)
    followups = mariadb_server.sql(
        "SELECT i.symbol, COUNT(*) FROM followup_events f JOIN initial_events i"
        " ON i.id = f.initial_id GROUP BY i.symbol",
        db,
    )
    return counts(initials), counts(followups)


def dashboard(base: str) -> tuple[Counter, Counter]:
    rows = [requests.get(f"{base}/dashboard/symbol/{s}", timeout=10).json() for s in "aeiouxyz"]
    return (
        Counter({r["symbol"]: r["count"] for r in rows if r["count"]}),
        Counter({r["symbol"]: r["followups"] for r in rows if r["followups"]}),
    )


def workers(master: int) -> list[int]:
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(master)], capture_output=True, text=True
    )
    return [int(p) for p in out.stdout.split()]


def test_killed_workers_lose_no_acknowledged_event(service, mariadb_server):
    base, settings, proc = service
    acked, followed, _ = send(base, 60)
    for pid in workers(proc.pid):
        os.kill(pid, signal.SIGKILL)
    time.sleep(1)  # the master starts new workers
    more, more_followed, _ = send(base, 60)
    acked, followed = acked + more, followed + more_followed
    initials, followups = stored(mariadb_server, settings)
    assert initials == acked and followups == followed
    assert dashboard(base) == (initials, followups)


@pytest.mark.parametrize("crash", [False, True], ids=["restart", "sigkill"])
def test_redis_restart_keeps_the_aggregates(service, redis_server, mariadb_server, crash):
    base, settings, _ = service
    acked, followed, _ = send(base, 60)
    redis_server.restart(crash=crash)  # appendfsync always: every update is on disk
    assert dashboard(base) == (acked, followed) == stored(mariadb_server, settings)


def test_writes_while_redis_is_down_are_stored_and_rebuilt(service, redis_server, mariadb_server):
    base, settings, _ = service
    before, before_followed, _ = send(base, 30)
    redis_server.stop()
    try:
        acked, followed, failed = send(base, 30)
        assert failed == 0  # MariaDB has them: acknowledged
        r = requests.get(f"{base}/dashboard/symbol/a", timeout=10)
        assert r.status_code == 503 and r.json()["error"] and r.headers["Retry-After"]
        assert requests.get(f"{base}/health", timeout=10).status_code == 503
    finally:
        redis_server.start()
    assert stored(mariadb_server, settings) == (before + acked, before_followed + followed)
    rebuild(settings)
    assert dashboard(base) == stored(mariadb_server, settings)


@pytest.mark.parametrize("crash", [False, True], ids=["restart", "sigkill"])
def test_mariadb_outage_answers_503_and_loses_no_acknowledged_event(
    service, redis_server, mariadb_server, crash
):
    base, settings, _ = service
    acked, followed, _ = send(base, 30)
    mariadb_server.stop(signal.SIGKILL if crash else signal.SIGTERM)
    try:
        _, _, failed = send(base, 10)
        assert failed == 10  # answered 503: nothing acknowledged, nothing counted
    finally:
        mariadb_server.start()
    more, more_followed, _ = send(base, 30)  # the workers reconnect
    assert stored(mariadb_server, settings) == (acked + more, followed + more_followed)
    assert dashboard(base) == stored(mariadb_server, settings)


@contextmanager
def raw(base: str):
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        yield sock


def answer(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_chunked_and_slow_bodies_get_a_json_4xx(service):
    base, _, _ = service
    target = f"/initial?uuid={uuidlib.uuid4()}&symbol=a"
    with raw(base) as sock:
        sock.sendall(
            f"POST {target} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            "Connection: close\r\n\r\n5\r\nhello\r\n".encode()
        )  # and never the last chunk
        reply = answer(sock)
    assert reply.startswith(b"HTTP/1.1 413") and b'"error"' in reply
    with raw(base) as sock:
        sock.sendall(
            f"POST {target} HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        for _ in range(3):  # a slow sender
            sock.sendall(b"x" * 10)
            time.sleep(0.2)
        reply = answer(sock)
    assert reply.startswith(b"HTTP/1.1 413") and b'"error"' in reply
