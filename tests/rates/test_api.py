"""The rates API through Flask's test client against a real PostgreSQL."""

import csv
import dataclasses
import io
import json
from collections import defaultdict
from datetime import date, timedelta

import pytest

from stackyard.rates.app import create_app
from stackyard.rates.config import Settings
from stackyard.testing.pgcluster import free_port

pytestmark = pytest.mark.integration

DATE_FROM, DATE_TO = date(2016, 1, 1), date(2016, 1, 31)


def rows(db, sql, params=()):
    with db.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def ports_in(db, code):
    """Port codes a code stands for, walking the region tree in Python."""
    parents = dict(rows(db, "SELECT slug, parent_slug FROM regions"))
    ports = rows(db, "SELECT code, parent_slug FROM ports")

    def inside(region):
        while region is not None:
            if region == code:
                return True
            region = parents.get(region)
        return False

    return {c for c, region in ports if c == code or inside(region)}


def expected(db, orig, dest, date_from=DATE_FROM, date_to=DATE_TO):
    orig_ports, dest_ports = ports_in(db, orig), ports_in(db, dest)
    by_day = defaultdict(list)
    for o, d, day, price in rows(
        db,
        "SELECT orig_code, dest_code, day, price FROM prices WHERE day BETWEEN %s AND %s",
        (date_from, date_to),
    ):
        if o in orig_ports and d in dest_ports:
            by_day[day].append(price)
    out, day = [], date_to
    while day >= date_from:
        p = by_day.get(day, [])
        out.append(
            {
                "day": day.isoformat(),
                "price": sum(p) / len(p) if len(p) >= 3 else None,
                "count": len(p) or None,
            }
        )
        day -= timedelta(days=1)
    return out


def get_rates(client, orig, dest, date_from=DATE_FROM, date_to=DATE_TO):
    return client.get(
        "/rates",
        query_string={
            "date_from": str(date_from),
            "date_to": str(date_to),
            "orig_code": orig,
            "dest_code": dest,
        },
    )


def assert_same(actual, wanted):
    assert [r["day"] for r in actual] == [r["day"] for r in wanted]
    for got, want in zip(actual, wanted, strict=True):
        assert got["count"] == want["count"], got
        if want["price"] is None:
            assert got["price"] is None, got
        else:
            assert got["price"] == pytest.approx(want["price"]), got


@pytest.mark.parametrize(
    ("orig", "dest"),
    [
        ("CNGGZ", "EETLL"),
        ("CNGGZ", "north_europe_main"),  # region with direct ports and nested sub-regions
        ("china_main", "baltic"),
        ("china_main", "north_europe_main"),
        ("north_europe_main", "china_south_main"),  # back-haul
        ("EETLL", "CNGGZ"),  # no prices at all: every day null
    ],
)
def test_rates_match_raw_prices(client, admin, orig, dest):
    response = get_rates(client, orig, dest)
    assert response.status_code == 200
    assert response.is_json
    assert_same(response.get_json()["rates"], expected(admin, orig, dest))


def test_example_lane_has_prices_and_nulls(client):
    rates = get_rates(client, "CNGGZ", "EETLL").get_json()["rates"]
    assert len(rates) == 31
    assert rates[0]["day"] == "2016-01-31" and rates[-1]["day"] == "2016-01-01"
    assert sum(r["price"] is not None for r in rates) >= 25
    thin = [r for r in rates if r["price"] is None]
    assert thin and all(r["count"] is None or r["count"] < 3 for r in thin)
    assert all(r["count"] >= 3 for r in rates if r["price"] is not None)


def test_every_day_present_outside_the_data(client):
    rates = get_rates(client, "CNGGZ", "EETLL", date(2015, 12, 30), date(2016, 1, 2)).get_json()
    assert [(r["day"], r["count"] is None) for r in rates["rates"]] == [
        ("2016-01-02", False),
        ("2016-01-01", False),
        ("2015-12-31", True),
        ("2015-12-30", True),
    ]
    one = get_rates(client, "CNGGZ", "EETLL", DATE_TO, DATE_TO).get_json()["rates"]
    assert [r["day"] for r in one] == ["2016-01-31"]


