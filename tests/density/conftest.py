"""A throwaway Kafka broker, a seeded users table, and app_a/app_b under real gunicorn."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from density_support import PASSWORD, TOKEN

from stackyard.density import users
from stackyard.testing import kafka


@pytest.fixture(scope="session")
def broker() -> Iterator[kafka.Broker]:
    try:
        broker = kafka.start()
    except kafka.KafkaNotFound as err:
        pytest.fail(f"Kafka is not available ({err}): run make artifacts")
    yield broker
    broker.destroy()


@pytest.fixture(scope="session")
def users_db(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("users") / "users.db")
    users.seed(path, "density", PASSWORD, TOKEN)
    users.seed(path, "someone", "other-password", "othertoken")
    return path
