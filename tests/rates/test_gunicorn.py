"""The API served by real gunicorn with its config module, queried over HTTP."""

import json
import os
import sys
from pathlib import Path

import pytest

from stackyard.testing.http import request_json as http
from stackyard.testing.http import serving
from stackyard.testing.pgcluster import free_port

pytestmark = pytest.mark.integration

GUNICORN = Path(sys.executable).parent / "gunicorn"


@pytest.fixture(scope="module")
def served(settings, tmp_path_factory):
    port = free_port()
    tmp = tmp_path_factory.mktemp("gunicorn")
    log = tmp / "stderr.log"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("RATES_")},
        "RATES_DB_HOST": settings.db_host,
        "RATES_DB_PORT": str(settings.db_port),
        "RATES_DB_NAME": settings.db_name,
        "RATES_DB_USER": settings.db_user,
        "RATES_DB_PASSWORD": settings.db_password,
        "RATES_DB_POOL_MAX": "2",
        "RATES_BIND": f"127.0.0.1:{port}",
        "RATES_WORKERS": "2",
        "RATES_THREADS": "2",
        "RATES_LOG_LEVEL": "INFO",
        "RATES_TIMEOUT": "77",
        "RATES_GRACEFUL_TIMEOUT": "11",
        "RATES_KEEPALIVE": "3",
        "STACKYARD_GUNICORN_STATE": str(tmp / "gunicorn.json"),
    }
    argv = [str(GUNICORN), "--config", "python:stackyard.rates.gunicorn_conf"]
    with open(log, "wb") as stderr, serving(argv, env, port, stderr=stderr) as proc:
        yield f"http://127.0.0.1:{port}", log, env, proc


def test_running_gunicorn_uses_the_settings(served):
    """The effective configuration gunicorn reports equals the RATES_* settings."""
    _, _, env, proc = served
    state = json.loads(Path(env["STACKYARD_GUNICORN_STATE"]).read_text())
    assert state == {
        "worker_class": "gthread",
        "workers": 2,
        "threads": 2,
        "timeout": 77,
        "graceful_timeout": 11,
        "keepalive": 3,
        "bind": [env["RATES_BIND"]],
        "pid": proc.pid,
    }


def test_gunicorn_serves_rates_health_and_batches(served):
    url, log, _, _ = served
    assert http("GET", f"{url}/health") == (200, {"status": "ok", "database": "ok"})
    status, body = http(
        "GET",
        f"{url}/rates?date_from=2016-01-01&date_to=2016-01-31&orig_code=CNGGZ&dest_code=EETLL",
    )
    assert status == 200 and len(body["rates"]) == 31
    assert body["rates"][0]["day"] == "2016-01-31"
    status, body = http(
        "GET",
        f"{url}/rates?date_from=2016-02-01&date_to=2016-01-01&orig_code=CNGGZ&dest_code=EETLL",
    )
    assert status == 400 and "error" in body
    assert http("GET", f"{url}/nope")[0] == 404
    items = [
        {"orig_code": "CNGGZ", "dest_code": "EETLL", "day": "2044-01-01", "price": 1000}
    ] * 1000
    assert http("POST", f"{url}/prices", json.dumps(items).encode()) == (201, {"inserted": 1000})
    items = [dict(item) for item in items]
    items[500]["dest_code"] = "ZZZZZ"
    status, body = http("POST", f"{url}/prices", json.dumps(items).encode())
    assert status == 400 and body["bad_rows"][0]["row"] == 501

    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    requests = [entry for entry in lines if entry.get("message") == "request"]
    assert {"method", "path", "status", "duration_ms", "remote_addr"} <= set(requests[0])
    assert {(r["path"], r["status"]) for r in requests} >= {("/health", 200), ("/nope", 404)}
    assert "api-password-for-tests" not in log.read_text()
