"""A seeded users table for the density tests (Kafka: the `broker` fixture of tests/conftest.py)."""

from __future__ import annotations

import pytest
from density_support import PASSWORD, TOKEN

from stackyard.density import users


@pytest.fixture(scope="session")
def users_db(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("users") / "users.db")
    users.seed(path, "density", PASSWORD, TOKEN)
    users.seed(path, "someone", "other-password", "othertoken")
    return path
