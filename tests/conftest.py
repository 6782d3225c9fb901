"""Suite-wide scheduling and timing.

`make test` runs pytest with several xdist workers (`-n`, `--dist loadgroup`): the long
tests (molecule scenarios, target deployments, artifact runs) go first, longest first by
the durations the last run recorded, so the workers finish together; the Python tests fill
the gaps. Tests that must not overlap share an xdist group (e.g. everything running
Nomad, which leaves cgroup directories on the host). At the end the suite prints a table
of the long tests' durations and keeps it under $STACKYARD_CACHE/logs/ for the next
run's ordering (safe to delete: unknown tests are assumed long).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CACHE = Path(os.environ.get("STACKYARD_CACHE", Path.home() / ".cache/stackyard"))
TIMINGS = CACHE / "logs/test-timings.json"
LONG_MARKERS = ("molecule", "targets", "artifacts")
UNKNOWN_LONG_SECONDS = 300.0
MOLECULE_NETWORK = "stackyard-molecule"


def _is_long(keywords) -> bool:
    return any(marker in keywords for marker in LONG_MARKERS)


def _previous_timings() -> dict[str, float]:
    try:
        return json.loads(TIMINGS.read_text())
    except (OSError, ValueError):
        return {}


def _group(item: pytest.Item) -> str:
    """Scheduling unit: a molecule scenario alone; any other long test with its module
    (whose module-scoped fixture, e.g. a `vagrant up`, its tests share, in order)."""
    return item.nodeid if "molecule" in item.keywords else item.nodeid.split("::")[0]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    previous = _previous_timings()
    expected: dict[str, float] = {}
    for item in items:
        if _is_long(item.keywords):
            group = _group(item)
            expected[group] = expected.get(group, 0.0) + previous.get(
                item.nodeid, UNKNOWN_LONG_SECONDS
            )
            if "molecule" not in item.keywords and not item.get_closest_marker("xdist_group"):
                item.add_marker(pytest.mark.xdist_group(group))
    # Stable sort: long groups first, longest first, each group's tests in their order;
    # the rest keep theirs. Every xdist worker computes the same order from the same
    # file, as xdist requires.
    items.sort(
        key=lambda item: -expected.get(_group(item), 0.0) if _is_long(item.keywords) else 0.0
    )


def _docker(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=False)


def pytest_sessionstart(session: pytest.Session) -> None:
    if hasattr(session.config, "workerinput"):
        return  # an xdist worker; the controller does this once
    # Scenarios put their containers on one network. It is made here, once, without
    # molecule's owner label: concurrent `molecule create` runs then find it instead of
    # racing to make it, and a finishing scenario's `destroy` leaves it (and the other
    # scenarios' containers on it) alone.
    owner = _docker("network", "inspect", "-f", '{{index .Labels "owner"}}', MOLECULE_NETWORK)
    if owner.returncode == 0 and owner.stdout.strip() == "molecule":
        _docker("network", "rm", MOLECULE_NETWORK)
    if _docker("network", "inspect", MOLECULE_NETWORK).returncode != 0:
        _docker("network", "create", MOLECULE_NETWORK)


_durations: dict[str, tuple[float, str]] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and _is_long(report.keywords):
        _durations[report.nodeid] = (report.duration, report.outcome)


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    if not _durations or hasattr(config, "workerinput"):
        return
    rows = sorted(_durations.items(), key=lambda kv: -kv[1][0])
    terminalreporter.write_sep("=", "long tests (seconds; kept for the next run's order)")
    for nodeid, (seconds, outcome) in rows:
        terminalreporter.write_line(f"{seconds:8.1f}  {outcome:<7}  {nodeid}")
    total = sum(seconds for seconds, _ in _durations.values())
    terminalreporter.write_line(f"{total:8.1f}  (sum; wall time is less with -n workers)")
    timings = _previous_timings()
    timings.update({nodeid: round(seconds, 1) for nodeid, (seconds, _) in rows})
    TIMINGS.parent.mkdir(parents=True, exist_ok=True)
    TIMINGS.write_text(json.dumps(timings, indent=1, sort_keys=True))


# -- real servers shared by the test directories (one each per xdist worker) ---------------


@pytest.fixture(scope="session")
def from_artifacts():
    """``start(name, starter, missing)``: a throwaway server built from the artifact cache,
    or the test fails saying what to run (these components are never faked)."""

    def start(name: str, starter, missing: type[Exception]):
        try:
            return starter()
        except missing as err:
            pytest.fail(f"{name} is not available ({err}): run make artifacts")

    return start


@pytest.fixture(scope="session")
def broker(from_artifacts):
    """A throwaway Kafka broker (stackyard.testing.kafka); tests use their own topics."""
    from stackyard.testing import kafka

    server = from_artifacts("Kafka", kafka.start, kafka.KafkaNotFound)
    yield server
    server.destroy()


@pytest.fixture(scope="session")
def minio(from_artifacts):
    """A throwaway MinIO (stackyard.testing.minioserver); tests use their own buckets."""
    from stackyard.testing import minioserver

    server = from_artifacts("MinIO", minioserver.start, minioserver.MinioNotFound)
    yield server
    server.remove()


@pytest.fixture
def logged(caplog):
    """``caplog.at_level`` for one logger whether or not its records reach the root: the
    services' ``logs.configure`` stops propagation at ``stackyard``, so plain caplog saw
    them or not depending on which test ran first in the worker."""

    @contextmanager
    def at_level(level: int, name: str) -> Iterator[pytest.LogCaptureFixture]:
        logger = logging.getLogger(name)
        propagate = logger.propagate
        logger.addHandler(caplog.handler)
        logger.propagate = False  # captured here, not a second time at the root
        try:
            with caplog.at_level(level, logger=name):
                yield caplog
        finally:
            logger.propagate = propagate
            logger.removeHandler(caplog.handler)

    return at_level