def test_region_includes_descendant_ports(admin):
    direct = {
        c
        for (c,) in rows(
            admin, "SELECT code FROM ports WHERE parent_slug = %s", ("north_europe_main",)
        )
    }
    assert {"EETLL", "FIHEL"} <= ports_in(admin, "north_europe_main")
    assert "EETLL" not in direct and "FIHEL" not in direct


BAD_QUERIES = [
    ({"date_from": None}, "date_from"),
    ({"date_to": None}, "date_to"),
    ({"date_from": "2016-02-30", "date_to": "2016-03-01"}, "date_from"),
    ({"date_from": "2016-1-1"}, "date_from"),
    ({"date_from": "20160101"}, "date_from"),
    ({"date_from": "yesterday"}, "date_from"),
    ({"date_from": "2016-02-01", "date_to": "2016-01-01"}, "date_from"),
    ({"date_from": "2015-01-01", "date_to": "2016-01-31"}, "366"),
    ({"orig_code": None}, "orig_code"),
    ({"dest_code": ""}, "dest_code"),
    ({"orig_code": "ZZZZZ"}, "ZZZZZ"),
    ({"dest_code": "atlantis"}, "atlantis"),
    ({"orig_code": "' OR 1=1 --"}, "orig_code"),
    ({"dest_code": "EETLL'; DROP TABLE prices; --"}, "dest_code"),
    ({"orig_code": "CNGGZ\x00"}, "orig_code"),
    ({"orig_code": "%00"}, "orig_code"),
    ({"orig_code": "A" * 65}, "orig_code"),
    ({"orig_code": "Ä" * 5}, "orig_code"),
    ({"date_from": "9" * 5000}, "date_from"),
    ({"date_from": "0000-01-01"}, "date_from"),
]


@pytest.mark.parametrize(("override", "needle"), BAD_QUERIES)
def test_bad_input_answers_400_json(client, admin, override, needle):
    before = rows(admin, "SELECT count(*) FROM prices")[0][0]
    args = {
        "date_from": "2016-01-01",
        "date_to": "2016-01-31",
        "orig_code": "CNGGZ",
        "dest_code": "EETLL",
    }
    args.update(override)
    args = {k: v for k, v in args.items() if v is not None}
    response = client.get("/rates", query_string=args)
    assert response.status_code == 400, response.get_data(as_text=True)
    body = response.get_json()
    assert needle in json.dumps(body, ensure_ascii=False)
    assert rows(admin, "SELECT count(*) FROM prices")[0][0] == before


@pytest.mark.parametrize(
    "path",
    [
        "/rates?date_from=%00&date_to=%ff&orig_code=%27&dest_code=%22",
        "/rates?date_from=2016-01-01&date_to=2016-01-31&orig_code[]=x&dest_code=y",
        "/rates?" + "a=b&" * 2000,
        "/rates?date_from=2016-01-01&date_from=2016-01-02&date_to=2016-01-31"
        "&orig_code=CNGGZ&dest_code=EETLL&orig_code=x",
        "/rates?date_from=-2016-01-01&date_to=+2016-01-31&orig_code=CNGGZ&dest_code=EETLL",
    ],
)
def test_nasty_queries_never_500(client, path):
    response = client.get(path)
    assert response.status_code < 500
    assert response.is_json


def test_range_limit_is_configurable(settings):
    app = create_app(Settings(**{**vars(settings), "max_range_days": 7}))
    client = app.test_client()
    assert (
        get_rates(client, "CNGGZ", "EETLL", date(2016, 1, 1), date(2016, 1, 7)).status_code == 200
    )
    response = get_rates(client, "CNGGZ", "EETLL", date(2016, 1, 1), date(2016, 1, 8))
    assert response.status_code == 400
    assert response.get_json()["max_range_days"] == 7
    app.extensions["stackyard.rates.db"].close()


