"""Helpers the density tests import (a plain module: test directories each have a conftest,
and `from conftest import ...` would pick whichever was imported first)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aiokafka import AIOKafkaConsumer

from stackyard.density.capture.spool import Spool, parse
from stackyard.testing.http import serving
from stackyard.testing.pgcluster import free_port

TOKEN, PASSWORD = "mytoken", "password123"


def consume(bootstrap: str, topic: str, want: int, timeout: float = 30) -> list[dict]:
    """Every event on ``topic`` from the start, once ``want`` have arrived (or time is up)."""

    async def run() -> list[dict]:
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
            enable_auto_commit=False,
        )  # fmt: skip
        await consumer.start()
        out: list[dict] = []
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while len(out) < want and loop.time() < deadline:
                batches = await consumer.getmany(timeout_ms=500)
                for records in batches.values():
                    out.extend(json.loads(r.value) for r in records)
            batches = await consumer.getmany(timeout_ms=500)  # anything beyond ``want``
            for records in batches.values():
                out.extend(json.loads(r.value) for r in records)
        finally:
            await consumer.stop()
        return out

    return asyncio.run(run())


def spooled_ids(spool_dir: Path) -> list[str]:
    """Ids of the events waiting in a capture spool."""
    spool = Spool(str(spool_dir), 10**9)
    return [json.loads(parse(line)[1])["id"] for s in spool.segments() for line in spool.read(s)]


@contextmanager
def gunicorn(app: str, env: dict[str, str], threads: int = 1) -> Iterator[str]:
    port = free_port()
    argv = [
        sys.executable, "-m", "gunicorn", "--config", "python:stackyard.density.gunicorn_conf",
        "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", str(threads),
        f"stackyard.density.{app}:create_app()",
    ]  # fmt: skip
    full = {**os.environ, "DENSITY_LOG_LEVEL": "WARNING", **env}
    log = Path(env.get("DENSITY_SPOOL_DIR", "/tmp")).parent / f"{app}-{port}.log"
    with open(log, "ab") as stderr, serving(argv, full, port, stderr=stderr) as proc:
        proc.url = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
        yield proc
