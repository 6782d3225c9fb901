"""The HTTP API over the SQLite reference (the routes do not depend on the interface)."""

from __future__ import annotations

import json
import string
import uuid as uuidlib
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stackyard.vowel import model
from stackyard.vowel.app import create_app
from stackyard.vowel.config import Settings
from stackyard.vowel.interface import DataInterface, DataUnavailable, NullInterface
from stackyard.vowel.sqlite_interface import SQLiteInterface

ANY = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
UUID = "6f1c2c1e-0b5e-4e8a-9d55-3f6f0e2b7c1a"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    interface = SQLiteInterface(str(tmp_path_factory.mktemp("vowel") / "api.sqlite3"))
    yield interface
    interface.close()


@pytest.fixture(scope="module")
def client(store):
    return create_app(Settings(backend="sqlite", log_level="WARNING"), store).test_client()


def events(store: SQLiteInterface) -> int:
    return store._execute("SELECT COUNT(*) FROM events", ())[0][0]


def is_json_error(response) -> bool:
    return response.is_json and isinstance(response.get_json().get("error"), str)


def test_initial_answers_the_original_plain_text(client, store):
    before = events(store)
    response = client.post(f"/initial?uuid={UUID}&symbol=e")
    assert response.status_code == 200
    assert response.data in (b"True", b"False")
    assert response.content_type == "text/html; charset=utf-8"  # as the original Flask app
    assert events(store) == before + 1


def test_followup_answers_hooray(client, store):
    before = events(store)
    response = client.post(f"/followup?uuid={UUID}")
    assert (response.status_code, response.data) == (200, b"hooray")
    assert events(store) == before + 1


def test_initial_takes_any_case_of_a_uuid4_followup_any_uuid(client, store):
    before = events(store)
    assert client.post(f"/initial?uuid={UUID.upper()}&symbol=e").status_code == 200
    version1 = "6f1c2c1e-0b5e-1e8a-9d55-3f6f0e2b7c1a"
    assert client.post(f"/initial?uuid={version1}&symbol=e").status_code == 400
    assert client.post(f"/followup?uuid={version1}").status_code == 200  # counts for nothing
    assert events(store) == before + 2


def test_the_model_is_mostly_right(client):
    answers = [client.post(f"/initial?uuid={UUID}&symbol=a").data for _ in range(200)]
    assert 140 < answers.count(b"True") < 200  # flipped with probability 0.1


def test_dashboards_answer_json(client):
    ident = str(uuidlib.uuid4())
    client.post(f"/initial?uuid={ident}&symbol=x")
    symbol = client.get("/dashboard/symbol/x").get_json()
    assert symbol["symbol"] == "x" and symbol["count"] >= 1
    today = datetime.now(UTC).date().isoformat()
    rows = client.get(f"/dashboard/range/{today}/{today}").get_json()
    assert "x" in [row["symbol"] for row in rows]


@pytest.mark.parametrize(
    "method,path",
    [
        ("POST", "/initial?symbol=a"),
        ("POST", "/initial?uuid=nope&symbol=a"),
        ("POST", "/initial?uuid=6f1c2c1e-0b5e-1e8a-9d55-3f6f0e2b7c1a&symbol=a"),  # version 1
        ("POST", "/initial?uuid=6f1c2c1e-0b5e-4e8a-cd55-3f6f0e2b7c1a&symbol=a"),  # variant
        ("POST", "/initial?uuid=00000000-0000-0000-0000-000000000000&symbol=a"),
        ("POST", f"/initial?uuid={{{UUID}}}&symbol=a"),
        ("POST", f"/initial?uuid={UUID}&symbol=A"),
        ("POST", f"/initial?uuid={UUID}&symbol=ab"),
        ("POST", f"/initial?uuid={UUID}&symbol=a&symbol=b"),
        ("POST", f"/initial?uuid={UUID}&symbol=a&extra=1"),
        ("POST", "/followup"),
        ("POST", f"/followup?uuid={UUID}&uuid={UUID}"),
        ("GET", "/dashboard/symbol/%C3%A9"),
        ("GET", "/dashboard/symbol/ee"),
        ("GET", "/dashboard/range/2026-02-30/2026-03-01"),
        ("GET", "/dashboard/range/2026-03-02/2026-03-01"),
        ("GET", "/dashboard/range/20260301/2026-03-01"),
        ("GET", "/dashboard/range/0001-01-01/9999-12-31"),
    ],
)
def test_bad_input_is_a_400_json_error_and_stores_nothing(client, store, method, path):
    before = events(store)
    response = client.open(path, method=method)
    assert response.status_code == 400 and is_json_error(response)
    assert events(store) == before


