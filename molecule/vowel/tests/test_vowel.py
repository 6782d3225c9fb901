"""The deployed vowel environment counts exactly, checked from the controller.

The load client runs on the app host (the deployed console script). Expected numbers are
computed here in Python from the raw MariaDB rows (a follow-up counts for the latest
initial request of its uuid made before it), never by the service's own SQL. Then Redis is
flushed, the aggregates rebuilt from MariaDB, and every number checked again.
"""

import json
from collections import defaultdict
from datetime import UTC, timedelta

import pymysql
import pytest
import redis
import requests
import testinfra

APP_HOST, STORE_HOST = "mol-vowel-app", "mol-vowel-store"
LETTERS = "abcdefghijklmnopqrstuvwxyz"
VENV = "/opt/stackyard/vowel/venv/bin"
SOURCE_ENV = "set -a && . /etc/stackyard/vowel.env && set +a"


def host(name: str):
    return testinfra.get_host(f"docker://{name}")


def container_ip(name: str) -> str:
    return host(name).interface("eth0").addresses[0]


@pytest.fixture(scope="module")
def env() -> dict[str, str]:
    content = host(APP_HOST).file("/etc/stackyard/vowel.env").content_string
    pairs = (line.partition("=") for line in content.splitlines() if line and line[0] != "#")
    return {key: json.loads(value) for key, _, value in pairs}


@pytest.fixture(scope="module")
def base() -> str:
    return f"http://{container_ip(APP_HOST)}:5000"


@pytest.fixture(scope="module")
def load(base) -> dict:
    """Run the deployed load client on the app host, bounded."""
    out = host(APP_HOST).check_output(
        f"{VENV}/stackyard-vowel-client --base-url http://127.0.0.1:5000"
        " --concurrency 4 --duration 20 --requests 1500"
    )
    summary = json.loads(out)
    assert summary["initials"] > 0 and summary["errors"] == 0, summary
    return summary


def expected(env) -> tuple[dict, list[dict]]:
    """Per-symbol aggregates and the per-day range of today, from the raw rows."""
    conn = pymysql.connect(
        host=container_ip(STORE_HOST),
        user=env["VOWEL_MARIADB_USER"],
        password=env["VOWEL_MARIADB_PASSWORD"],
        database=env["VOWEL_MARIADB_DATABASE"],
    )
    with conn, conn.cursor() as cur:
        cur.execute("SELECT uuid, symbol, created_at FROM initial_events")
        initials = cur.fetchall()
        cur.execute("SELECT uuid, created_at FROM followup_events")
        followups = cur.fetchall()
    by_uuid = defaultdict(list)
    for uuid, symbol, at in initials:
        by_uuid[uuid].append((at, symbol))
    stats = defaultdict(lambda: {"count": 0, "times": [], "followups": 0})
    days = defaultdict(lambda: {"count": 0, "times": [], "followups": 0})
    for _, symbol, at in initials:
        for acc in (stats[symbol], days[(at.date(), symbol)]):
            acc["count"] += 1
            acc["times"].append(at)
    for uuid, at in followups:
        before = [(t, s) for t, s in by_uuid.get(uuid, []) if t <= at]
        if before:
            t, symbol = max(before)
            stats[symbol]["followups"] += 1
            days[(t.date(), symbol)]["followups"] += 1

    def shape(symbol, acc):
        iso = lambda t: t.replace(tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # noqa: E731
        return {"symbol": symbol, "count": acc["count"], "earliest": iso(min(acc["times"])),
                "latest": iso(max(acc["times"])), "followups": acc["followups"]}  # fmt: skip

    symbols = {s: shape(s, stats[s]) for s in LETTERS if stats[s]["count"]}
    return symbols, days, shape


def check_dashboards(base, env) -> int:
    symbols, days, shape = expected(env)
    for letter in LETTERS:
        answer = requests.get(f"{base}/dashboard/symbol/{letter}", timeout=10).json()
        want = symbols.get(letter, {"symbol": letter, "count": 0, "earliest": None,
                                    "latest": None, "followups": 0})  # fmt: skip
        assert answer == want
    for day in sorted({d for d, _ in days}):
        want = [shape(s, days[(day, s)]) for s in LETTERS if (day, s) in days]
        lo, hi = day.isoformat(), day.isoformat()
        assert requests.get(f"{base}/dashboard/range/{lo}/{hi}", timeout=10).json() == want
        lo = (day - timedelta(days=29)).isoformat()
        month = requests.get(f"{base}/dashboard/range/{lo}/{hi}", timeout=10).json()
        assert sum(r["count"] for r in month) >= sum(r["count"] for r in want)
    return sum(s["count"] for s in symbols.values())


def test_every_dashboard_number_matches_the_raw_rows(load, base, env):
    assert check_dashboards(base, env) >= load["initials"]


def test_flushed_aggregates_are_rebuilt_exactly(load, base, env):
    before = check_dashboards(base, env)
    store = redis.Redis(
        host=container_ip(STORE_HOST),
        username=env["VOWEL_REDIS_USERNAME"],
        password=env["VOWEL_REDIS_PASSWORD"],
    )
    with pytest.raises(redis.exceptions.NoPermissionError):
        store.flushdb()  # the service's user: its own keys and commands only
    store.delete(*store.scan_iter("vowel:*"))
    assert requests.get(f"{base}/dashboard/symbol/e", timeout=10).json()["count"] == 0
    out = host(APP_HOST).check_output(f"bash -c '{SOURCE_ENV} && {VENV}/stackyard-vowel-rebuild'")
    assert json.loads(out)["initials"] == before
    assert check_dashboards(base, env) == before


def test_the_original_client_routes_answer_plain_text(base):
    uuid = "6f1c2c1e-0b5e-4e8a-9d55-3f6f0e2b7c1a"
    r = requests.post(f"{base}/initial", params={"uuid": uuid, "symbol": "a"}, timeout=10)
    assert r.status_code == 200 and r.text in ("True", "False")
    r = requests.post(f"{base}/followup", params={"uuid": uuid}, timeout=10)
    assert (r.status_code, r.text) == (200, "hooray")
    r = requests.get(f"{base}/dashboard/symbol/A", timeout=10)
    assert r.status_code == 400 and "error" in r.json()


def test_the_dashboard_page_and_its_script_are_served(base):
    page = requests.get(f"{base}/dashboard", timeout=10)
    assert page.status_code == 200 and "/dashboard.js" in page.text
    assert requests.get(f"{base}/dashboard.js", timeout=10).status_code == 200
