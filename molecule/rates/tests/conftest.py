"""Fixtures of the rates scenario's tests: the two hosts, the API's settings, the database.

The database admits the API's role only from the API host, over TLS; the tests read raw
rows as the postgres superuser on the database host itself (psql over its local socket),
never through the API's own SQL.
"""

import json
from pathlib import Path

import pytest
import testinfra
import yaml

API_HOST = "mol-rates-api"
DB_HOST = "mol-rates-db"
GROUP_VARS = Path(__file__).resolve().parents[3] / "group_vars" / "rates.yml"


def container_ip(name: str) -> str:
    return testinfra.get_host(f"docker://{name}").interface("eth0").addresses[0]


@pytest.fixture(scope="module")
def api_host():
    return testinfra.get_host(f"docker://{API_HOST}")


@pytest.fixture(scope="module")
def db_host():
    return testinfra.get_host(f"docker://{DB_HOST}")


@pytest.fixture(scope="module")
def group_vars() -> dict:
    """The environment's settings as the repository states them (literal values only)."""
    return yaml.safe_load(GROUP_VARS.read_text())


@pytest.fixture(scope="module")
def api_env(api_host) -> dict[str, str]:
    content = api_host.file("/etc/stackyard/rates-api.env").content_string
    env = {}
    for line in content.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = json.loads(value)
    return env


@pytest.fixture(scope="module")
def api_url() -> str:
    return f"http://{container_ip(API_HOST)}:3000"


class Database:
    """SQL as postgres on the database host; rows come back as tuples of JSON values."""

    def __init__(self, host, dbname: str) -> None:
        self.host = host
        self.dbname = dbname

    def rows(self, sql: str) -> list[tuple]:
        wrapped = f"SELECT coalesce(json_agg(row_to_json(t)), '[]') FROM ({sql}) t"
        out = self.host.check_output(
            "runuser -u postgres -- psql -AtX -v ON_ERROR_STOP=1 -d %s -c %s", self.dbname, wrapped
        )
        return [tuple(row.values()) for row in json.loads(out)]


@pytest.fixture(scope="module")
def db(db_host, api_env) -> Database:
    return Database(db_host, api_env["RATES_DB_NAME"])
