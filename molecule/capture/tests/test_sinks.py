"""Part 2: every captured request lands exactly once in TimescaleDB and in the S3 lake.

Requests go from the controller to app_a; the sinks (on the apps host) consume the topic
into TimescaleDB and MinIO (on the Kafka host). Rows are read over the network as the
sinks' database user, lake objects anonymously over S3, and the lake again through
`stackyard lake query`. Then the faults: each sink SIGKILLed during traffic, TimescaleDB
and MinIO restarted during traffic; after each, every request is still there exactly once.
"""

import gzip
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime

import boto3
import botocore
import psycopg2
import pytest
import requests
import testinfra
from botocore.config import Config

DATA = testinfra.get_host("docker://mol-cap-kafka")  # Kafka, TimescaleDB, MinIO
APPS = testinfra.get_host("docker://mol-cap-apps")  # app_a, app_b, both sinks
BUCKET = "stackyard-lake"
SETTLE = 120  # seconds a request may take to reach both stores (S3 flush age is 10 s)
# `stackyard lake query`, run the way its console script does (the venv may predate the script)
LAKE_QUERY = [sys.executable, "-m", "stackyard.pipeline.cli", "lake", "query"]


def address(host) -> str:
    return host.interface("eth0").addresses[0]


def app_a() -> str:
    return f"http://{address(APPS)}:5000"


def s3_endpoint() -> str:
    return f"http://{address(DATA)}:9000"


def connect_db():
    """A connection to TimescaleDB as the sinks' user, with the password from its env file."""
    env = APPS.check_output("cat /etc/stackyard/sink-timescaledb.env")
    password = next(
        json.loads(line.split("=", 1)[1]) for line in env.splitlines()
        if line.startswith("SINK_PG_PASSWORD=")
    )  # fmt: skip
    conn = psycopg2.connect(
        host=address(DATA), dbname="capture", user="capture_sink", password=password,
        connect_timeout=10,
    )  # fmt: skip
    conn.autocommit = True
    return conn


@pytest.fixture
def db():
    conn = connect_db()
    yield conn
    conn.close()


def query(conn, sql: str, params=()) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def anonymous_s3():
    config = Config(signature_version=botocore.UNSIGNED, s3={"addressing_style": "path"})
    return boto3.client("s3", endpoint_url=s3_endpoint(), region_name="us-east-1", config=config)


def lake_records() -> list[tuple[str, dict]]:
    """(object key, event) of every record in the lake, read anonymously."""
    client, out = anonymous_s3(), []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for item in page.get("Contents", []):
            body = client.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
            out += [(item["Key"], json.loads(line)) for line in gzip.decompress(body).splitlines()]
    return out


def db_ids(conn) -> Counter:
    return Counter(str(i) for (i,) in query(conn, "SELECT event_id FROM capture.requests"))


def wait_until_stored(conn, ids: set[str]) -> tuple[Counter, list[tuple[str, dict]]]:
    """Wait until every id is in both stores; return what each holds."""
    deadline = time.monotonic() + SETTLE
    while True:
        rows, lake = db_ids(conn), lake_records()
        if (ids <= set(rows) and ids <= {e["id"] for _, e in lake}) or time.monotonic() > deadline:
            return rows, lake
        time.sleep(3)


def assert_exactly_once(conn, ids: set[str]) -> list[tuple[str, dict]]:
    rows, lake = wait_until_stored(conn, ids)
    lake_ids = Counter(e["id"] for _, e in lake)
    assert ids - set(rows) == set(), "every request has its row"
    assert ids - set(lake_ids) == set(), "every request has its lake record"
    assert [i for i, n in rows.items() if n > 1] == [], "no duplicate row"
    assert [i for i, n in lake_ids.items() if n > 1] == [], "no duplicate lake record"
    return lake


