"""Write and read tokens, the client address behind trusted proxies, /health's discretion."""

import dataclasses
import json
import logging

import pytest

from stackyard.rates.app import create_app
from stackyard.rates.config import Settings
from stackyard.testing.pgcluster import free_port

pytestmark = pytest.mark.integration

ITEM = {"orig_code": "CNGGZ", "dest_code": "EETLL", "day": "2045-05-05", "price": 1}
RATES = "/rates?date_from=2016-01-01&date_to=2016-01-02&orig_code=CNGGZ&dest_code=EETLL"


@pytest.fixture
def app_with(settings):
    apps = []

    def make(**changes):
        app = create_app(dataclasses.replace(settings, **changes))
        apps.append(app)
        return app.test_client()

    yield make
    for app in apps:
        app.extensions["stackyard.rates.db"].close()


def count(admin):
    with admin.cursor() as cur:
        cur.execute("SELECT count(*) FROM prices WHERE day = '2045-05-05'")
        return cur.fetchone()[0]


def test_writes_need_the_write_token(app_with, admin):
    client = app_with(write_token="w-token-123")
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic w-token-123"}):
        response = client.post("/prices", json=[ITEM], headers=headers)
        assert response.status_code == 401 and "error" in response.get_json()
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert count(admin) == 0
    assert client.get(RATES).status_code == 200  # reads stay open
    response = client.post("/prices", json=[ITEM], headers={"Authorization": "Bearer w-token-123"})
    assert response.status_code == 201
    assert count(admin) == 1
    with admin.cursor() as cur:
        cur.execute("DELETE FROM prices WHERE day = '2045-05-05'")


def test_the_token_is_checked_before_the_body_is_read(app_with):
    client = app_with(write_token="w", max_body_bytes=10)
    assert client.post("/prices", data="x" * 100, content_type="text/csv").status_code == 401


def test_reads_need_the_read_token_when_set(app_with):
    client = app_with(read_token="r-token")
    assert client.get(RATES).status_code == 401
    assert client.get(RATES, headers={"Authorization": "Bearer r-token"}).status_code == 200
    assert client.get("/health").status_code == 200  # probes need no token


def test_client_address_comes_from_trusted_proxies_only(app_with, logged):
    client = app_with(trusted_proxies="127.0.0.1", log_level="INFO")
    spoof = {"X-Forwarded-For": "203.0.113.9"}
    with logged(logging.INFO, "stackyard.rates.access") as caplog:
        client.get("/health", headers=spoof, environ_base={"REMOTE_ADDR": "127.0.0.1"})
        client.get("/health", headers=spoof, environ_base={"REMOTE_ADDR": "192.0.2.50"})
    seen = [(r.remote_addr, r.peer_addr) for r in caplog.records if r.getMessage() == "request"]
    assert seen == [("203.0.113.9", "127.0.0.1"), ("192.0.2.50", "192.0.2.50")]


def test_health_does_not_tell_clients_why(logged):
    app = create_app(Settings(db_host="127.0.0.1", db_port=free_port(), db_connect_timeout=1))
    with logged(logging.WARNING, "stackyard.rates") as caplog:
        response = app.test_client().get("/health")
    assert response.status_code == 503 and response.headers["Retry-After"] == "2"
    assert response.get_json() == {"status": "error", "database": "unavailable"}
    assert "127.0.0.1" not in json.dumps(response.get_json())
    assert any("127.0.0.1" in r.getMessage() for r in caplog.records)  # the log has it
