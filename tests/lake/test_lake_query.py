"""`stackyard lake query` against a real MinIO holding objects in the S3 sink's layout."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest
from lake_support import (
    CORRUPT_KEY,
    EMPTY_HOUR,
    PRIVATE_BUCKET,
    Lake,
    hour_of,
    jsonl,
    put,
    quantile_cont,
    query_json,
    run_cli,
)

from stackyard.pipeline import lake as lakemod
from stackyard.pipeline.lakerange import LakeRange

pytestmark = pytest.mark.integration

FIRST, LAST = datetime(2026, 11, 22, 23), datetime(2026, 11, 23, 14)
RANGE = ["--from", "2026-11-22T23", "--to", "2026-11-23T14"]

PER_IP_HOUR = """
SELECT client_ip, strftime(date_trunc('hour', time), '%Y-%m-%dT%H') AS hour, count(*) AS n
FROM events GROUP BY ALL ORDER BY ALL
"""


def test_counts_per_ip_per_hour_are_those_of_the_events_in_the_range(lake: Lake, s3_env) -> None:
    expected = Counter(
        (e["client_ip"], f"{hour_of(e):%Y-%m-%dT%H}") for e in lake.select(FIRST, LAST)
    )
    rows = query_json(PER_IP_HOUR, *RANGE)
    assert {(r["client_ip"], r["hour"]): r["n"] for r in rows} == dict(expected)
    assert len(expected) > 10  # several hours, days and IPv4/IPv6 clients


def test_failed_requests_by_ip_per_hour(lake: Lake, s3_env) -> None:
    sql = """
    SELECT client_ip, date_trunc('hour', time) AS hour, count(*) AS failed
    FROM events WHERE response.status >= 400 GROUP BY ALL
    """
    failed = lake.select(FIRST, LAST, lambda e: e["response"]["status"] >= 400)
    expected = Counter((e["client_ip"], f"{hour_of(e):%Y-%m-%d %H:%M:%S}") for e in failed)
    rows = query_json(sql, *RANGE)
    assert {(r["client_ip"], r["hour"]): r["failed"] for r in rows} == dict(expected)


def test_top_paths_by_p95_duration(lake: Lake, s3_env) -> None:
    sql = """
    SELECT path, quantile_cont(duration_ms, 0.95) AS p95, count(duration_ms) AS n
    FROM events GROUP BY path ORDER BY p95 DESC LIMIT 3
    """
    durations: dict[str, list[float]] = {}
    for e in lake.select(FIRST, LAST, lambda e: "duration_ms" in e):
        durations.setdefault(e["path"], []).append(e["duration_ms"])
    p95 = {path: quantile_cont(values, 0.95) for path, values in durations.items()}
    top = sorted(p95, key=p95.get, reverse=True)[:3]
    rows = query_json(sql, *RANGE)
    assert [r["path"] for r in rows] == top
    for row in rows:
        assert row["p95"] == pytest.approx(p95[row["path"]])
        assert row["n"] == len(durations[row["path"]])


def test_objects_outside_the_range_are_not_listed_nor_read(lake: Lake, s3_env) -> None:
    """The corrupt object at 2026-11-21T23 breaks any query that reads it."""
    day = ["--from", "2026-11-22", "--to", "2026-11-22"]
    rows = query_json("SELECT count(*) AS n FROM events", *day)
    end = datetime(2026, 11, 22, 23)
    assert rows == [{"n": len(lake.select(datetime(2026, 11, 22), end))}]

    code, _, err = run_cli("lake", "query", "SELECT 1 FROM events", "--from", "2026-11-21T23")
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith("stackyard lake: ")

    settings = lakemod.LakeSettings.from_env()
    lake_range = LakeRange.parse("2026-11-22T23", "2026-11-23T03")
    listed = [o.key for o in lakemod.list_objects(settings, lake_range)]
    wanted = [k for k in lake.keys if "2026-11-22/23/" <= k < "2026-11-23/04/"]
    assert sorted(listed) == sorted(wanted) and CORRUPT_KEY not in listed


def test_an_empty_hour_and_an_empty_range_give_no_rows(lake: Lake, s3_env) -> None:
    assert not lake.select(EMPTY_HOUR, EMPTY_HOUR)
    hour = f"{EMPTY_HOUR:%Y-%m-%dT%H}"
    assert query_json("SELECT count(*) AS n FROM events", "--from", hour) == [{"n": 0}]
    rows = query_json("SELECT * FROM events", "--from", "2026-01-01", "--to", "2026-01-02")
    assert rows == []
    code, out, _ = run_cli("lake", "query", "SELECT id, time FROM events", "--from", "2026-01-01")
    assert code == 0 and out.splitlines()[0].split() == ["id", "time"]


def test_missing_and_unknown_fields_do_not_break_a_query(lake: Lake, s3_env) -> None:
    sql = "SELECT count(*) FILTER (duration_ms IS NULL) AS no_duration, count(*) AS n FROM events"
    rows = query_json(sql, "--from", "2026-11-22", "--to", "2026-11-24")
    assert rows == [{"no_duration": 3, "n": len(lake.events)}]


def test_ip_filter_prunes_to_one_client_ipv6_included(lake: Lake, s3_env) -> None:
    sql = """SELECT client_ip, count(*) AS n, count(DISTINCT filename) AS objects
    FROM events GROUP BY 1"""
    rows = query_json(sql, *RANGE, "--ip", "2001:db8::1")
    mine = lake.select(FIRST, LAST, lambda e: e["client_ip"] == "2001:db8::1")
    assert [(r["client_ip"], r["n"]) for r in rows] == [("2001:db8::1", len(mine))]
    code, out, _ = run_cli("lake", "ls", *RANGE, "--ip", "2001:db8::1")
    keys = [line.split()[1] for line in out.splitlines()]
    assert code == 0 and len(keys) == rows[0]["objects"]
    assert all(k.split("/")[2] == "2001-db8--1" for k in keys)


def test_anonymous_reads_a_public_read_bucket_and_is_refused_a_private_one(
    lake: Lake, s3_env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SINK_S3_ACCESS_KEY")
    monkeypatch.delenv("SINK_S3_SECRET_KEY")
    rows = query_json("SELECT count(*) AS n FROM events", *RANGE)
    assert rows == [{"n": len(lake.select(FIRST, LAST))}]
    code, _, err = run_cli("lake", "query", "SELECT 1", *RANGE, "--bucket", PRIVATE_BUCKET)
    assert code == 2 and "refused" in err and err.count("\n") == 1, err


def test_formats_agree_and_the_table_is_aligned(lake: Lake, s3_env) -> None:
    sql = "SELECT route, count(*) AS n, avg(duration_ms) AS ms FROM events GROUP BY 1 ORDER BY 1"
    as_json = query_json(sql, *RANGE)
    code, out, _ = run_cli("lake", "query", sql, *RANGE, "--format", "csv")
    as_csv = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and [r["route"] for r in as_csv] == [r["route"] for r in as_json]
    assert [int(r["n"]) for r in as_csv] == [r["n"] for r in as_json]
    code, out, _ = run_cli("lake", "query", sql, *RANGE)
    lines = out.splitlines()
    assert lines[-1] == f"({len(as_json)} rows)"
    assert set(lines[1]) == {"-", " "} and len(lines) == len(as_json) + 3
    n_end = lines[1].index(" ", lines[1].index("-", lines[1].index(" "))) - 1
    assert all(line[n_end] != " " for line in lines[2:-1])  # numbers right-aligned


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--bucket", "no-such-bucket"], "does not exist"),
        (["--endpoint", "http://127.0.0.1:9"], "cannot reach the S3 endpoint"),
        (["--addressing", "path", "--endpoint", "ftp://x"], "expected http(s)://host[:port]"),
    ],
)
def test_s3_problems_exit_2_with_one_line(lake: Lake, s3_env, extra, message) -> None:
    code, out, err = run_cli("lake", "query", "SELECT 1", *RANGE, *extra)
    assert (code, out) == (2, "") and message in err and err.count("\n") == 1, err


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELEC 1", "SQL error: Parser Error"),
        ("SELECT nope FROM events", "SQL error: Binder Error"),
        ("SELECT * FROM nothing_here", "SQL error: Catalog Error"),
    ],
)
def test_sql_errors_exit_2_with_one_line(lake: Lake, s3_env, sql, message) -> None:
    code, _, err = run_cli("lake", "query", sql, *RANGE)
    assert code == 2 and message in err and err.count("\n") == 1, err


def test_the_console_script_runs_a_query(lake: Lake, s3_env) -> None:
    script = shutil.which("stackyard", path=str(Path(sys.executable).parent))
    assert script, "the `stackyard` console script is not installed (make venv)"
    done = subprocess.run(
        [script, "lake", "query", "SELECT count(*) AS n FROM events", *RANGE, "--format", "json"],
        capture_output=True, text=True, timeout=120, env=os.environ, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [{"n": len(lake.select(FIRST, LAST))}]


COMPACT = """
COPY (
  SELECT * EXCLUDE (filename), strftime(time, '%Y-%m-%d') AS date, strftime(time, '%H') AS hour
  FROM events ORDER BY time
) TO 's3://lake-test/compacted/events' (
  FORMAT parquet, COMPRESSION zstd, PARTITION_BY (date, hour), OVERWRITE_OR_IGNORE
)
"""


def test_compaction_to_parquet_keeps_every_event_of_the_day(lake: Lake, s3_env) -> None:
    """The recipe of docs/data-lake.md: one day of JSONL objects into hourly Parquet files."""
    day = ["--from", "2026-11-23"]
    code, _, err = run_cli("lake", "query", COMPACT, *day)
    assert code == 0, err
    sql = """
    SELECT hour, count(*) AS n, count(DISTINCT id) AS ids, max(response.status) AS top_status
    FROM read_parquet('s3://lake-test/compacted/events/date=2026-11-23/*/*.parquet',
                      hive_partitioning = true)
    GROUP BY hour ORDER BY hour
    """
    rows = query_json(sql, *day)
    events = lake.select(datetime(2026, 11, 23), datetime(2026, 11, 23, 23))
    per_hour = Counter(f"{hour_of(e):%H}" for e in events)
    assert [(str(r["hour"]).zfill(2), r["n"], r["ids"]) for r in rows] == [
        (hour, n, n) for hour, n in sorted(per_hour.items())
    ]
    assert max(r["top_status"] for r in rows) == max(e["response"]["status"] for e in events)


def test_a_prefix_with_more_objects_than_one_listing_page_is_read_whole(
    minio, s3_env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S3 lists at most 1000 keys per request: every page is followed."""
    bucket = "lake-many"
    minio.create_bucket(bucket)
    s3 = minio.client()
    keys = [f"2026-11-23/05/10.0.0.9/density.events-0-{i:020d}.jsonl.gz" for i in range(1203)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: put(s3, bucket, k, jsonl([{"id": k}])), keys))
    monkeypatch.setenv("SINK_S3_BUCKET", bucket)
    code, out, err = run_cli("lake", "ls", "--from", "2026-11-23")
    assert code == 0, err
    assert [line.split()[1] for line in out.splitlines()] == keys
    rows = query_json("SELECT count(DISTINCT id) AS n FROM events", "--from", "2026-11-23T05")
    assert rows == [{"n": len(keys)}]
