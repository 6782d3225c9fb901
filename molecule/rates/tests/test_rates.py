"""The deployed rates environment answers correctly, checked from the controller.

Expected values are computed here in Python from raw rows read straight from the
database (conftest.Database), never by the API's own SQL. The write token is read from
the API's environment file, so the test holds whatever the deployment chose.
"""

import csv
import io
import json
import urllib.error
import urllib.request
from collections import defaultdict
from datetime import date, timedelta

import pytest

DATE_FROM, DATE_TO = date(2016, 1, 1), date(2016, 1, 31)


def http(method, url, body=None, content_type="application/json", token=None):
    request = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        request.add_header("Content-Type", content_type)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def rows(db, sql: str) -> list[tuple]:
    return db.rows(sql)


def expected_rates(db, orig_ports: set[str], dest_ports: set[str]) -> list[dict]:
    raw = rows(
        db,
        "SELECT orig_code, dest_code, day, price FROM prices"
        f" WHERE day BETWEEN '{DATE_FROM}' AND '{DATE_TO}'",
    )
    by_day = defaultdict(list)
    for orig, dest, day, price in raw:
        if orig in orig_ports and dest in dest_ports:
            by_day[date.fromisoformat(day)].append(price)
    out = []
    day = DATE_TO
    while day >= DATE_FROM:
        prices = by_day.get(day, [])
        out.append(
            {
                "day": day.isoformat(),
                "count": len(prices) or None,
                "price": sum(prices) / len(prices) if len(prices) >= 3 else None,
            }
        )
        day -= timedelta(days=1)
    return out


def ports_in_region(db, slug: str) -> set[str]:
    parents = dict(rows(db, "SELECT slug, parent_slug FROM regions"))
    ports = rows(db, "SELECT code, parent_slug FROM ports")

    def inside(region: str | None) -> bool:
        while region is not None:
            if region == slug:
                return True
            region = parents.get(region)
        return False

    return {code for code, region in ports if inside(region)}


def assert_same_rates(actual: list[dict], expected: list[dict]) -> None:
    assert [r["day"] for r in actual] == [r["day"] for r in expected]
    for got, want in zip(actual, expected, strict=True):
        assert got["count"] == want["count"], got["day"]
        if want["price"] is None:
            assert got["price"] is None, got["day"]
        else:
            assert got["price"] == pytest.approx(want["price"]), got["day"]


def query(api_url: str, orig: str, dest: str):
    return http(
        "GET",
        f"{api_url}/rates?date_from={DATE_FROM}&date_to={DATE_TO}&orig_code={orig}&dest_code={dest}",
    )


def test_health_reports_database_ok(api_url):
    status, body = http("GET", f"{api_url}/health")
    assert status == 200
    assert body["database"] == "ok"


def test_port_to_port_rates_match_raw_prices(api_url, db):
    status, body = query(api_url, "CNGGZ", "EETLL")
    assert status == 200
    expected = expected_rates(db, {"CNGGZ"}, {"EETLL"})
    assert any(r["price"] is not None for r in expected), "sample lane has data"
    assert_same_rates(body["rates"], expected)


def test_region_rates_include_descendant_ports(api_url, db):
    # the region with the most ports below it, as destination, from a busy origin
    slugs = [slug for (slug,) in rows(db, "SELECT slug FROM regions")]
    region = max(slugs, key=lambda s: len(ports_in_region(db, s)))
    dest_ports = ports_in_region(db, region)
    direct = {
        code for (code,) in rows(db, f"SELECT code FROM ports WHERE parent_slug = '{region}'")
    }
    assert dest_ports > direct, "the region must have ports in child regions for this test"
    status, body = query(api_url, "CNGGZ", region)
    assert status == 200
    assert_same_rates(body["rates"], expected_rates(db, {"CNGGZ"}, dest_ports))


def test_bad_input_answers_400_with_json(api_url):
    status, body = http(
        "GET",
        f"{api_url}/rates?date_from=2016-02-01&date_to=2016-01-01&orig_code=CNGGZ&dest_code=EETLL",
    )
    assert status == 400
    assert "error" in body


def count_prices(db) -> int:
    return rows(db, "SELECT count(*) FROM prices")[0][0]


def batch(n: int, start: date) -> list[dict]:
    return [
        {
            "orig_code": "CNGGZ",
            "dest_code": "EETLL",
            "day": (start + timedelta(days=i % 365)).isoformat(),
            "price": 1000 + i % 500,
        }
        for i in range(n)
    ]


def test_write_without_the_token_is_refused_and_writes_nothing(api_url, db):
    before = count_prices(db)
    body = json.dumps(batch(10, date(2030, 1, 1))).encode()
    for token in (None, "not-the-token"):
        status, answer = http("POST", f"{api_url}/prices", body, token=token)
        assert status == 401, answer
        assert "error" in answer
    assert count_prices(db) == before


def test_batch_with_one_bad_row_writes_nothing(api_url, db, api_env):
    before = count_prices(db)
    rows_ = batch(1000, date(2031, 1, 1))
    rows_[500]["dest_code"] = "ZZZZZ"  # unknown port
    status, body = http(
        "POST", f"{api_url}/prices", json.dumps(rows_).encode(), token=api_env["RATES_WRITE_TOKEN"]
    )
    assert status == 400
    assert body["bad_rows"][0]["row"] in {500, 501}  # 0- or 1-based, but this row
    assert count_prices(db) == before


def test_batch_of_50000_rows_lands_in_full(api_url, db, api_env):
    before = count_prices(db)
    body = json.dumps(batch(50_000, date(2032, 1, 1))).encode()
    status, body = http("POST", f"{api_url}/prices", body, token=api_env["RATES_WRITE_TOKEN"])
    assert status == 201, body
    assert body["inserted"] == 50_000
    assert count_prices(db) == before + 50_000


def test_csv_batch_lands(api_url, db, api_env):
    before = count_prices(db)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=["orig_code", "dest_code", "day", "price"])
    writer.writeheader()
    writer.writerows(batch(100, date(2033, 1, 1)))
    status, body = http(
        "POST",
        f"{api_url}/prices",
        buf.getvalue().encode(),
        "text/csv",
        token=api_env["RATES_WRITE_TOKEN"],
    )
    assert status == 201, body
    assert count_prices(db) == before + 100