def test_unknown_route_and_method_answer_json(client):
    response = client.get("/nowhere")
    assert response.status_code == 404 and "error" in response.get_json()
    response = client.post("/rates")
    assert response.status_code == 405 and "error" in response.get_json()
    assert "GET" in response.headers["Allow"]
    response = client.get("/prices")
    assert response.status_code == 405 and response.is_json


def test_health_ok(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_health_503_when_database_unreachable():
    app = create_app(Settings(db_host="127.0.0.1", db_port=free_port(), db_connect_timeout=1))
    client = app.test_client()
    response = client.get("/health")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "error" and body["database"] != "ok"
    rates = client.get("/rates?date_from=2016-01-01&date_to=2016-01-02&orig_code=A&dest_code=B")
    assert rates.status_code == 503 and rates.is_json


def test_a_query_over_the_statement_timeout_answers_503(settings):
    app = create_app(dataclasses.replace(settings, db_statement_timeout_ms=1))
    response = app.test_client().get(
        "/rates?date_from=2016-01-01&date_to=2016-01-31"
        "&orig_code=china_main&dest_code=north_europe_main"  # ~10 ms in PostgreSQL
    )
    app.extensions["stackyard.rates.db"].close()
    assert response.status_code == 503
    assert response.get_json() == {
        "error": "the database did not answer in time",
        "statement_timeout_ms": 1,
    }


def test_health_does_not_leak_password(cluster):
    app = create_app(
        Settings(db_port=cluster.port, db_user="rates_api", db_password="wrong-secret-xyz")
    )
    response = app.test_client().get("/health")
    assert response.status_code == 503
    assert "wrong-secret-xyz" not in response.get_data(as_text=True)


# ---- POST /prices ----------------------------------------------------------------------


def count(admin):
    return rows(admin, "SELECT count(*) FROM prices")[0][0]


def batch(n, start, orig="CNGGZ", dest="EETLL"):
    return [
        {
            "orig_code": orig,
            "dest_code": dest,
            "day": (start + timedelta(days=i % 365)).isoformat(),
            "price": 1000 + i % 500,
        }
        for i in range(n)
    ]


def post_json(client, payload):
    return client.post("/prices", data=json.dumps(payload), content_type="application/json")


def as_csv(items):
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=["orig_code", "dest_code", "day", "price"])
    writer.writeheader()
    writer.writerows(items)
    return buf.getvalue()


def test_json_batch_lands_in_full(client, admin):
    before = count(admin)
    items = batch(5000, date(2040, 1, 1))
    response = post_json(client, items)
    assert response.status_code == 201, response.get_json()
    assert response.get_json() == {"inserted": 5000}
    assert count(admin) == before + 5000
    stored = rows(
        admin,
        "SELECT sum(price), count(*) FROM prices WHERE day >= '2040-01-01' AND day < '2041-01-01'",
    )
    assert stored == [(sum(i["price"] for i in items), 5000)]


def test_csv_batch_lands(client, admin):
    before = count(admin)
    response = client.post(
        "/prices",
        data=as_csv(batch(300, date(2041, 1, 1), "CNSHA")),
        content_type="text/csv; charset=utf-8",
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json() == {"inserted": 300}
    assert count(admin) == before + 300


def test_batch_lands_and_shows_up_in_rates(client, admin):
    items = batch(3, date(2042, 6, 1))
    for item in items:
        item["day"] = "2042-06-01"
    items[0]["price"], items[1]["price"], items[2]["price"] = 10, 20, 33
    assert post_json(client, items).status_code == 201
    rates = get_rates(client, "CNGGZ", "EETLL", date(2042, 6, 1), date(2042, 6, 1)).get_json()
    assert rates["rates"] == [{"day": "2042-06-01", "price": 21.0, "count": 3}]


def test_one_unknown_port_writes_nothing(client, admin):
    before = count(admin)
    items = batch(1000, date(2031, 1, 1))
    items[500]["dest_code"] = "ZZZZZ"
    response = post_json(client, items)
    assert response.status_code == 400
    body = response.get_json()
    assert body["bad_rows"][0]["row"] == 501  # 1-based
    assert "ZZZZZ" in body["bad_rows"][0]["errors"][0]
    assert body["bad_row_count"] == 1
    assert count(admin) == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("price", 1.5),
        ("price", "abc"),
        ("price", -1),
        ("price", None),
        ("price", True),
        ("price", 2**31),
        ("day", "2031-02-30"),
        ("day", "01/02/2031"),
        ("day", 20310101),
        ("orig_code", None),
        ("orig_code", "' OR 1=1 --"),
        ("dest_code", ["EETLL"]),
        ("dest_code", {"a": 1}),
    ],
)
def test_one_bad_row_writes_nothing(client, admin, field, value):
    before = count(admin)
    items = batch(50, date(2031, 1, 1))
    items[9][field] = value
    response = post_json(client, items)
    assert response.status_code == 400
    body = response.get_json()
    assert [b["row"] for b in body["bad_rows"]] == [10]
    assert field in " ".join(body["bad_rows"][0]["errors"])
    assert count(admin) == before