class Traffic:
    """Requests to app_a from a background thread until stopped; keeps every request id."""

    def __init__(self, pause: float = 0.02):
        self.ids: list[str] = []
        self.failures: list[str] = []
        self._stop, self._pause = threading.Event(), pause
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        session, url = requests.Session(), app_a()
        while not self._stop.is_set():
            for method, path, headers in (
                ("GET", "/hello", {}),
                ("POST", "/jobs", {"Authorization": "mytoken"}),
                ("POST", "/jobs", {}),
            ):
                try:
                    r = session.request(method, url + path, headers=headers, timeout=15)
                    self.ids.append(r.headers["X-Request-Id"])
                    if r.status_code >= 500:
                        self.failures.append(f"{path}: {r.status_code}")
                except requests.RequestException as err:
                    self.failures.append(f"{path}: {err}")
            time.sleep(self._pause)

    def __enter__(self) -> "Traffic":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def sink_pid(unit: str) -> int:
    return int(APPS.check_output(f"systemctl show -p MainPID --value {unit}"))


def test_a_known_mix_lands_once_in_both_stores_with_matching_aggregates(db):
    tag = f"sinks-{int(time.time())}"
    calls = [
        ("GET", "/hello", {}, {"tag": tag}), ("POST", "/jobs", {"Authorization": "mytoken"}, None),
        ("POST", "/jobs", {"Authorization": "wrong-token"}, None), ("POST", "/jobs", {}, None),
        ("GET", "/no-such-page", {}, None), ("DELETE", "/hello", {}, None),
    ] * 5  # fmt: skip
    seen = {}
    for method, path, headers, params in calls:
        r = requests.request(method, app_a() + path, headers=headers, params=params, timeout=10)
        seen[r.headers["X-Request-Id"]] = (path, r.status_code)
    lake = assert_exactly_once(db, set(seen))
    by_id = {e["id"]: (key, e) for key, e in lake}

    # rows carry what was asked and answered
    rows = query(
        db, "SELECT event_id::text, path, status, client_ip::text, app FROM capture.requests"
        " WHERE event_id = ANY(%s::uuid[])", (list(seen),),
    )  # fmt: skip
    assert {r[0]: (r[1], r[2]) for r in rows} == seen
    assert {r[4] for r in rows} == {"app_a"}

    # lake objects sit under <date>/<hour>/<ip>/ of the event, and keep no secret
    for event_id in seen:
        key, event = by_id[event_id]
        stamp = datetime.fromisoformat(event["time"].replace("Z", "+00:00")).astimezone(UTC)
        assert key.startswith(f"{stamp:%Y-%m-%d}/{stamp:%H}/{event['client_ip']}/"), key
        assert key.endswith(".jsonl.gz")
    token_calls = [i for i, (p, _) in seen.items() if p == "/jobs"]
    for event_id in token_calls:
        headers = dict((n.lower(), v) for n, v in by_id[event_id][1]["request"]["headers"])
        if "authorization" in headers:
            assert headers["authorization"] == "[REDACTED]"
    assert "mytoken" not in json.dumps([by_id[i][1] for i in seen])
    assert "wrong-token" not in json.dumps([by_id[i][1] for i in seen])

    # the 5-minute aggregate (real-time) sums equal the raw counts, per app/route/status, and
    # its error columns the raw 4xx/5xx counts (one snapshot: the sink may still be writing)
    deadline = time.monotonic() + 30
    while True:
        raw, agg = aggregate_and_raw(db)
        if raw == agg or time.monotonic() > deadline:
            break
        time.sleep(3)
    assert agg == raw

    # the lake query tool counts the same as the database, per status, over the same hours
    # (app_b's events travel in other partitions: wait until both stores hold them too)
    deadline = time.monotonic() + SETTLE
    while True:
        lake_counts, db_counts = lake_query_counts(lake), db_counts_in_hours(db, lake)
        if lake_counts == db_counts or time.monotonic() > deadline:
            break
        time.sleep(5)
        lake = lake_records()
    assert lake_counts == db_counts


