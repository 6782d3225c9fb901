"""The service works as the Redis ACL user group_vars/vowel.yml deploys, and that user can
do nothing else: a real Redis started with exactly those rules."""

from __future__ import annotations

import shutil
import uuid as uuidlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
import yaml

from stackyard.testing import redisserver
from stackyard.vowel.rebuild import rebuild
from stackyard.vowel.redis_mariadb import RedisMariaDBInterface

pytestmark = pytest.mark.integration
GROUP_VARS = Path(__file__).parents[2] / "group_vars" / "vowel.yml"
APP_PASSWORD = "vowel-app-secret"  # a throwaway server


@pytest.fixture(scope="module")
def acl_server():
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed (scripts/bootstrap-host.sh installs it)")
    wiring = yaml.safe_load(GROUP_VARS.read_text())
    user = f"{wiring['vowel_redis_username']} reset on >{APP_PASSWORD} {wiring['vowel_redis_acl']}"
    server = redisserver.start(users=[user])
    yield server, wiring["vowel_redis_username"]
    server.remove()


@pytest.fixture
def app_settings(acl_server, new_store):
    server, username = acl_server
    return new_store(
        redis_port=server.port,
        redis_username=username,
        redis_password=APP_PASSWORD,
        redis_prefix="vowel:",  # the deployed prefix, which the rules name
    )


def test_the_service_and_the_rebuild_work_as_the_app_user(app_settings):
    data = RedisMariaDBInterface(app_settings)
    try:
        ident = str(uuidlib.uuid4())
        data.log_initial(ident, "i", True)
        data.log_followup(ident)
        assert data.symbol_aggregates("i")["count"] == 1
        today = datetime.now(UTC).date()
        assert [a["followups"] for a in data.range_aggregates(today, today)] == [1]
        assert data.health() == {"redis": "ok", "mariadb": "ok"}
        assert rebuild(app_settings)["initials"] == 1
        assert data.symbol_aggregates("i")["count"] == 1
    finally:
        data.close()


@pytest.mark.parametrize(
    "command",
    [
        ("CONFIG", "SET", "appendonly", "no"),
        ("CONFIG", "REWRITE"),
        ("FLUSHALL",),
        ("FLUSHDB",),
        ("SHUTDOWN", "NOSAVE"),
        ("KEYS", "*"),
        ("ACL", "LIST"),
        ("SET", "other:key", "x"),  # outside the prefix
        ("HSET", "other:key", "f", "1"),
        ("EVAL", "return redis.call('FLUSHALL')", "0"),
    ],
)
def test_the_app_user_cannot_run_admin_commands_or_touch_other_keys(acl_server, command):
    server, username = acl_server
    client = redis.Redis(port=server.port, username=username, password=APP_PASSWORD)
    try:
        # NOPERM, or inside a script "the user executing the script can't run this command"
        with pytest.raises(redis.exceptions.ResponseError, match=r"permissions|can't run"):
            client.execute_command(*command)
        assert client.ping()  # the server is still up
    finally:
        client.close()
