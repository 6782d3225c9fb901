"""The statement-level port checks that replace the dump's row-level foreign keys.

``roles/rates_db/files/port_checks_statement.sql`` must keep every guarantee of
``prices(orig_code|dest_code) REFERENCES ports(code)``, including under concurrency, and
``port_checks_row.sql`` must put the foreign keys back. Every test rolls back or cleans up:
the cluster is shared by the session.
"""

from __future__ import annotations

import threading
import time
from contextlib import closing, contextmanager

import psycopg2
import psycopg2.errors
import pytest

from stackyard.testing import pgcluster

TRIGGERS = {
    "stackyard_prices_check_ports_insert",
    "stackyard_prices_check_ports_update",
    "stackyard_ports_check_prices_delete",
    "stackyard_ports_check_prices_update",
    "stackyard_ports_check_prices_truncate",
}
PORT_FKS_SQL = """
SELECT conname FROM pg_constraint
WHERE conrelid = 'public.prices'::regclass AND confrelid = 'public.ports'::regclass
  AND contype = 'f' ORDER BY conname
"""
TRIGGERS_SQL = "SELECT tgname, oid FROM pg_trigger WHERE NOT tgisinternal ORDER BY tgname"


@contextmanager
def connect(dsn):
    """A connection in a transaction that is rolled back at the end."""
    with closing(psycopg2.connect(dsn)) as conn:
        try:
            yield conn
        finally:
            conn.rollback()


def execute(conn, sql, params=None):
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall() if cur.description else None


def test_the_foreign_keys_are_replaced_by_the_triggers(admin):
    assert execute(admin, PORT_FKS_SQL) == []
    assert {name for name, _ in execute(admin, TRIGGERS_SQL)} == TRIGGERS


def test_known_ports_are_accepted(api_dsn):
    with connect(api_dsn) as conn:
        execute(conn, "INSERT INTO prices VALUES ('CNGGZ', 'EETLL', '2031-01-01', 7)")
        assert execute(conn, "SELECT count(*) FROM prices WHERE day = '2031-01-01'") == [(1,)]


@pytest.mark.parametrize(
    ("orig", "dest", "missing"), [("NOPE1", "EETLL", "NOPE1"), ("CNGGZ", "NOPE2", "NOPE2")]
)
def test_an_unknown_port_fails_the_whole_statement(api_dsn, orig, dest, missing):
    with (
        connect(api_dsn) as conn,
        pytest.raises(psycopg2.errors.ForeignKeyViolation, match=missing),
    ):
        execute(
            conn,
            "INSERT INTO prices VALUES ('CNGGZ', 'EETLL', '2031-01-01', 7),"
            " (%s, %s, '2031-01-02', 8)",
            (orig, dest),
        )


def test_an_update_to_an_unknown_port_fails(admin_dsn):
    with (
        connect(admin_dsn) as conn,
        pytest.raises(psycopg2.errors.ForeignKeyViolation, match="NOPE3"),
    ):
        execute(conn, "UPDATE prices SET dest_code = 'NOPE3' WHERE orig_code = 'CNGGZ'")


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM ports WHERE code = 'EETLL'",
        "UPDATE ports SET code = 'EETLX' WHERE code = 'EETLL'",
    ],
)
def test_a_port_in_use_cannot_go(admin_dsn, statement):
    with (
        connect(admin_dsn) as conn,
        pytest.raises(psycopg2.errors.ForeignKeyViolation, match="EETLL"),
    ):
        execute(conn, statement)


def test_unused_ports_and_other_columns_can_change(admin_dsn):
    with connect(admin_dsn) as conn:
        execute(conn, "UPDATE ports SET name = 'Tallinn (renamed)' WHERE code = 'EETLL'")
        execute(conn, "INSERT INTO ports VALUES ('ZZNEW', 'New', 'baltic')")
        execute(conn, "UPDATE ports SET code = 'ZZNE2' WHERE code = 'ZZNEW'")
        execute(conn, "DELETE FROM ports WHERE code = 'ZZNE2'")


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM ports WHERE code = 'ZZCON'",
        "UPDATE ports SET code = 'ZZCO2' WHERE code = 'ZZCON'",
        "TRUNCATE ports",
    ],
)
def test_ports_lose_codes_only_in_read_committed(admin_dsn, new_port, statement):
    # an older snapshot could miss prices committed meanwhile: refused, as the FK would
    with connect(admin_dsn) as conn:
        conn.set_session(isolation_level="REPEATABLE READ")
        with pytest.raises(psycopg2.errors.SerializationFailure, match="READ COMMITTED"):
            execute(conn, statement)
    with connect(admin_dsn) as conn:
        conn.set_session(isolation_level="REPEATABLE READ")
        execute(conn, "UPDATE ports SET name = 'renamed' WHERE code = 'ZZCON'")


def test_the_check_functions_are_not_executable_by_others(admin):
    assert execute(
        admin,
        "SELECT bool_or(has_function_privilege('rates_api', oid, 'EXECUTE')) FROM pg_proc"
        " WHERE proname LIKE 'stackyard\\_%'",
    ) == [(False,)]


