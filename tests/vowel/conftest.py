"""Throwaway real Redis and MariaDB servers shared by the session; a fresh store per test."""

from __future__ import annotations

import itertools
import shutil

import pytest

from stackyard.testing import mariadbserver, redisserver
from stackyard.vowel.config import Settings
from stackyard.vowel.interface import DataInterface
from stackyard.vowel.redis_mariadb import RedisMariaDBInterface
from stackyard.vowel.sqlite_interface import SQLiteInterface

_names = itertools.count()
STORED = ("sqlite", "redis-mariadb")  # the interfaces that store and answer


@pytest.fixture(scope="session")
def redis_server():
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed (scripts/bootstrap-host.sh installs it)")
    server = redisserver.start()
    yield server
    server.remove()


@pytest.fixture(scope="session")
def mariadb_server():
    if not shutil.which("mariadb-install-db"):
        pytest.skip("mariadb-server is not installed (scripts/bootstrap-host.sh installs it)")
    server = mariadbserver.start()
    yield server
    server.remove()


def fresh_settings(redis_server, mariadb_server, **overrides) -> Settings:
    """Settings of a new empty MariaDB database and Redis key prefix."""
    name = f"vowel_t{next(_names)}"
    mariadb_server.create_database(name, "vowel")
    values = {
        "backend": "redis-mariadb",
        "redis_port": redis_server.port,
        "redis_password": redis_server.password,
        "redis_prefix": f"{name}:",
        "mariadb_port": mariadb_server.port,
        "mariadb_database": name,
        "mariadb_password": mariadbserver.PASSWORD,
        "log_level": "WARNING",
        **overrides,
    }
    return Settings(**values)


@pytest.fixture
def make_interface(request, tmp_path):
    """``make_interface(kind)``: a new interface over empty stores; closed after the test."""
    made: list[DataInterface] = []
    stores: dict[str, Settings] = {}

    def make(kind: str, shared: bool = True) -> DataInterface:
        if kind == "sqlite":
            name = "vowel.sqlite3" if shared else f"vowel-{next(_names)}.sqlite3"
            interface: DataInterface = SQLiteInterface(str(tmp_path / name))
        else:
            if kind not in stores or not shared:
                stores[kind] = fresh_settings(
                    request.getfixturevalue("redis_server"),
                    request.getfixturevalue("mariadb_server"),
                )
            interface = RedisMariaDBInterface(stores[kind])
        made.append(interface)
        return interface

    yield make
    for interface in made:
        interface.close()


@pytest.fixture(params=STORED)
def interface(request, make_interface) -> DataInterface:
    return make_interface(request.param)


@pytest.fixture
def new_store(redis_server, mariadb_server):
    """``new_store(**overrides)``: Settings of a new empty MariaDB database and Redis prefix."""
    return lambda **overrides: fresh_settings(redis_server, mariadb_server, **overrides)
