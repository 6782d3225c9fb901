"""Capture to a broker with SASL/SCRAM-SHA-512 over TLS (the kafka role's kafka_tls and
kafka_sasl): events arrive through the apps' producer settings and are read back with the
sinks' consumer options; a wrong password loses nothing (the events wait in the spool)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaConnectionError
from density_support import gunicorn, spooled_ids

from stackyard.kafkaclient import kafka_options
from stackyard.testing import kafka
from stackyard.testing.tls import self_signed

pytestmark = pytest.mark.integration

USER, PASSWORD = "capture", "capture-secret-1"


@pytest.fixture(scope="module")
def secure_broker(from_artifacts, tmp_path_factory):
    cert, key = self_signed(tmp_path_factory.mktemp("kafka-tls"))
    users = {"broker-admin": "admin-secret-123", USER: PASSWORD}
    server = from_artifacts(
        "Kafka", lambda: kafka.start(scram=users, tls=(cert, key)), kafka.KafkaNotFound
    )
    server.cafile = str(cert)
    yield server
    server.destroy()


def client_settings(broker, password: str = PASSWORD) -> SimpleNamespace:
    return SimpleNamespace(
        kafka_bootstrap=(broker.bootstrap,), kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512", kafka_sasl_username=USER,
        kafka_sasl_password=password, kafka_ssl_cafile=broker.cafile,
    )  # fmt: skip


def app_env(broker, tmp_path: Path, topic: str, password: str = PASSWORD) -> dict[str, str]:
    return {
        "DENSITY_KAFKA_BOOTSTRAP": broker.bootstrap,
        "DENSITY_KAFKA_TOPIC": topic,
        "DENSITY_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "DENSITY_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "DENSITY_KAFKA_SASL_USERNAME": USER,
        "DENSITY_KAFKA_SASL_PASSWORD": password,
        "DENSITY_KAFKA_SSL_CAFILE": broker.cafile,
        "DENSITY_SPOOL_DIR": str(tmp_path / "spool"),
        "DENSITY_RETRY_INTERVAL": "0.5",
        "DENSITY_KAFKA_REQUEST_TIMEOUT_MS": "2000",
    }


def consume_ids(
    broker, topic: str, want: int, timeout: float = 30, password: str = PASSWORD
) -> list[str]:
    async def run() -> list[str]:
        consumer = AIOKafkaConsumer(
            topic, auto_offset_reset="earliest", enable_auto_commit=False,
            **kafka_options(client_settings(broker, password), "verify"),
        )  # fmt: skip
        ids: list[str] = []
        try:
            await consumer.start()
            deadline = time.monotonic() + timeout
            while len(ids) < want and time.monotonic() < deadline:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    ids.extend(json.loads(r.value)["id"] for r in records)
        finally:
            await consumer.stop()
        return ids

    return asyncio.run(run())


def test_events_arrive_over_sasl_ssl(secure_broker, tmp_path):
    topic = f"secure-{uuid.uuid4().hex[:8]}"
    with gunicorn("app_a", app_env(secure_broker, tmp_path, topic)) as app:
        seen = [requests.get(app.url + "/hello", timeout=10) for _ in range(5)]
        assert all(r.status_code == 200 for r in seen)
        ids = consume_ids(secure_broker, topic, want=5)
    assert sorted(ids) == sorted(r.headers["X-Request-Id"] for r in seen)


def test_a_wrong_password_fails_no_request_and_loses_no_event(secure_broker, tmp_path, logged):
    topic = f"secure-{uuid.uuid4().hex[:8]}"
    wrong = app_env(secure_broker, tmp_path, topic, password="not-the-password")
    with gunicorn("app_a", wrong) as app:
        seen = [requests.get(app.url + "/hello", timeout=10) for _ in range(5)]
        assert all((r.status_code, r.text) == (200, "Hello there") for r in seen)
    # the workers stopped (SIGTERM): what the broker refused waits in the spool
    spooled = spooled_ids(tmp_path / "spool")
    assert sorted(spooled) == sorted(r.headers["X-Request-Id"] for r in seen)
    with logged(logging.ERROR, "aiokafka") as log, pytest.raises(KafkaConnectionError):
        consume_ids(secure_broker, topic, want=1, password="not-the-password")
    assert "SaslAuthenticationFailed" in log.text
    # the password fixed, the same spool is replayed to the topic
    with gunicorn("app_a", app_env(secure_broker, tmp_path, topic)):
        ids = consume_ids(secure_broker, topic, want=5)
    assert sorted(ids) == sorted(spooled)
