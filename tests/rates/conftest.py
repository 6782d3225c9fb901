"""A throwaway PostgreSQL cluster with the committed rates dump, shared by the session."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2
import pytest

from stackyard.rates.app import create_app
from stackyard.rates.config import Settings
from stackyard.testing import pgcluster
from stackyard.testing.http import serving
from stackyard.testing.pgcluster import free_port

API_USER = "rates_api"
API_PASSWORD = "api-password-for-tests"


@pytest.fixture(scope="session")
def cluster():
    try:
        bindir = pgcluster.find_bindir()
    except pgcluster.PostgresNotFound as err:
        pytest.skip(f"PostgreSQL server binaries are not installed: {err}")
    cluster = pgcluster.start(bindir)
    try:
        pgcluster.load_rates(cluster, api_user=API_USER, api_password=API_PASSWORD)
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def api_dsn(cluster) -> str:
    """libpq DSN of the API role."""
    return cluster.dsn("rates", user=API_USER, password=API_PASSWORD)


@pytest.fixture(scope="session")
def admin_dsn(cluster) -> str:
    """libpq DSN of the superuser."""
    return cluster.dsn("rates")


@pytest.fixture(scope="session")
def settings(cluster) -> Settings:
    return Settings(
        db_host="127.0.0.1",
        db_port=cluster.port,
        db_name="rates",
        db_user=API_USER,
        db_password=API_PASSWORD,
        db_pool_min=1,
        db_pool_max=4,
        log_level="WARNING",
    )


@pytest.fixture(scope="session")
def app(settings):
    app = create_app(settings)
    yield app
    app.extensions["stackyard.rates.db"].close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def admin(admin_dsn):
    """A superuser connection straight to the database, for computing expectations."""
    conn = psycopg2.connect(admin_dsn)
    conn.autocommit = True
    yield conn
    conn.close()


@pytest.fixture
def clean_env(monkeypatch):
    for key in list(os.environ):
        if key.startswith("RATES_"):
            monkeypatch.delenv(key)
    return monkeypatch


GUNICORN = Path(sys.executable).parent / "gunicorn"


def api_env(cluster, port: int, **extra: str) -> dict[str, str]:
    """Environment of a gunicorn serving the API on ``port`` against ``cluster``."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("RATES_")},
        "RATES_DB_HOST": "127.0.0.1",
        "RATES_DB_PORT": str(cluster.port),
        "RATES_DB_USER": API_USER,
        "RATES_DB_PASSWORD": API_PASSWORD,
        "RATES_BIND": f"127.0.0.1:{port}",
        "RATES_LOG_LEVEL": "INFO",
        **extra,
    }


@contextmanager
def gunicorn_api(cluster, log_path: Path, **extra: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """Real gunicorn with the API's config module; yields its base URL and process."""
    port = free_port()
    argv = [str(GUNICORN), "--config", "python:stackyard.rates.gunicorn_conf"]
    with (
        open(log_path, "wb") as stderr,
        serving(argv, api_env(cluster, port, **extra), port, stderr=stderr) as proc,
    ):
        yield f"http://127.0.0.1:{port}", proc


def raw_http(url: str, request: bytes, timeout: float = 30) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes to the server of ``url``; the status, headers and body of the answer."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        # A server may answer (413) and close before the whole request is sent: the rest of
        # the send fails, and the answer is what counts.
        with contextlib.suppress(OSError):
            sock.sendall(request)
            sock.shutdown(socket.SHUT_WR)
        data = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                data += chunk
    assert data, "the server closed the connection without an answer"
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


@pytest.fixture(scope="session")
def serve_api():
    """``serve_api(cluster, log_path, **env)``: a context manager of real gunicorn."""
    return gunicorn_api


@pytest.fixture(scope="session")
def http_raw():
    """``http_raw(url, request_bytes)``: status, headers and body of a raw request."""
    return raw_http


@pytest.fixture(scope="module")
def own_cluster():
    """A rates cluster for one module (for tests that restart or stop it)."""
    try:
        bindir = pgcluster.find_bindir()
    except pgcluster.PostgresNotFound as err:
        pytest.skip(f"PostgreSQL server binaries are not installed: {err}")
    cluster = pgcluster.start(bindir)
    try:
        pgcluster.load_rates(cluster, api_user=API_USER, api_password=API_PASSWORD)
        yield cluster
    finally:
        cluster.stop()