def test_a_foreign_key_the_checks_cannot_replace_stops_the_change(admin_dsn):
    restore = pgcluster.port_checks("row").read_text()
    with connect(admin_dsn) as conn:  # rolled back at the end
        execute(conn, restore)
        execute(
            conn,
            "ALTER TABLE prices DROP CONSTRAINT prices_orig_code_fkey;"
            " ALTER TABLE prices ADD CONSTRAINT prices_orig_code_fkey FOREIGN KEY (orig_code)"
            " REFERENCES ports(code) ON DELETE CASCADE",
        )
        with pytest.raises(psycopg2.errors.RaiseException, match="cannot replace"):
            execute(conn, pgcluster.port_checks().read_text())


def test_ports_cannot_be_truncated_under_prices(admin_dsn):
    with (
        connect(admin_dsn) as conn,
        pytest.raises(psycopg2.errors.FeatureNotSupported, match="prices"),
    ):
        execute(conn, "TRUNCATE ports CASCADE")


@pytest.fixture
def new_port(admin):
    """A port no price uses yet; removed afterwards with any price the test left."""
    admin.cursor().execute("INSERT INTO ports VALUES ('ZZCON', 'Concurrent', 'baltic')")
    yield "ZZCON"
    with admin.cursor() as cur:
        cur.execute("DELETE FROM prices WHERE orig_code = 'ZZCON'")
        cur.execute("DELETE FROM ports WHERE code = 'ZZCON'")


def run_in_thread(function):
    outcome = {}

    def target():
        try:
            outcome["result"] = function()
        except Exception as err:  # handed to the test
            outcome["error"] = err

    thread = threading.Thread(target=target)
    thread.start()
    return thread, outcome


def wait_until_blocked(admin, thread):
    """Until a backend waits for a lock (the other transaction's)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        waiting = execute(
            admin, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        )
        if waiting[0][0]:
            return
        assert thread.is_alive()
        time.sleep(0.02)
    pytest.fail("the second transaction never waited for the first")


INSERT_ZZCON = "INSERT INTO prices VALUES ('ZZCON', 'EETLL', '2031-01-01', 7)"
DELETE_ZZCON = "DELETE FROM ports WHERE code = 'ZZCON'"


@pytest.mark.parametrize("first", ["insert", "delete"])
def test_the_second_of_an_insert_and_a_delete_waits_then_fails(
    admin_dsn, api_dsn, admin, new_port, first
):
    with connect(api_dsn) as writer, connect(admin_dsn) as deleter:
        steps = [(writer, INSERT_ZZCON), (deleter, DELETE_ZZCON)]
        if first == "delete":
            steps.reverse()
        (first_conn, first_sql), (second_conn, second_sql) = steps
        execute(first_conn, first_sql)
        thread, outcome = run_in_thread(lambda: execute(second_conn, second_sql))
        wait_until_blocked(admin, thread)
        first_conn.commit()
        thread.join(10)
        assert isinstance(outcome.get("error"), psycopg2.errors.ForeignKeyViolation)


def test_applying_the_checks_again_changes_nothing(cluster, admin):
    before = execute(admin, TRIGGERS_SQL)
    cluster.run_sql_file("rates", pgcluster.port_checks())
    assert execute(admin, TRIGGERS_SQL) == before


def test_the_row_file_restores_the_foreign_keys(admin_dsn):
    restore = pgcluster.port_checks("row").read_text()
    with connect(admin_dsn) as conn:  # DDL is transactional: rolled back at the end
        execute(conn, restore)
        assert execute(conn, TRIGGERS_SQL) == []
        assert execute(conn, PORT_FKS_SQL) == [
            ("prices_dest_code_fkey",),
            ("prices_orig_code_fkey",),
        ]
        execute(conn, restore)  # idempotent
        with pytest.raises(psycopg2.errors.ForeignKeyViolation, match="prices_dest_code_fkey"):
            execute(conn, "INSERT INTO prices VALUES ('CNGGZ', 'NOPE4', '2031-01-01', 7)")


def test_a_port_deleted_during_a_batch_answers_409_and_writes_nothing(
    admin_dsn, admin, client, new_port
):
    batch = [
        {"orig_code": "CNGGZ", "dest_code": "EETLL", "day": "2099-01-01", "price": 10},
        {"orig_code": new_port, "dest_code": "EETLL", "day": "2099-01-01", "price": 11},
    ]
    with connect(admin_dsn) as deleter:
        execute(deleter, "DELETE FROM ports WHERE code = %s", (new_port,))
        thread, outcome = run_in_thread(lambda: client.post("/prices", json=batch))
        wait_until_blocked(admin, thread)  # the batch passed the check, waits at the insert
        deleter.commit()
        thread.join(10)
    response = outcome["result"]
    assert response.status_code == 409, response.get_json()
    assert "nothing was written" in response.get_json()["error"]
    assert execute(admin, "SELECT count(*) FROM prices WHERE day = '2099-01-01'") == [(0,)]
