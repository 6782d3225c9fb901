"""HTTP helpers for tests and benchmarks: JSON requests, a server process for a block."""

from __future__ import annotations

import json
import signal
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from stackyard.testing.pgcluster import wait_for_port


def request_json(
    method: str,
    url: str,
    body: bytes | None = None,
    content_type: str = "application/json",
    timeout: float = 30,
) -> tuple[int, Any]:
    """The status and the decoded JSON body, for error statuses too."""
    request = urllib.request.Request(url, data=body, method=method)  # noqa: S310 - test URLs
    if body is not None:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@contextmanager
def serving(
    argv: Sequence[str], env: Mapping[str, str], port: int, stderr: Any = subprocess.DEVNULL
) -> Iterator[subprocess.Popen]:
    """Run a server until the block ends: wait for its port, then SIGTERM (kill after 30 s)."""
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=stderr)  # noqa: S603
    try:
        wait_for_port("127.0.0.1", port, timeout=30)
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
