"""Behaviour of the timescaledb role over the network, as the database owner from the controller:
a hypertable, a continuous aggregate, and a refresh policy whose job the scheduler really runs."""

import os
import time

import psycopg2
import pytest
import testinfra
from psycopg2 import errors

# Must match converge.yml and the role defaults.
OWNER, PASSWORD, DATABASE, VERSION = "capture_sink", "molecule-sink-secret", "capture", "2.28.3"
INSTANCE = f"sy-{os.environ.get('STACKYARD_INSTANCE', 'instance')}"


@pytest.fixture(scope="module")
def server():
    return testinfra.get_host(f"docker://{INSTANCE}")


def connect(server, password: str = PASSWORD):
    conn = psycopg2.connect(
        host=server.interface("eth0").addresses[0],
        dbname=DATABASE,
        user=OWNER,
        password=password,
        connect_timeout=10,
    )
    conn.autocommit = True
    return conn


@pytest.fixture(scope="module")
def owner(server):
    conn = connect(server)
    yield conn
    conn.close()


def one(conn, sql: str, params=()):
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchone()


def test_the_extension_is_installed_and_licensed(owner):
    assert one(owner, "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'") == (
        VERSION,
    )
    # continuous aggregates and policies need the community (TSL) part
    assert one(owner, "SHOW timescaledb.license") == ("timescale",)
    assert one(owner, "SHOW timescaledb.telemetry_level") == ("off",)


def test_the_server_preloads_the_extension(server):
    # only superusers may read it
    preload = server.check_output(
        "runuser -u postgres -- psql -XAt -c 'SHOW shared_preload_libraries'"
    )
    assert "timescaledb" in preload.split(",")


def test_the_owner_owns_the_database(owner):
    assert one(
        owner, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (DATABASE,)
    ) == (OWNER,)


def test_a_wrong_password_is_refused(server):
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        connect(server, "not-the-password")


def test_a_hypertable_keyed_on_time_and_id_rejects_a_duplicate(owner):
    with owner.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS t_dup")
        cur.execute(
            "CREATE TABLE t_dup (time timestamptz NOT NULL, id uuid NOT NULL, UNIQUE (time, id))"
        )
        cur.execute("SELECT create_hypertable('t_dup', by_range('time'))")
        cur.execute("INSERT INTO t_dup VALUES ('2026-11-23 14:00Z', gen_random_uuid())")
        cur.execute("INSERT INTO t_dup SELECT * FROM t_dup ON CONFLICT DO NOTHING")
        assert cur.rowcount == 0
        with pytest.raises(errors.UniqueViolation):
            cur.execute("INSERT INTO t_dup SELECT * FROM t_dup")


def test_the_scheduler_runs_a_continuous_aggregate_refresh_policy(owner):
    with owner.cursor() as cur:
        cur.execute("DROP MATERIALIZED VIEW IF EXISTS hits_5m")
        cur.execute("DROP TABLE IF EXISTS hits")
        cur.execute("CREATE TABLE hits (time timestamptz NOT NULL, status int NOT NULL)")
        cur.execute("SELECT create_hypertable('hits', by_range('time'))")
        cur.execute(
            "INSERT INTO hits SELECT now() - make_interval(secs => n * 7), 200 + (n % 3) * 100"
            " FROM generate_series(1, 300) AS n"
        )
        cur.execute(
            "CREATE MATERIALIZED VIEW hits_5m WITH (timescaledb.continuous) AS"
            " SELECT time_bucket('5 minutes', time) AS bucket, status, count(*) AS n"
            " FROM hits GROUP BY 1, 2 WITH NO DATA"
        )
        cur.execute(
            "SELECT add_continuous_aggregate_policy('hits_5m', start_offset => INTERVAL '1 day',"
            " end_offset => NULL, schedule_interval => INTERVAL '2 seconds')"
        )
        job = cur.fetchone()[0]
    deadline, status = time.monotonic() + 90, None
    while time.monotonic() < deadline:
        status = one(
            owner,
            "SELECT last_run_status FROM timescaledb_information.job_stats WHERE job_id = %s",
            (job,),
        )
        if status == ("Success",):
            break
        time.sleep(2)
    assert status == ("Success",), "the refresh policy's job ran and succeeded"
    # the materialized buckets hold every raw row (real-time aggregation off for this check)
    with owner.cursor() as cur:
        cur.execute("ALTER MATERIALIZED VIEW hits_5m SET (timescaledb.materialized_only = true)")
    assert one(owner, "SELECT sum(n)::int FROM hits_5m") == (300,)
    assert one(owner, "SELECT count(*)::int FROM hits WHERE status = 300") == one(
        owner, "SELECT sum(n)::int FROM hits_5m WHERE status = 300"
    )


def test_the_postgresql_package_is_held(server):
    assert "postgresql-15" in server.check_output("apt-mark showhold")
