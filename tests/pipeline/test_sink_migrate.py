"""``python -m stackyard.pipeline.migrate``: versioned, idempotent, one JSON line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from pipeline_support import pg_env

from stackyard.pipeline.migrate import migrations

pytestmark = pytest.mark.integration


def migrate(tsdb) -> dict:
    out = subprocess.run([sys.executable, "-m", "stackyard.pipeline.migrate"],
                         env={**os.environ, **pg_env(tsdb)}, capture_output=True, text=True,
                         check=True)  # fmt: skip
    (line,) = out.stdout.splitlines()
    return json.loads(line)


def test_a_second_migrate_changes_nothing_and_reports_the_version(tsdb, sql):
    assert migrate(tsdb) == {"changed": False, "version": len(migrations())}
    assert sql("SELECT version FROM capture.schema_migrations ORDER BY 1") == [
        (v,) for v, _, _ in migrations()
    ]


def test_the_schema_has_the_hypertable_aggregate_policy_and_live_view(tsdb, sql):
    assert sql("SELECT hypertable_name FROM timescaledb_information.hypertables "
               "WHERE hypertable_schema = 'capture' ORDER BY 1") == [("requests",)]  # fmt: skip
    caggs = sql(
        "SELECT view_name, materialized_only FROM timescaledb_information.continuous_aggregates"
    )
    assert caggs == [("requests_5m", False)]
    (policy,) = sql("SELECT schedule_interval FROM timescaledb_information.jobs "
                    "WHERE proc_name = 'policy_refresh_continuous_aggregate'")  # fmt: skip
    assert policy[0].total_seconds() == 60
    assert sql("SELECT count(*) >= 0 FROM capture.requests_current_5m") == [(True,)]


def test_bad_settings_exit_2_with_the_variable_named(tsdb):
    out = subprocess.run([sys.executable, "-m", "stackyard.pipeline.migrate"],
                         env={**os.environ, **pg_env(tsdb), "SINK_PG_PORT": "five"},
                         capture_output=True, text=True)  # fmt: skip
    assert out.returncode == 2 and "SINK_PG_PORT" in out.stderr
