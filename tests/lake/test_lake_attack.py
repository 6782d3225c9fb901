"""Hostile SQL and arguments for `stackyard lake query`: the lake is the only thing it reads."""

from __future__ import annotations

from pathlib import Path

import pytest
from lake_support import Lake, query_json, run_cli

pytestmark = pytest.mark.integration

RANGE = ["--from", "2026-11-22T23", "--to", "2026-11-23T14"]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT content FROM read_text('/etc/hostname')",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM glob('/etc/*')",
        "ATTACH '/tmp/stackyard-attack.db' AS x",
        "LOAD spatial",
    ],
)
def test_sql_cannot_read_local_files(lake: Lake, s3_env, sql: str) -> None:
    code, out, err = run_cli("lake", "query", sql, *RANGE)
    assert code != 0 and out == ""
    assert "disabled" in err, err


def test_sql_cannot_write_local_files(lake: Lake, s3_env, tmp_path: Path) -> None:
    target = tmp_path / "stolen.csv"
    code, _, err = run_cli("lake", "query", f"COPY (SELECT * FROM events) TO '{target}'", *RANGE)
    assert code != 0 and not target.exists(), err


@pytest.mark.parametrize(
    "sql",
    [
        "SET disabled_filesystems = ''",
        "SET enable_external_access = true",
        "RESET disabled_filesystems",
    ],
)
def test_sql_cannot_lift_the_restriction(lake: Lake, s3_env, sql: str) -> None:
    code, _, err = run_cli(
        "lake", "query", f"{sql}; SELECT content FROM read_text('/etc/hostname')", *RANGE
    )
    assert code != 0 and "configuration" in err, err


def test_secret_key_is_not_shown_by_sql(lake: Lake, s3_env) -> None:
    for sql in ("SELECT * FROM duckdb_secrets()", "SELECT * FROM duckdb_settings()"):
        _, out, err = run_cli("lake", "query", sql, *RANGE)
        assert s3_env["SINK_S3_SECRET_KEY"] not in out + err


def test_queries_over_the_lake_still_work_with_local_files_disabled(lake: Lake, s3_env) -> None:
    rows = query_json("SELECT count(*) AS n FROM events", *RANGE)
    assert rows[0]["n"] == len(lake.select(*_bounds()))


@pytest.mark.parametrize(
    "ip", ["../../x", "%2e%2e", "10.0.0.1/../..", "x" * 5000, "fe80::1%eth0/.."]
)
def test_hostile_ip_is_a_usage_error(lake: Lake, s3_env, ip: str) -> None:
    code, out, err = run_cli("lake", "query", "SELECT 1", *RANGE, "--ip", ip)
    assert code == 2 and out == "" and err.startswith("stackyard lake:"), (code, err)
    assert len(err) < 1000


def _bounds():
    from datetime import datetime

    return datetime(2026, 11, 22, 23), datetime(2026, 11, 23, 14)


def test_settings_repr_hides_the_keys() -> None:
    from stackyard.pipeline.lakesettings import LakeSettings

    settings = LakeSettings.from_env(
        {"SINK_S3_ACCESS_KEY": "AKIDVISIBLE", "SINK_S3_SECRET_KEY": "s3cr3tXYZ"}
    )
    assert "s3cr3tXYZ" not in repr(settings) and "AKIDVISIBLE" not in repr(settings)
