"""Behaviour of the redis role, proven from the controller over the network."""

import os
import uuid

import pytest
import redis
import testinfra

PASSWORD = "probe-secret-1"  # must match converge.yml
INSTANCE = f"sy-{os.environ.get('STACKYARD_INSTANCE', 'instance')}"


@pytest.fixture(scope="module")
def host():
    return testinfra.get_host(f"docker://{INSTANCE}")


@pytest.fixture(scope="module")
def ip(host) -> str:
    return host.interface("eth0").addresses[0]


APP_USER, APP_PASSWORD = "probe-app", "probe-app-secret"  # must match converge.yml


def client(ip: str, password: str | None = PASSWORD, username: str | None = None) -> redis.Redis:
    return redis.Redis(host=ip, port=6379, username=username, password=password, socket_timeout=10)


def test_a_value_round_trips_over_the_network(ip):
    key = f"probe:{uuid.uuid4()}"
    client(ip).set(key, "alive")
    assert client(ip).get(key) == b"alive"


@pytest.mark.parametrize("password", [None, "wrong"])
def test_a_missing_or_wrong_password_is_refused(ip, password):
    with pytest.raises((redis.AuthenticationError, redis.ResponseError)):
        client(ip, password).set("probe:denied", "x")


def test_persistence_and_memory_policy_are_as_configured(ip):
    config = client(ip).config_get("*")
    assert config["appendonly"] == "yes" and config["appendfsync"] == "always"
    assert config["maxmemory-policy"] == "noeviction"
    assert config["maxmemory"] == str(64 * 1024 * 1024)
    assert config["tcp-keepalive"] == "60"  # an override


def test_a_written_key_survives_a_kill_of_the_server(host, ip):
    key = f"probe:{uuid.uuid4()}"
    client(ip).set(key, "durable")
    host.run_test("systemctl kill --signal=SIGKILL redis-server.service")
    # Restart=always brings it back; the AOF replays
    for _ in range(30):
        try:
            assert client(ip).get(key) == b"durable"
            return
        except redis.ConnectionError:
            host.run("sleep 1")
    pytest.fail("redis did not come back after a kill")


def test_the_app_user_works_on_its_keys_and_nothing_else(ip):
    app = client(ip, APP_PASSWORD, APP_USER)
    key = f"app:{uuid.uuid4()}"
    app.set(key, "mine")
    assert app.get(key) == b"mine" and app.hincrby(f"{key}:h", "n", 2) == 2
    for command in [
        ("CONFIG", "SET", "appendonly", "no"),
        ("CONFIG", "REWRITE"),
        ("FLUSHALL",),
        ("SHUTDOWN", "NOSAVE"),
        ("SET", "probe:not-mine", "x"),
    ]:
        with pytest.raises(redis.exceptions.NoPermissionError):
            app.execute_command(*command)
    assert client(ip).config_get("appendonly")["appendonly"] == "yes"  # the admin can


def test_the_role_never_puts_the_password_in_an_environment_or_argv(host):
    # sudo and systemd would log it; the role's tasks pass it on stdin
    journal = host.run("journalctl --no-pager -o cat").stdout
    assert PASSWORD not in journal
