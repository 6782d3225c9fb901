"""Behaviour of the rates_db role: what the API role sees over the network, from the controller."""

import hashlib
import os
import re
from pathlib import Path

import psycopg2
import pytest
import testinfra
from psycopg2 import errors

# Must match converge.yml and the role defaults.
API_USER, API_PASSWORD, DATABASE, OWNER = "rates_api", "molecule-api-secret", "rates", "rates_owner"
INSTANCE = f"sy-{os.environ.get('STACKYARD_INSTANCE', 'instance')}"
ROLE_DIR = Path(__file__).resolve().parents[3]
DUMP = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "rates-foreign.sql"
INDEXES_SQL = ROLE_DIR / "files" / "indexes.sql"


def copy_rows(dump: Path) -> dict[str, int]:
    """Data lines of each COPY block in a plain-format dump, by table name."""
    counts: dict[str, int] = {}
    table = None
    for line in dump.read_text().splitlines():
        if table is None:
            match = re.match(r"COPY public\.(\w+) .* FROM stdin;$", line)
            if match:
                table = match.group(1)
                counts[table] = 0
        elif line == "\\.":
            table = None
        else:
            counts[table] += 1
    return counts


@pytest.fixture(scope="module")
def server():
    return testinfra.get_host(f"docker://{INSTANCE}")


@pytest.fixture(scope="module")
def api(server):
    conn = psycopg2.connect(
        host=server.interface("eth0").addresses[0],
        dbname=DATABASE,
        user=API_USER,
        password=API_PASSWORD,
        connect_timeout=10,
    )
    yield conn
    conn.close()


def run(conn, sql, params=()):
    """Run sql in a transaction that is always rolled back; return the rows, if any."""
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else None
    finally:
        conn.rollback()


def as_postgres(server, sql: str) -> str:
    return server.check_output("runuser -u postgres -- psql -XAt -d %s -c %s", DATABASE, sql)


def test_fixture_dump_carries_what_must_be_filtered():
    text = DUMP.read_text()
    for needle in (
        "CREATE DATABASE",
        "\\connect rates",
        "SET transaction_timeout",
        "OWNER TO someone_missing",
    ):
        assert needle in text


@pytest.mark.parametrize("table", ["ports", "regions", "prices"])
def test_every_copy_row_is_loaded(api, table):
    expected = copy_rows(DUMP)[table]
    assert expected > 0
    assert run(api, f"SELECT count(*) FROM {table}")[0][0] == expected


def test_copy_data_passes_the_filter_untouched(api):
    # The fixture's extra port line starts with "SET "; dropping SET statements must not touch it.
    assert run(api, "SELECT name FROM ports WHERE code = 'SET X'") == [("SET sail = on;",)]


def test_marker_holds_the_dump_checksum(server):
    expected = hashlib.sha256(DUMP.read_bytes()).hexdigest()
    assert as_postgres(server, "SELECT checksum FROM public.stackyard_dump_load") == expected


def test_objects_are_owned_by_the_owner_role(api):
    owners = run(
        api,
        "SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
    )
    assert {table for table, _ in owners} >= {"ports", "regions", "prices"}
    assert {owner for _, owner in owners} == {OWNER}
    assert run(
        api, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (DATABASE,)
    ) == [(OWNER,)]


def test_api_can_read_and_insert_prices(api):
    assert run(api, "SELECT count(*) FROM regions")[0][0] > 0
    run(
        api,
        "INSERT INTO prices (orig_code, dest_code, day, price)"
        " SELECT code, code, DATE '2016-01-01', 1 FROM ports LIMIT 1",
    )


def test_api_can_record_and_read_idempotency_keys(api):
    inserted = run(
        api,
        "INSERT INTO batch_keys (key, body_sha256, inserted) VALUES ('k1', 'x', 1)"
        " ON CONFLICT (key) DO NOTHING RETURNING key",
    )
    assert inserted == [("k1",)]  # rolled back by run()
    assert run(api, "SELECT count(*) FROM batch_keys WHERE key = 'k1'") == [(0,)]


def test_api_can_stage_batches_in_a_temp_table(api):
    run(
        api,
        "CREATE TEMP TABLE staging (LIKE prices) ON COMMIT DROP;"
        " INSERT INTO staging SELECT * FROM prices LIMIT 1",
    )


@pytest.mark.parametrize(
    "sql",
    [
        "DROP TABLE prices",
        "DELETE FROM prices",
        "UPDATE prices SET price = price + 1",
        "TRUNCATE prices",
        "INSERT INTO ports VALUES ('ZZZZZ', 'Nowhere', 'china_main')",
        "CREATE TABLE public.intruder (id int)",
        "SELECT * FROM public.stackyard_dump_load",
        "DELETE FROM batch_keys",
        "UPDATE batch_keys SET inserted = 0",
    ],
)
def test_api_cannot_change_anything_else(api, sql):
    with pytest.raises((errors.InsufficientPrivilege, errors.UndefinedTable)) as caught:
        run(api, sql)
    assert isinstance(caught.value, errors.InsufficientPrivilege), caught.value


def test_indexes_from_the_index_file_exist(api):
    wanted = set(re.findall(r"CREATE INDEX IF NOT EXISTS (\w+)", INDEXES_SQL.read_text()))
    assert wanted
    present = {
        name for (name,) in run(api, "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")
    }
    assert wanted <= present


def test_port_checks_replace_only_the_prices_foreign_keys(api):
    foreign_keys = run(
        api,
        "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint"
        " WHERE contype = 'f' ORDER BY 1",
    )
    assert ("prices", "ports") not in foreign_keys
    assert ("ports", "regions") in foreign_keys
    triggers = run(
        api,
        "SELECT tgname, pg_get_userbyid(p.proowner) FROM pg_trigger t"
        " JOIN pg_proc p ON p.oid = t.tgfoid WHERE NOT tgisinternal",
    )
    assert len(triggers) == 5
    assert {owner for _, owner in triggers} == {OWNER}


def test_api_cannot_insert_a_price_for_an_unknown_port(api):
    with pytest.raises(errors.ForeignKeyViolation, match="ZZNOT"):
        run(
            api,
            "INSERT INTO prices VALUES ('ZZNOT', (SELECT min(code) FROM ports), '2016-01-01', 1)",
        )


def test_only_the_api_and_superusers_may_connect(server):
    acl = as_postgres(server, f"SELECT datacl::text FROM pg_database WHERE datname = '{DATABASE}'")
    grants = dict(item.split("/")[0].split("=") for item in acl.strip("{}").split(","))
    assert set(grants[API_USER]) == set("cT")  # CONNECT, TEMPORARY
    assert "" not in grants  # nothing granted to PUBLIC


def test_dump_on_the_host_is_kept_from_other_accounts(server):
    kept = server.file("/var/lib/stackyard/rates_db")
    assert (kept.user, kept.mode) == ("postgres", 0o750)
    assert server.file("/var/lib/stackyard").user == "root"  # a shared parent stays root's
    assert not server.file(
        "/var/lib/stackyard/rates_db/load.sql"
    ).exists  # removed after a good load