def test_bad_csv_rows_are_numbered_from_the_first_data_row(client, admin):
    before = count(admin)
    text = as_csv(batch(20, date(2031, 1, 1)))
    lines = text.splitlines()
    lines[3] = "CNGGZ,EETLL,2031-01-03,1.5"  # data row 3
    lines[7] = "CNGGZ,EETLL,2031-01-07"  # data row 7: a field missing
    response = client.post("/prices", data="\n".join(lines) + "\n", content_type="text/csv")
    assert response.status_code == 400
    assert [b["row"] for b in response.get_json()["bad_rows"]] == [3, 7]
    assert count(admin) == before


def test_many_bad_rows_are_capped_but_counted(client, admin):
    items = batch(500, date(2031, 1, 1))
    for item in items:
        item["price"] = "x"
    body = post_json(client, items).get_json()
    assert len(body["bad_rows"]) == 100 and body["bad_row_count"] == 500


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("[]", "application/json"),
        ("", "application/json"),
        ("{not json", "application/json"),
        ('{"orig_code": "CNGGZ"}', "application/json"),
        ("[1, 2]", "application/json"),
        ("", "text/csv"),
        ("orig_code,dest_code,day,price\n", "text/csv"),
        ("orig,dest,day,price\nCNGGZ,EETLL,2031-01-01,5\n", "text/csv"),
        (b"\xff\xfe\x00", "text/csv"),
    ],
)
def test_malformed_batches_answer_400(client, admin, data, content_type):
    before = count(admin)
    response = client.post("/prices", data=data, content_type=content_type)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert "error" in response.get_json()
    assert count(admin) == before


def test_unsupported_content_type_is_415(client):
    response = client.post("/prices", data="<prices/>", content_type="application/xml")
    assert response.status_code == 415
    assert "error" in response.get_json()
    assert client.post("/prices", data="x").status_code == 415


def test_oversize_body_and_too_many_rows_are_413(settings, admin):
    before = count(admin)
    app = create_app(Settings(**{**vars(settings), "max_body_bytes": 10_000, "max_batch_rows": 10}))
    client = app.test_client()
    response = post_json(client, batch(200, date(2031, 1, 1)))
    assert response.status_code == 413 and "error" in response.get_json()
    response = post_json(client, batch(11, date(2031, 1, 1)))
    assert response.status_code == 413 and response.get_json()["max_batch_rows"] == 10
    response = client.post(
        "/prices", data=as_csv(batch(11, date(2031, 1, 1))), content_type="text/csv"
    )
    assert response.status_code == 413
    assert post_json(client, batch(10, date(2043, 1, 1))).status_code == 201
    assert count(admin) == before + 10
    app.extensions["stackyard.rates.db"].close()


def test_large_batch(client, admin):
    before = count(admin)
    response = post_json(client, batch(50_000, date(2032, 1, 1)))
    assert response.status_code == 201
    assert count(admin) == before + 50_000
