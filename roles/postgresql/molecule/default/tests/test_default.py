"""Behaviour of the postgresql role, proven from the controller over the network."""

import os
import time

import psycopg2
import pytest
import testinfra

# Must match converge.yml.
VERSION = "15"
USER, PASSWORD, DATABASE = "probe", "probe-secret-1", "probe"
INSTANCE = f"sy-{os.environ.get('STACKYARD_INSTANCE', 'instance')}"


@pytest.fixture(scope="module")
def server_ip() -> str:
    return testinfra.get_host(f"docker://{INSTANCE}").interface("eth0").addresses[0]


def connect(ip: str, password: str = PASSWORD):
    return psycopg2.connect(
        host=ip, port=5432, dbname=DATABASE, user=USER, password=password, connect_timeout=10
    )


def scalar(ip: str, sql: str):
    with connect(ip) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchone()[0]


def test_test_user_queries_over_the_network(server_ip):
    assert scalar(server_ip, "SELECT 'alive'") == "alive"


def test_server_runs_the_requested_major_version(server_ip):
    version_num = int(scalar(server_ip, "SHOW server_version_num"))
    assert version_num // 10000 == int(VERSION)


def test_wrong_password_is_rejected(server_ip):
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        connect(server_ip, password="not-the-password")


def test_unlisted_database_is_rejected_by_hba(server_ip):
    # The hba entry names only the probe database for remote connections.
    with pytest.raises(psycopg2.OperationalError, match=r"no pg_hba\.conf entry"):
        psycopg2.connect(
            host=server_ip, dbname="postgres", user=USER, password=PASSWORD, connect_timeout=10
        )


def test_password_is_stored_as_scram(host):
    stored = host.check_output(
        "runuser -u postgres -- psql -XAtc "
        "\"SELECT rolpassword FROM pg_authid WHERE rolname = '%s'\"",
        USER,
    )
    assert stored.startswith("SCRAM-SHA-256$")


def test_settings_are_in_effect(server_ip):
    assert scalar(server_ip, "SHOW work_mem") == "12MB"
    assert scalar(server_ip, "SHOW log_min_duration_statement") == "250ms"
    assert scalar(server_ip, "SHOW jit") == "off"
    assert scalar(server_ip, "SHOW password_encryption") == "scram-sha-256"


def test_database_is_owned_by_the_user_and_utf8(server_ip):
    owner, encoding = (
        scalar(
            server_ip,
            "SELECT row(pg_get_userbyid(datdba), pg_encoding_to_char(encoding))::text"
            " FROM pg_database WHERE datname = current_database()",
        )
        .strip("()")
        .split(",")
    )
    assert (owner, encoding) == (USER, "UTF8")


def test_service_is_enabled_and_running(host):
    assert host.service("postgresql").is_enabled
    assert host.service(f"postgresql@{VERSION}-main").is_running
    assert host.socket("tcp://0.0.0.0:5432").is_listening


def test_a_killed_postmaster_is_started_again_and_keeps_committed_rows(host, server_ip):
    with connect(server_ip) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS crash_probe (n int)")
        cur.execute("INSERT INTO crash_probe VALUES (42)")
    pid = host.check_output(f"head -1 /var/lib/postgresql/{VERSION}/main/postmaster.pid")
    host.run_test(f"kill -9 {pid}")
    deadline = time.monotonic() + 60
    while True:
        try:
            assert scalar(server_ip, "SELECT count(*) FROM crash_probe WHERE n = 42") == 1
            break
        except psycopg2.OperationalError:
            assert time.monotonic() < deadline, "PostgreSQL did not come back after kill -9"
            time.sleep(1)
    assert host.check_output(f"head -1 /var/lib/postgresql/{VERSION}/main/postmaster.pid") != pid
