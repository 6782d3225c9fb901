"""A small lake written in the S3 sink's layout, and the answers computed from its events."""

from __future__ import annotations

import gzip
import io
import ipaddress
import json
import math
import random
import uuid
from collections.abc import Callable, Iterable
from contextlib import redirect_stderr
from dataclasses import dataclass, field
from datetime import datetime, timedelta

TOPIC = "density.events"
BUCKET = "lake-test"
PRIVATE_BUCKET = "lake-private"
IPS = ["10.0.0.1", "10.0.0.2", "192.168.1.7", "2001:db8::1", "fe80::1:2"]
PATHS = ["/hello", "/jobs", "/jobs/42", "/auth", "/nope"]
STATUSES = [200, 200, 200, 201, 400, 401, 404, 500, 503]
# Hours holding events; 2026-11-23 02:00 is an empty hour inside the queried ranges.
HOURS = [
    datetime(2026, 11, 22, 22),
    datetime(2026, 11, 22, 23),
    datetime(2026, 11, 23, 0),
    datetime(2026, 11, 23, 1),
    datetime(2026, 11, 23, 3),
    datetime(2026, 11, 23, 14),
    datetime(2026, 11, 24, 0),
]
EMPTY_HOUR = datetime(2026, 11, 23, 2)
# Not gzip at all: reading it fails, so a query that succeeds did not read it.
CORRUPT_KEY = f"2026-11-21/23/10.0.0.1/{TOPIC}-0-{0:020d}.jsonl.gz"


def ip_segment(ip: str) -> str:
    return ipaddress.ip_address(ip).compressed.replace(":", "-")


def event(when: datetime, ip: str, path: str, status: int, duration: float) -> dict:
    return {
        "schema": "stackyard.density.event/1",
        "id": str(uuid.uuid4()),
        "time": when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "app": "app_a" if path != "/auth" else "app_b",
        "client_ip": ip,
        "method": "GET",
        "path": path,
        "route": path if path in ("/hello", "/jobs", "/auth") else "other",
        "query": [["page", "1"], ["page", "2"]],
        "request": {
            "headers": [["Host", "app"], ["Authorization", "[REDACTED]"]],
            "body": {"size": 0, "truncated": False, "encoding": "utf-8", "data": ""},
        },
        "response": {
            "status": status,
            "headers": [["X-Request-Id", "x"]],
            "body": {"size": 2, "truncated": False, "encoding": "utf-8", "data": "{}"},
        },
        "duration_ms": duration,
    }


@dataclass
class Lake:
    events: list[dict] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)

    def select(self, first: datetime, last: datetime, keep: Callable[[dict], bool] = bool):
        """Events whose hour is in first..last (both included)."""
        return [e for e in self.events if first <= hour_of(e) <= last and keep(e)]


def hour_of(e: dict) -> datetime:
    return datetime.strptime(e["time"][:13], "%Y-%m-%dT%H")


def generate(seed: int = 10) -> Lake:
    rng = random.Random(seed)
    lake = Lake()
    for hour in HOURS:
        for ip in IPS:
            for _ in range(rng.randint(0, 12)):
                when = hour + timedelta(seconds=rng.uniform(0, 3599.999999))
                duration = round(rng.uniform(0.5, 900), 3)
                lake.events.append(
                    event(when, ip, rng.choice(PATHS), rng.choice(STATUSES), duration)
                )
    # Forward and backward compatibility: an unknown field, and fields missing.
    lake.events[0]["added_later"] = {"x": 1}
    for e in lake.events[1:4]:
        del e["duration_ms"]
        del e["request"]
    return lake


def write(s3, bucket: str, lake: Lake) -> list[str]:
    """Objects per <date>/<hour>/<ip>/, each group split into one to three objects like flushes;
    the keys of the lake's objects written."""
    rng = random.Random(1)
    keys: list[str] = []
    groups: dict[str, list[dict]] = {}
    for e in lake.events:
        prefix = f"{hour_of(e):%Y-%m-%d/%H}/{ip_segment(e['client_ip'])}/"
        groups.setdefault(prefix, []).append(e)
    offset = 0
    for prefix, events in sorted(groups.items()):
        partition = rng.randint(0, 5)
        for chunk in _split(events, rng.randint(1, 3)):
            key = f"{prefix}{TOPIC}-{partition}-{offset:020d}.jsonl.gz"
            put(s3, bucket, key, jsonl(chunk))
            keys.append(key)
            offset += len(chunk)
    put(s3, bucket, CORRUPT_KEY, b"this is not gzip")
    put(s3, bucket, "2026-11-23/14/README.txt", b"not an object of the lake")
    return keys


def put(s3, bucket: str, key: str, body: bytes) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=body)


def jsonl(events: Iterable[dict]) -> bytes:
    return gzip.compress("".join(json.dumps(e) + "\n" for e in events).encode())


def _split(items: list, parts: int) -> list[list]:
    size = math.ceil(len(items) / parts)
    return [items[i : i + size] for i in range(0, len(items), size)]


def quantile_cont(values: list[float], q: float) -> float:
    """Linear interpolation between the closest ranks, as DuckDB's quantile_cont."""
    xs = sorted(values)
    pos = (len(xs) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def run_cli(*argv: str) -> tuple[int, str, str]:
    """`stackyard ARGV` in process: exit code, stdout, stderr."""
    from stackyard.pipeline import cli

    out, err = io.StringIO(), io.StringIO()
    with redirect_stderr(err):
        code = cli.main(list(argv), out=out)
    return code, out.getvalue(), err.getvalue()


def query_json(sql: str, *argv: str) -> list[dict]:
    code, out, err = run_cli("lake", "query", sql, "--format", "json", *argv)
    assert code == 0, err
    return json.loads(out)
