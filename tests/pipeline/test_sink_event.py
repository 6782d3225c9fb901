"""Decoding events for the sinks: anything is an event or poison, and the lake's IP spelling."""

from __future__ import annotations

import ipaddress
import json
import re
from datetime import UTC, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pipeline_support import make_event

from stackyard.pipeline.event import Poison, decode, ip_segment, json_line, parse_ip, row

# no deadline: the machine is shared with builds; bounded examples keep the time down
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ips = st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6))
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def outcome(value: bytes | None):
    try:
        return decode(value)
    except Poison as poison:
        assert poison.reason
        return poison


@PROPERTY
@given(st.binary(max_size=400))
def test_any_bytes_are_an_event_or_poison(raw):
    outcome(raw)


@PROPERTY
@given(json_values)
def test_any_json_document_is_an_event_or_poison(doc):
    assert isinstance(outcome(json.dumps(doc).encode()), Poison)


@PROPERTY
@given(
    field=st.sampled_from(["schema", "id", "time", "app", "client_ip", "method", "path",
                           "route", "response", "duration_ms", "query"]),
    value=json_values,
)  # fmt: skip
def test_a_wrong_field_is_poison_naming_the_field_or_still_a_valid_event(field, value):
    doc = {**make_event(1), field: value}
    result = outcome(json.dumps(doc).encode())
    if isinstance(result, Poison):
        assert result.reason.split(":")[0].split(".")[0] in (field, "schema")
    else:
        assert result.doc[field] == value


@PROPERTY
@given(ip=ips)
def test_the_ip_spelling_is_path_safe_and_reversible(ip):
    segment = ip_segment(ip)
    assert re.fullmatch(r"[0-9a-f.\-]+", segment)
    assert ipaddress.ip_address(segment.replace("-", ":")) == ip
    if ip.version == 4:
        assert segment == str(ip)


def test_ipv6_is_compressed_and_a_zone_is_dropped():
    assert ip_segment(parse_ip("2001:0DB8:0:0::1")) == "2001-db8--1"
    assert ip_segment(parse_ip("fe80::1%eth0")) == "fe80--1"
    assert ip_segment(parse_ip("::ffff:192.0.2.1")) == "--ffff-c000-201"


@PROPERTY
@given(
    ip=ips,
    when=st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-7, minutes=-30))])),
    path=st.text(max_size=50),
    status=st.integers(100, 599),
)
def test_a_valid_event_lands_at_its_utc_hour_and_ip_and_stores_as_sql_text(ip, when, path, status):
    doc = {**make_event(3, ip=str(ip), status=status), "time": when.isoformat(), "path": path}
    raw = json.dumps(doc).encode()
    event = decode(raw)
    utc = when.astimezone(UTC)
    assert event.prefix == f"{utc:%Y-%m-%d}/{utc:%H}/{ip_segment(ip)}"
    for value in row(event):
        if isinstance(value, str):
            assert "\x00" not in value
            value.encode("utf-8")  # no lone surrogates
    line = json_line(raw, event)
    assert line.count(b"\n") == 1 and json.loads(line) == doc


def test_an_event_spread_over_lines_is_written_as_one_line():
    doc = make_event(4)
    raw = json.dumps(doc, indent=2).encode()
    line = json_line(raw, decode(raw))
    assert line.count(b"\n") == 1 and json.loads(line) == doc