@pytest.mark.parametrize(
    "body,headers",
    [
        (b"x" * 2_000_000, {}),
        (("[" * 100_000 + "]" * 100_000).encode(), {"Content-Type": "application/json"}),
        (json.dumps({"uuid": UUID, "symbol": "a"}).encode(), {"Content-Type": "application/json"}),
        (b"5\r\nhello\r\n0\r\n\r\n", {"Transfer-Encoding": "chunked"}),
    ],
)
@pytest.mark.parametrize("path", [f"/initial?uuid={UUID}&symbol=a", f"/followup?uuid={UUID}"])
def test_a_body_is_refused_with_json_and_stores_nothing(client, store, path, body, headers):
    before = events(store)
    response = client.post(path, data=body, headers=headers)
    assert response.status_code == 413 and is_json_error(response)
    assert events(store) == before


def test_unknown_routes_and_methods_answer_json(client):
    assert client.get("/nope").status_code == 404 and is_json_error(client.get("/nope"))
    response = client.get("/initial")
    assert response.status_code == 405 and is_json_error(response)


params = st.dictionaries(
    st.sampled_from(["uuid", "symbol", "x", "UUID"]) | st.text(max_size=5),
    st.lists(st.text(max_size=40) | st.sampled_from([UUID, "a", "z", "y"]), min_size=1, max_size=2),
    max_size=3,
)


def query(values: dict[str, list[str]]) -> list[tuple[str, str]]:
    return [(k, v) for k, vs in values.items() for v in vs]


@ANY
@given(values=params, endpoint=st.sampled_from(["/initial", "/followup"]))
def test_client_routes_answer_200_or_json_4xx_and_store_only_on_200(
    client, store, values, endpoint
):
    before = events(store)
    response = client.post(endpoint, query_string=query(values))
    wanted = ["uuid", "symbol"] if endpoint == "/initial" else ["uuid"]
    valid = sorted(values) == sorted(wanted) and all(len(values[k]) == 1 for k in wanted)
    valid = valid and values["uuid"][0].lower() == UUID
    if endpoint == "/initial":
        valid = (
            valid
            and values["symbol"][0] in string.ascii_lowercase
            and len(values["symbol"][0]) == 1
        )
    assert response.status_code == (200 if valid else 400), response.data
    assert events(store) == before + (1 if valid else 0)
    if not valid:
        assert is_json_error(response)


@ANY
@given(symbol=st.text(min_size=1, max_size=8))
def test_symbol_dashboard_answers_200_only_for_one_letter(client, symbol):
    response = client.get("/dashboard/symbol/" + symbol.replace("?", "%3F").replace("#", "%23"))
    assert response.status_code != 500 and response.is_json
    ok = len(symbol) == 1 and symbol in string.ascii_lowercase
    assert (response.status_code == 200) == ok


dates = st.dates().map(lambda d: d.isoformat()) | st.text(max_size=12)


@ANY
@given(lower=dates, upper=dates)
def test_range_dashboard_answers_200_or_400_json(client, lower, upper):
    path = f"/dashboard/range/{lower}/{upper}".replace("?", "%3F").replace("#", "%23")
    response = client.get(path)
    assert response.status_code in (200, 400, 404) and response.is_json, response.data


class Down(NullInterface):
    def log_initial(self, *args, **kwargs) -> None:
        raise DataUnavailable("mariadb: down for the test")

    def symbol_aggregates(self, symbol: str):
        raise DataUnavailable("redis: down for the test")

    def health(self) -> dict[str, str]:
        return {"mariadb": "down for the test"}


def test_an_unavailable_store_answers_503_with_retry_after():
    client = create_app(Settings(backend="null", log_level="CRITICAL"), Down()).test_client()
    for response in (
        client.post(f"/initial?uuid={UUID}&symbol=a"),
        client.get("/dashboard/symbol/a"),
    ):
        assert response.status_code == 503 and is_json_error(response)
        assert response.headers["Retry-After"] == "1"
    assert client.get("/health").status_code == 503


def test_the_backend_is_configuration(tmp_path):
    app = create_app(Settings(backend="sqlite", sqlite_path=str(tmp_path / "x.sqlite3")))
    assert isinstance(app.extensions["stackyard.vowel.data"], SQLiteInterface)
    app = create_app(Settings(backend="null"))
    assert isinstance(app.extensions["stackyard.vowel.data"], DataInterface)


@ANY
@given(at=st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9999, 12, 31)))
def test_timestamps_from_redis_print_as_the_sqlite_reference_prints_them(at):
    utc = at.replace(tzinfo=UTC)
    assert model.iso_micros(model.micros(utc)) == model.iso(utc)
    assert len(model.iso(utc)) == len("2026-11-23T16:23:23.123456Z")
