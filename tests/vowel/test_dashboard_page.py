"""The dashboard page in real headless Chromium: offline, drawn from the JSON endpoints.

Set VOWEL_SCREENSHOT=docs/vowel-dashboard.png to refresh the screenshot in the docs.
"""

from __future__ import annotations

import os
import random
import shutil
import sys
import uuid as uuidlib
from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse

import pytest

from stackyard.testing.http import serving
from stackyard.testing.pgcluster import free_port
from stackyard.vowel.sqlite_interface import SQLiteInterface

CHROMIUM = "/usr/bin/chromium"
# flags known to work on these machines (no sandbox as root, no background network)
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def seed(path: str) -> dict[str, int]:
    """A week of events; the counts per symbol."""
    rng, store, counts = random.Random(4), SQLiteInterface(path), {}
    start = datetime(2026, 3, 10, tzinfo=UTC)
    for n in range(600):
        symbol = rng.choice("aaaeeeiioouybcdfghklmnprst")
        ident, at = str(uuidlib.uuid4()), start + timedelta(minutes=14 * n)
        store.log_initial(ident, symbol, symbol in "aeiou", at)
        counts[symbol] = counts.get(symbol, 0) + 1
        if rng.random() < (0.1 if symbol in "aeiou" else 0.2):
            store.log_followup(ident, at + timedelta(seconds=2))
    store.close()
    return counts


@pytest.fixture
def server(tmp_path):
    path = str(tmp_path / "page.sqlite3")
    counts = seed(path)
    port = free_port()
    env = {
        **os.environ,
        "VOWEL_BACKEND": "sqlite",
        "VOWEL_SQLITE_PATH": path,
        "VOWEL_BIND": f"127.0.0.1:{port}",
        "VOWEL_WORKERS": "1",
        "VOWEL_LOG_LEVEL": "WARNING",
    }
    argv = [sys.executable, "-m", "gunicorn", "--config", "python:stackyard.vowel.gunicorn_conf"]
    with serving(argv, env, port):
        yield f"http://127.0.0.1:{port}", counts


@pytest.mark.skipif(not shutil.which(CHROMIUM), reason="chromium is not installed")
def test_dashboard_draws_counts_and_rates_offline(server, tmp_path):
    from playwright.sync_api import sync_playwright

    base, counts = server
    hosts: set[str] = set()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 900, "height": 900})
        page.on("request", lambda req: hosts.add(urlparse(req.url).netloc))
        page.goto(f"{base}/dashboard?lower=2026-03-10&upper=2026-03-16")
        page.wait_for_selector("body[data-loaded]", timeout=30_000)
        assert page.locator("#counts rect").count() == 26
        assert page.locator("#rates rect").count() == 26
        rows = page.locator("#table tbody tr")
        assert rows.count() == len(counts)
        cells = [rows.nth(i).locator("td") for i in range(rows.count())]
        shown = {c.nth(0).inner_text(): int(c.nth(1).inner_text()) for c in cells}
        assert shown == counts
        # the tallest bar is the most frequent symbol
        heights = [float(h) for h in page.locator("#counts rect").evaluate_all(
            "rs => rs.map(r => r.getAttribute('height'))")]  # fmt: skip
        letters = "abcdefghijklmnopqrstuvwxyz"
        assert letters[heights.index(max(heights))] == max(counts, key=counts.get)
        # a bad range shows the API's error, not a broken page
        page.fill("#lower", "2026-03-17")
        page.click("button[type=submit]")
        page.wait_for_function("document.getElementById('status').textContent.length > 0")
        page.fill("#lower", "2026-03-10")
        page.click("button[type=submit]")
        page.wait_for_function("document.getElementById('status').textContent === ''")
        page.wait_for_timeout(300)
        shot = os.environ.get("VOWEL_SCREENSHOT") or str(tmp_path / "dashboard.png")
        page.screenshot(path=shot, full_page=True)
        browser.close()
    assert os.path.getsize(shot) > 10_000
    assert hosts == {urlparse(base).netloc}  # nothing fetched from anywhere else
