"""The cached TimescaleDB build loads into the PostgreSQL it was built for and runs a
continuous-aggregate refresh policy job to Success (in a container of the substrate image)."""

from __future__ import annotations

import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from artifact_cache import cached, pinned, wait_for

IMAGE = pinned("artifacts_builder_image")
SUITE = pinned("artifacts_debian_suite")
MAJOR = pinned("artifacts_timescaledb_postgresql_major")

SCHEMA = """
CREATE EXTENSION timescaledb;
CREATE TABLE requests (time timestamptz NOT NULL, event_id bigint NOT NULL, status int NOT NULL);
CREATE UNIQUE INDEX ON requests (time, event_id);
SELECT create_hypertable('requests', by_range('time'));
INSERT INTO requests SELECT now() - i * interval '1 second', i, 200 FROM generate_series(1, 100) i;
CREATE MATERIALIZED VIEW requests_5m WITH (timescaledb.continuous) AS
  SELECT time_bucket('5 minutes', time) AS bucket, count(*) AS n FROM requests GROUP BY bucket
  WITH NO DATA;
SELECT add_continuous_aggregate_policy('requests_5m', start_offset => interval '1 day',
  end_offset => NULL, schedule_interval => interval '1 second');
"""


def build_tarball() -> Path:
    directory = cached("timescaledb", pinned("artifacts_timescaledb_version"))
    builds = sorted(directory.glob(f"timescaledb-*-pg{MAJOR}.*-debian-{SUITE}.tar.gz"))
    assert builds, f"no PostgreSQL {MAJOR} build for {SUITE} in {directory}: run `make artifacts`"
    return builds[-1]


class Container:
    def __init__(self, name: str) -> None:
        self.name = name

    def sh(self, script: str, timeout: float = 300) -> str:
        result = subprocess.run(
            ["docker", "exec", self.name, "bash", "-euo", "pipefail", "-c", script],
            capture_output=True, text=True, check=False, timeout=timeout,
        )  # fmt: skip
        assert result.returncode == 0, f"{script}\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def sql(self, statements: str) -> str:
        return self.sh(
            f"runuser -u postgres -- psql -XAtq -v ON_ERROR_STOP=1 <<'SQL'\n{statements}\nSQL"
        )


@pytest.fixture
def postgres_container() -> Iterator[Container]:
    tarball = build_tarball()
    name = f"sy-artifacts-tsdb-{uuid.uuid4().hex[:8]}"
    subprocess.run(
        ["docker", "run", "-d", "--rm", "--name", name, "-v", f"{tarball.parent}:/artifact:ro",
         "--entrypoint", "sleep", IMAGE, "infinity"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    try:
        yield Container(name)
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)


def test_cached_timescaledb_runs_a_refresh_policy_job_to_success(
    postgres_container: Container,
) -> None:
    tarball = build_tarball()
    built_for = re.search(rf"-pg({MAJOR}\.\d+)-", tarball.name).group(1)
    box = postgres_container
    box.sh(
        "export DEBIAN_FRONTEND=noninteractive; apt-get update -qq; "
        f"apt-get install -y -qq --no-install-recommends postgresql-{MAJOR} >/dev/null"
    )
    # "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
    running = box.sh(f"/usr/lib/postgresql/{MAJOR}/bin/postgres --version").split()[2]
    assert running == built_for, (
        f"the mirror serves PostgreSQL {running}; the build is for {built_for}"
    )
    box.sh(
        f"tar -C / -xzf /artifact/{tarball.name}; "
        f"printf '%s\\n' \"shared_preload_libraries = 'timescaledb'\" "
        f"'timescaledb.telemetry_level = off' >> /etc/postgresql/{MAJOR}/main/postgresql.conf; "
        f"pg_ctlcluster {MAJOR} main start"
    )
    box.sql(SCHEMA)
    assert box.sql("SHOW timescaledb.license;").strip() == "timescale"

    def policy_succeeded() -> bool:
        status = box.sql(
            "SELECT s.last_run_status FROM timescaledb_information.job_stats s "
            "JOIN timescaledb_information.jobs j USING (job_id) "
            "WHERE j.proc_name = 'policy_refresh_continuous_aggregate';"
        ).strip()
        assert status in ("", "Success"), f"refresh policy job: {status}"
        return status == "Success"

    wait_for(policy_succeeded, 60, "the refresh policy job")
    assert box.sql("SELECT sum(n) FROM requests_5m;").strip() == "100"
