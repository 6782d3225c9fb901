"""The artifact cache as `make artifacts` fills it, and helpers to run what it holds."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEFAULTS = yaml.safe_load((ROOT / "roles" / "artifacts" / "defaults" / "main.yml").read_text())


def cache_root() -> Path:
    """`stackyard_artifacts_dir`: $STACKYARD_CACHE/artifacts or ~/.cache/stackyard/artifacts."""
    base = os.environ.get("STACKYARD_CACHE") or str(Path.home() / ".cache" / "stackyard")
    return Path(base) / "artifacts"


def pinned(variable: str) -> str:
    """A pinned version from the role's defaults, e.g. pinned('artifacts_kafka_version')."""
    return str(DEFAULTS[variable])


def cached(name: str, version: str) -> Path:
    """One artifact's cache directory; fails (never skips) when `make artifacts` has not run."""
    directory = cache_root() / name / version
    manifest = directory / "manifest.json"
    if not manifest.is_file():
        pytest.fail(
            f"{name} {version} is not in the artifact cache ({directory}): run `make artifacts`"
        )
    recorded = json.loads(manifest.read_text())
    assert (recorded["name"], recorded["version"]) == (name, version)
    return directory


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check: Callable[[], object], timeout: float, what: str) -> object:
    """Poll `check` until it returns something truthy without raising; bounded by `timeout`."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except Exception as exc:  # any failure means not ready yet
            last = exc
        time.sleep(0.5)
    pytest.fail(f"{what} not ready after {timeout} s (last: {last!r})")


def wait_port(port: int, timeout: float, what: str) -> None:
    def connect() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True

    wait_for(connect, timeout, what)
