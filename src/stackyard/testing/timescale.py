"""TimescaleDB for tests and benchmarks: the artifact cache's build, loaded by a throwaway cluster.

The extension must match the server's exact PostgreSQL minor, so the artifact is
``artifacts/timescaledb/<version>/timescaledb-<version>-pg<minor>-debian-bookworm.tar.gz``
(``make artifacts``), or ``$STACKYARD_TIMESCALEDB_ARTIFACT``. PostgreSQL 15 finds extensions
only in its own directories, so :func:`install` unpacks the tree into ``/`` once (under a
file lock; a no-op when the same files are already there). :func:`start` is
:func:`stackyard.testing.pgcluster.start` with ``shared_preload_libraries = timescaledb``
plus the capture database owned by its sink role, as the deployment leaves it.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import tarfile
from pathlib import Path

from stackyard.testing import pgcluster

VERSION = "2.28.3"
DATABASE, OWNER, PASSWORD = "capture", "capture_sink", "capture-sink-secret"


class TimescaleNotFound(RuntimeError):
    pass


def server_version(bindir: Path) -> str:
    out = subprocess.run(  # noqa: S603
        [str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=True
    )
    return out.stdout.split()[2]  # "postgres (PostgreSQL) 15.18 (Debian ...)"


def artifact(pg_version: str) -> Path:
    if os.environ.get("STACKYARD_TIMESCALEDB_ARTIFACT"):
        return Path(os.environ["STACKYARD_TIMESCALEDB_ARTIFACT"])
    cache = os.environ.get("STACKYARD_CACHE") or str(Path.home() / ".cache" / "stackyard")
    name = f"timescaledb-{VERSION}-pg{pg_version}-debian-bookworm.tar.gz"
    return Path(cache, "artifacts", "timescaledb", VERSION, name)


def install(bindir: Path) -> None:
    """Unpack the build matching this server into ``/`` unless it is there already."""
    version = server_version(bindir)
    tgz = artifact(version)
    if not tgz.exists():
        raise TimescaleNotFound(f"no TimescaleDB build for PostgreSQL {version} at {tgz}")
    with open("/tmp/stackyard-timescaledb.lock", "w") as lock:  # noqa: S108 - a host-wide lock
        fcntl.flock(lock, fcntl.LOCK_EX)
        with tarfile.open(tgz) as tar:
            members = [m for m in tar.getmembers() if m.isfile()]
            present = all(
                Path("/", m.name).exists() and Path("/", m.name).stat().st_size == m.size
                for m in members
            )
            if not present:
                if not os.access("/usr", os.W_OK):
                    raise TimescaleNotFound(f"cannot unpack {tgz} into / (not root)")
                tar.extractall("/", members=members, filter="data")


def start() -> pgcluster.Cluster:
    """A cluster with TimescaleDB preloaded and the capture database; caller calls ``stop()``."""
    bindir = pgcluster.find_bindir()
    install(bindir)
    cluster = pgcluster.start(
        bindir,
        settings={
            "shared_preload_libraries": "'timescaledb'",
            "timescaledb.telemetry_level": "off",
            "max_worker_processes": "16",
        },
    )
    try:
        cluster.psql("postgres", "-c", f"CREATE ROLE {OWNER} LOGIN PASSWORD '{PASSWORD}'")
        cluster.psql("postgres", "-c", f"CREATE DATABASE {DATABASE} OWNER {OWNER}")
    except BaseException:
        cluster.stop()
        raise
    return cluster
