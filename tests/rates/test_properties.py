"""Property tests over every endpoint: any parameters, headers and bodies answer JSON,
never a 500, and a rejected batch writes nothing (real app, real PostgreSQL)."""

import json
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.integration

PARAMS = ("date_from", "date_to", "orig_code", "dest_code")
SANE = {
    "date_from": "2016-01-01",
    "date_to": "2016-01-31",
    "orig_code": "CNGGZ",
    "dest_code": "EETLL",
}
FIELDS = ("orig_code", "dest_code", "day", "price")
MARKER_DAY = "2048-08-08"  # every generated row that is valid lands on this day

texts = st.text(max_size=20) | st.sampled_from(
    ["", "2016-01-01", "CNGGZ", "china_main", "9" * 50, "2016-02-30", "%00", "\x00"]
)
scalars = st.none() | st.booleans() | st.integers() | st.floats() | texts
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=10,
)
rows = st.fixed_dictionaries(
    {},
    optional={
        "orig_code": st.sampled_from(["CNGGZ", "EETLL", "ZZZZZ", ""]) | json_values,
        "dest_code": st.sampled_from(["EETLL", "CNSHA"]) | json_values,
        "day": st.just(MARKER_DAY) | json_values,
        "price": st.integers(min_value=-5, max_value=2**40) | json_values,
    },
)
quick = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def marker_count(admin):
    with admin.cursor() as cur:
        cur.execute("SELECT count(*) FROM prices WHERE day = %s", (MARKER_DAY,))
        return cur.fetchone()[0]


@pytest.fixture
def clean_marker(admin):
    yield
    with admin.cursor() as cur:
        cur.execute("DELETE FROM prices WHERE day = %s", (MARKER_DAY,))


def assert_json_not_500(response):
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    assert response.is_json and isinstance(response.get_json(), dict)


@quick
@given(
    st.lists(st.tuples(st.sampled_from([*PARAMS, "x", "date_from[]"]), texts), max_size=8),
    st.booleans(),
)
def test_rates_any_parameters(client, pairs, with_sane):
    query = list(SANE.items()) + pairs if with_sane else pairs
    response = client.get("/rates", query_string=query)
    assert_json_not_500(response)
    names = [k for k, _ in query]
    if len(set(names)) != len(names):
        assert response.status_code == 400  # a repeated parameter is never ignored


@quick
@given(st.lists(rows, max_size=6))
def test_json_batches_all_or_nothing(client, admin, clean_marker, batch):
    before = marker_count(admin)
    response = client.post("/prices", data=json.dumps(batch), content_type="application/json")
    assert_json_not_500(response)
    after = marker_count(admin)
    if response.status_code == 201:
        assert after - before == len(batch) == response.get_json()["inserted"]
    else:
        assert response.status_code in (400, 413) and after == before


csv_fields = st.text(alphabet=string.printable + "ä\x00", max_size=12) | st.sampled_from(
    ["CNGGZ", "EETLL", MARKER_DAY, "100", "9" * 5000, "-1", ""]
)


@quick
@given(
    st.lists(st.lists(csv_fields, min_size=0, max_size=5), max_size=6),
    st.sampled_from(
        [",".join(FIELDS), "orig_code,dest_code,day", "", "price,day,dest_code,orig_code"]
    ),
)
def test_csv_batches_all_or_nothing(client, admin, clean_marker, records, header):
    before = marker_count(admin)
    body = header + "\n" + "\n".join(",".join(r) for r in records)
    response = client.post("/prices", data=body.encode(), content_type="text/csv")
    assert_json_not_500(response)
    if response.status_code != 201:
        assert marker_count(admin) == before


@quick
@given(st.binary(max_size=300), st.sampled_from(["application/json", "text/csv", "text/plain", ""]))
def test_any_bytes_any_type(client, admin, clean_marker, body, content_type):
    before = marker_count(admin)
    response = client.post("/prices", data=body, content_type=content_type)
    assert_json_not_500(response)
    assert response.status_code != 201 or marker_count(admin) > before


@quick
@given(
    st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]),
    st.sampled_from(["/rates", "/prices", "/health", "/", "/x", "/prices/1", "//rates"]),
    st.dictionaries(
        st.sampled_from(
            ["Authorization", "Idempotency-Key", "X-Forwarded-For", "X-Real-IP", "Content-Type"]
        ),
        st.text(alphabet=string.printable.strip(), max_size=30),
        max_size=4,
    ),
)
def test_any_method_path_and_headers(client, method, path, headers):
    response = client.open(path, method=method, headers=headers, data=b"[]")
    if method == "OPTIONS" and response.status_code == 200:
        return  # Flask answers OPTIONS itself with an empty body and Allow
    assert_json_not_500(response)
