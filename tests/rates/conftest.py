"""A throwaway PostgreSQL cluster with the committed rates dump, shared by the session."""

from __future__ import annotations

import os

import psycopg2
import pytest

from stackyard.rates.app import create_app
from stackyard.rates.config import Settings
from stackyard.testing import pgcluster

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
