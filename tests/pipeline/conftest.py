"""TimescaleDB for the sink tests, migrated by `migrate` (Kafka and MinIO: tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from pipeline_support import pg_env

from stackyard.pipeline.db import connect
from stackyard.testing import pgcluster, timescale


@pytest.fixture(scope="session")
def tsdb(from_artifacts) -> Iterator[pgcluster.Cluster]:
    """A TimescaleDB cluster with the capture database migrated by ``migrate``."""
    cluster = from_artifacts("TimescaleDB", timescale.start, timescale.TimescaleNotFound)
    env = {**os.environ, **pg_env(cluster)}
    subprocess.run(
        [sys.executable, "-m", "stackyard.pipeline.migrate"],
        env=env,
        check=True,
        capture_output=True,
    )
    yield cluster
    cluster.stop()


@pytest.fixture
def tsdb_env(tsdb) -> dict[str, str]:
    return pg_env(tsdb)


@pytest.fixture
def sql(tsdb):
    """Run a query on the capture database as its owner; returns all rows."""
    from stackyard.pipeline.config import load_settings

    def run(query: str, *args):
        conn = connect(load_settings(pg_env(tsdb)), "tests")
        conn.autocommit = True  # refresh_continuous_aggregate and run_job refuse transactions
        try:
            with conn.cursor() as cur:
                cur.execute(query, args)
                return cur.fetchall() if cur.description else []
        finally:
            conn.close()

    return run


@pytest.fixture
def bucket(minio) -> str:
    import uuid

    name = f"lake-{uuid.uuid4().hex[:10]}"
    minio.create_bucket(name)
    return name


@pytest.fixture
def s3_env(minio, bucket) -> dict[str, str]:
    return {
        "SINK_S3_ENDPOINT": minio.endpoint,
        "SINK_S3_BUCKET": bucket,
        "SINK_S3_ACCESS_KEY": minio.access_key,
        "SINK_S3_SECRET_KEY": minio.secret_key,
    }
