"""Behaviour of the mariadb role, proven from the controller over the network."""

import os
import uuid

import pymysql
import pytest
import testinfra

USER, PASSWORD, DATABASE = "probe", "probe-secret-1", "probe"  # must match converge.yml
INSTANCE = f"sy-{os.environ.get('STACKYARD_INSTANCE', 'instance')}"


@pytest.fixture(scope="module")
def host():
    return testinfra.get_host(f"docker://{INSTANCE}")


@pytest.fixture(scope="module")
def ip(host) -> str:
    return host.interface("eth0").addresses[0]


def connect(ip: str, user: str = USER, password: str = PASSWORD, database: str | None = DATABASE):
    return pymysql.connect(
        host=ip,
        port=3306,
        user=user,
        password=password,
        database=database,
        connect_timeout=10,
        autocommit=True,
    )


def test_a_committed_row_survives_a_kill_of_the_server(host, ip):
    marker = str(uuid.uuid4())
    with connect(ip) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS t (v CHAR(36)) ENGINE=InnoDB")
        cur.execute("INSERT INTO t VALUES (%s)", (marker,))
    host.run_test("systemctl kill --signal=SIGKILL mariadb.service")
    host.run_test("systemctl restart mariadb.service")
    with connect(ip) as conn, conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM t WHERE v = %s", (marker,))
        assert cur.fetchone()[0] == 1


def test_a_wrong_password_is_refused(ip):
    with pytest.raises(pymysql.err.OperationalError):
        connect(ip, password="wrong")


@pytest.mark.parametrize("user", ["root", ""])
def test_root_and_anonymous_cannot_log_in_over_the_network(ip, user):
    with pytest.raises(pymysql.err.OperationalError):
        connect(ip, user=user, password="", database=None)


def test_settings_are_live(ip):
    with connect(ip) as conn, conn.cursor() as cur:
        cur.execute("SELECT @@innodb_flush_log_at_trx_commit, @@max_connections, @@time_zone")
        assert cur.fetchone() == (1, 80, "+00:00")
        cur.execute("SHOW DATABASES LIKE 'test'")
        assert cur.fetchall() == ()


def test_the_unit_runs_sandboxed(host):
    show = host.check_output(
        "systemctl show mariadb.service -p NoNewPrivileges -p PrivateDevices -p ProtectClock"
        " -p RestrictNamespaces -p ActiveState"
    )
    assert "NoNewPrivileges=yes" in show and "PrivateDevices=yes" in show
    assert "ActiveState=active" in show
