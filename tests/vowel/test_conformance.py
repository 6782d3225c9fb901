"""One suite, every storing interface (SQLite, Redis+MariaDB on real servers): same answers."""

from __future__ import annotations

import threading
import uuid as uuidlib
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stackyard.vowel.interface import DataInterface, NullInterface

STORED = ("sqlite", "redis-mariadb")  # the interfaces that store and answer

DAY = date(2026, 3, 14)


def at(day: date, hh: int = 12, mm: int = 0, ss: int = 0, us: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, us, tzinfo=UTC)


def new_uuid() -> str:
    return str(uuidlib.uuid4())


def test_an_unknown_symbol_has_zero_counts_and_no_times(interface):
    assert interface.symbol_aggregates("q") == {
        "symbol": "q", "count": 0, "earliest": None, "latest": None, "followups": 0,
    }  # fmt: skip


def test_an_empty_range_is_an_empty_list(interface):
    interface.log_initial(new_uuid(), "a", True, at(DAY))
    assert interface.range_aggregates(DAY + timedelta(days=1), DAY + timedelta(days=30)) == []


def test_symbol_counts_times_and_followups(interface):
    first, second = new_uuid(), new_uuid()
    interface.log_initial(first, "e", True, at(DAY, 9, 0, 0, 1))
    interface.log_initial(second, "e", False, at(DAY, 18, 30))
    interface.log_initial(new_uuid(), "b", False, at(DAY, 10))
    interface.log_followup(first, at(DAY, 9, 1))
    assert interface.symbol_aggregates("e") == {
        "symbol": "e",
        "count": 2,
        "earliest": "2026-03-14T09:00:00.000001Z",
        "latest": "2026-03-14T18:30:00.000000Z",
        "followups": 1,
    }
    assert interface.symbol_aggregates("b")["followups"] == 0


def test_a_followup_for_an_unknown_uuid_counts_for_nothing(interface):
    interface.log_initial(new_uuid(), "a", True, at(DAY))
    interface.log_followup(new_uuid(), at(DAY))
    assert interface.symbol_aggregates("a")["followups"] == 0
    assert [row["followups"] for row in interface.range_aggregates(DAY, DAY)] == [0]


def test_a_followup_before_its_request_counts_for_nothing(interface):
    ident = new_uuid()
    interface.log_followup(ident, at(DAY, 8))
    interface.log_initial(ident, "a", True, at(DAY, 9))
    assert interface.symbol_aggregates("a")["followups"] == 0


def test_repeated_followups_each_count(interface):
    ident = new_uuid()
    interface.log_initial(ident, "k", False, at(DAY))
    for minute in range(3):
        interface.log_followup(ident, at(DAY, 12, minute + 1))
    assert interface.symbol_aggregates("k")["followups"] == 3
    assert interface.range_aggregates(DAY, DAY)[0]["followups"] == 3


def test_a_followup_counts_for_the_latest_request_of_its_uuid(interface):
    ident = new_uuid()
    interface.log_initial(ident, "a", True, at(DAY, 10))
    interface.log_initial(ident, "z", False, at(DAY, 11))
    interface.log_followup(ident, at(DAY, 12))
    assert interface.symbol_aggregates("a")["followups"] == 0
    assert interface.symbol_aggregates("z")["followups"] == 1


def test_ranges_are_whole_utc_days_across_midnight(interface):
    before, after = new_uuid(), new_uuid()
    next_day = DAY + timedelta(days=1)
    interface.log_initial(before, "o", True, at(DAY, 23, 59, 59, 999_999))
    interface.log_initial(after, "o", True, at(next_day, 0, 0, 0, 0))
    # the follow-up arrives after midnight but counts on its request's day
    interface.log_followup(before, at(next_day, 0, 0, 1))
    assert interface.range_aggregates(DAY, DAY) == [
        {"symbol": "o", "count": 1, "earliest": "2026-03-14T23:59:59.999999Z",
         "latest": "2026-03-14T23:59:59.999999Z", "followups": 1},
    ]  # fmt: skip
    assert interface.range_aggregates(next_day, next_day) == [
        {"symbol": "o", "count": 1, "earliest": "2026-03-15T00:00:00.000000Z",
         "latest": "2026-03-15T00:00:00.000000Z", "followups": 0},
    ]  # fmt: skip
    both = interface.range_aggregates(DAY, next_day)
    assert [(r["count"], r["followups"], r["earliest"][:10], r["latest"][:10]) for r in both] == [
        (2, 1, "2026-03-14", "2026-03-15")
    ]


def test_range_lists_each_symbol_once_in_order(interface):
    for symbol in "kzak":
        interface.log_initial(new_uuid(), symbol, False, at(DAY))
    assert [r["symbol"] for r in interface.range_aggregates(DAY, DAY)] == ["a", "k", "z"]
    assert [r["count"] for r in interface.range_aggregates(DAY, DAY)] == [1, 2, 1]


@pytest.mark.parametrize("kind", STORED)
def test_concurrent_writers_lose_nothing(make_interface, kind):
    writers, per_writer = 6, 40
    interfaces = [make_interface(kind) for _ in range(writers)]  # one connection each

    def write(interface: DataInterface, n: int) -> None:
        for i in range(per_writer):
            ident = new_uuid()
            interface.log_initial(ident, "abc"[i % 3], True, at(DAY, n, i))
            if i % 2 == 0:
                interface.log_followup(ident, at(DAY, n, i, 1))

    threads = [threading.Thread(target=write, args=(it, n)) for n, it in enumerate(interfaces)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = interfaces[0].range_aggregates(DAY, DAY)
    assert sum(r["count"] for r in rows) == writers * per_writer
    assert sum(r["followups"] for r in rows) == writers * per_writer // 2
    expected = [writers * len(range(k, per_writer, 3)) for k in range(3)]
    assert [interfaces[0].symbol_aggregates(s)["count"] for s in "abc"] == expected


def test_the_null_interface_keeps_the_contract_and_stores_nothing():
    null = NullInterface()
    assert isinstance(null, DataInterface)
    null.log_initial(new_uuid(), "a", True, at(DAY))
    null.log_followup(new_uuid())
    assert null.symbol_aggregates("a") == {
        "symbol": "a", "count": 0, "earliest": None, "latest": None, "followups": 0,
    }  # fmt: skip
    assert null.range_aggregates(DAY, DAY) == []


# a random history: (symbol, seconds after DAY 00:00, follow-ups, or None: a stray follow-up)
events = st.lists(
    st.tuples(
        st.sampled_from("aeiykz"),
        st.integers(min_value=0, max_value=3 * 86_400 - 1),
        st.integers(min_value=0, max_value=2),
        st.booleans(),
    ),
    max_size=25,
)


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(history=events, lo=st.integers(0, 3), span=st.integers(0, 3))
def test_every_interface_answers_identically(make_interface, history, lo, span):
    stored = [make_interface(kind, shared=False) for kind in STORED]
    start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
    for symbol, offset, followups, stray in history:
        ident = new_uuid()
        when = start + timedelta(seconds=offset)
        for interface in stored:
            interface.log_initial(ident, symbol, True, when)
            for n in range(followups):
                interface.log_followup(ident, when + timedelta(seconds=n + 1))
            if stray:
                interface.log_followup(new_uuid(), when)
    low = DAY + timedelta(days=lo - 1)
    answers = [
        ([i.symbol_aggregates(s) for s in "aeiykz"], i.range_aggregates(low, low + timedelta(span)))
        for i in stored
    ]
    assert answers[0] == answers[1]