def aggregate_and_raw(db) -> tuple[list, list]:
    """(raw, aggregate) counts per app/route/status plus 4xx and 5xx totals, one snapshot."""
    db.set_session(isolation_level="REPEATABLE READ", autocommit=False)
    try:
        per_group = " GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
        raw = query(db, "SELECT app, route, status, count(*) FROM capture.requests" + per_group)
        raw += query(
            db, "SELECT count(*) FILTER (WHERE status BETWEEN 400 AND 499),"
            " count(*) FILTER (WHERE status >= 500) FROM capture.requests",
        )  # fmt: skip
        agg = query(
            db, "SELECT app, route, status, sum(requests) FROM capture.requests_5m" + per_group
        )  # fmt: skip
        agg += query(db, "SELECT sum(errors_4xx), sum(errors_5xx) FROM capture.requests_5m")
    finally:
        db.rollback()
        db.set_session(isolation_level="READ COMMITTED", autocommit=True)
    return ints(raw), ints(agg)


def ints(rows: list[tuple]) -> list[tuple]:
    """Counts as ints (sum() answers Decimal), names as they are."""
    return [tuple(v if isinstance(v, str) else int(v) for v in row) for row in rows]


def lake_hours(lake: list[tuple[str, dict]]) -> tuple[str, str]:
    hours = sorted({key[:13] for key, _ in lake})  # "YYYY-MM-DD/HH"
    return hours[0], hours[-1]


def lake_query_counts(lake: list[tuple[str, dict]]) -> dict[int, int]:
    """Requests per status over the lake's hours, by `stackyard lake query`."""
    first, last = (f"{h[:10]}T{h[11:13]}" for h in lake_hours(lake))
    out = subprocess.run(
        [*LAKE_QUERY,
         "SELECT response.status AS status, count(*) AS n FROM events GROUP BY 1 ORDER BY 1",
         "--from", first, "--to", last, "--format", "json", "--endpoint", s3_endpoint(),
         "--bucket", BUCKET, "--anonymous"],
        capture_output=True, text=True, check=True, timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("SINK_")},
    ).stdout  # fmt: skip
    return {int(r["status"]): int(r["n"]) for r in json.loads(out)}


def db_counts_in_hours(db, lake: list[tuple[str, dict]]) -> dict[int, int]:
    first, last = (f"{h[:10]} {h[11:13]}:00Z" for h in lake_hours(lake))
    rows = query(
        db, "SELECT status, count(*) FROM capture.requests WHERE time >= %s::timestamptz"
        " AND time < %s::timestamptz + interval '1 hour' GROUP BY 1", (first, last),
    )  # fmt: skip
    return {int(s): int(n) for s, n in rows}


def wait_healthy(url: str, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while True:
        rc = APPS.run(f"curl -sf {url}").rc
        if rc == 0 or time.monotonic() > deadline:
            return rc
        time.sleep(2)


@pytest.mark.parametrize("unit", ["sink-timescaledb", "sink-s3"])
def test_a_sink_killed_mid_batch_loses_and_duplicates_nothing(db, unit):
    before = sink_pid(unit)
    with Traffic() as traffic:
        time.sleep(4)  # batches (and open S3 objects) in flight
        APPS.run_expect([0], f"systemctl kill --signal=SIGKILL {unit}")
        time.sleep(6)  # systemd restarts it (Restart=on-failure) while traffic goes on
    assert traffic.failures == []
    assert sink_pid(unit) not in (0, before), "systemd restarted the killed sink"
    assert_exactly_once(db, set(traffic.ids))


@pytest.mark.parametrize(
    ("store", "unit"), [("TimescaleDB", "postgresql@15-main"), ("MinIO", "minio")]
)
def test_a_store_restarted_during_traffic_makes_the_sinks_wait_and_resume(store, unit):
    with Traffic() as traffic:
        time.sleep(3)
        DATA.run_expect([0], f"systemctl stop {unit}")
        time.sleep(8)  # the sinks find it gone and wait
        DATA.run_expect([0], f"systemctl start {unit}")
        time.sleep(4)
    assert traffic.failures == [], f"the apps answered throughout the {store} restart"
    fresh = connect_db()  # the fixture's connection did not survive a database restart
    try:
        assert_exactly_once(fresh, set(traffic.ids))
    finally:
        fresh.close()
    for health in ("127.0.0.1:9101", "127.0.0.1:9102"):
        assert wait_healthy(f"http://{health}/health") == 0, "both sinks healthy again"
