"""Hostile events for the sinks' decoder: each is an event stored as is or poison with a reason."""

from __future__ import annotations

import json

import pytest
from pipeline_support import make_event

from stackyard.pipeline.event import Poison, decode, json_line, row


def encoded(**changes) -> bytes:
    event = make_event(1)
    event.update(changes)
    return json.dumps(event).encode()


@pytest.mark.parametrize(
    "when",
    [
        "0001-01-01T00:00:00+14:00",  # before year 1 in UTC
        "9999-12-31T23:59:59-14:00",  # after year 9999 in UTC
    ],
)
def test_time_out_of_range_in_utc_is_poison_not_a_crash(when: str) -> None:
    with pytest.raises(Poison, match="time"):
        decode(encoded(time=when))


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", "1e999", "-1e999"])
@pytest.mark.parametrize("where", ["query", "extra", "request"])
def test_non_finite_numbers_anywhere_are_poison(constant: str, where: str) -> None:
    # not JSON (RFC 8259); PostgreSQL's jsonb and the lake's readers refuse them
    value = encoded(**{where: "__X__"}).replace(b'"__X__"', f"[[{constant}]]".encode())
    with pytest.raises(Poison, match="not JSON"):
        decode(value)


@pytest.mark.parametrize(
    "ip", ["../../x", "%2e%2e", "10.0.0.1/../x", "1" * 10000, "fe80::1%../../x", "", " 10.0.0.1"]
)
def test_hostile_client_ip_is_poison_with_a_short_reason(ip: str) -> None:
    with pytest.raises(Poison) as caught:
        decode(encoded(client_ip=ip))
    assert caught.value.reason.startswith("client_ip") and len(caught.value.reason) < 200


@pytest.mark.parametrize(
    ("ip", "segment"),
    [
        ("fe80::1%eth0", "fe80--1"),
        ("::ffff:192.0.2.1", "--ffff-c000-201"),
        ("10.0.0.1", "10.0.0.1"),
    ],
)
def test_prefix_is_date_hour_and_a_safe_ip_segment(ip: str, segment: str) -> None:
    event = decode(encoded(client_ip=ip, time="2026-11-23T14:05:00+01:00"))
    assert event.prefix == f"2026-11-23/13/{segment}"


def test_nul_and_lone_surrogates_become_text_postgresql_stores() -> None:
    value = encoded(path="/a\u0000b\ud800", query=[["k\u0000", "v\udfff"]])
    event = decode(value)
    values = row(event)
    assert all("\x00" not in v and "\ud800" not in v for v in values if isinstance(v, str))
    json.loads(json_line(value, event))  # one line, valid JSON


def test_health_answers_while_many_slow_clients_hold_connections() -> None:
    import asyncio
    import time

    from stackyard.pipeline import health
    from stackyard.testing.pgcluster import free_port

    async def scenario() -> tuple[bytes, float]:
        port = free_port()
        server = await health.serve("127.0.0.1", port, lambda: (True, {"ok": True}))
        idle = []
        try:
            for _ in range(200):  # slowloris: a request line, then nothing
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(b"GET /health HTTP/1.1\r\nX-Slow: ")
                idle.append(writer)
            started = time.monotonic()
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /health HTTP/1.1\r\n\r\n")
            answer = await asyncio.wait_for(reader.read(), 5)
            return answer, time.monotonic() - started
        finally:
            for w in idle:
                w.close()
            server.close()

    answer, took = asyncio.run(scenario())
    assert answer.startswith(b"HTTP/1.1 200") and took < 2.0


def test_nul_in_params_is_replaced_not_escaped_for_jsonb() -> None:
    event = decode(encoded(query=[["k\u0000", "\u0000"]]))
    params = row(event)[7]
    assert "\\u0000" not in params and json.loads(params) == [["k\ufffd", "\ufffd"]]
