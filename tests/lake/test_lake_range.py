"""Any valid --from/--to gives exactly its hours' prefixes; a bad one exits 2 with one line."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lake_support import run_cli

from stackyard.pipeline.lakerange import MAX_DAYS, LakeRange, RangeError, ip_segment

# no deadline: a loaded 2-core machine runs the whole suite at once
PROPERTY = settings(max_examples=100, deadline=None)
HOURS = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31, 23))


def bound(moment: datetime, whole_day: bool) -> str:
    return f"{moment:%Y-%m-%d}" if whole_day else f"{moment:%Y-%m-%dT%H}"


def covered_hours(prefixes: list[str]) -> list[datetime]:
    """The hours each prefix stands for: `date/` is 24 hours, `date/HH/` one."""
    hours: list[datetime] = []
    for prefix in prefixes:
        parts = prefix.rstrip("/").split("/")
        day = datetime.strptime(parts[0], "%Y-%m-%d")
        if len(parts) == 1:
            hours += [day + timedelta(hours=h) for h in range(24)]
        else:
            hours.append(day + timedelta(hours=int(parts[1])))
    return hours


@PROPERTY
@given(
    start=HOURS,
    span=st.integers(min_value=0, max_value=24 * 40),
    start_day=st.booleans(),
    stop_day=st.booleans(),
)
def test_prefixes_cover_exactly_the_hours_of_any_valid_range(start, span, start_day, stop_day):
    stop = start + timedelta(hours=span)
    lake_range = LakeRange.parse(bound(start, start_day), bound(stop, stop_day))
    first = start.replace(minute=0, second=0, microsecond=0, hour=0 if start_day else start.hour)
    last = stop.replace(minute=0, second=0, microsecond=0, hour=23 if stop_day else stop.hour)
    expected = [
        first + timedelta(hours=h) for h in range(int((last - first) / timedelta(hours=1)) + 1)
    ]
    prefixes = lake_range.prefixes()
    assert covered_hours(prefixes) == expected  # in order, none twice, none missing
    assert prefixes == sorted(prefixes)
    whole_days = {p for p in prefixes if p.count("/") == 1}
    assert len(prefixes) <= len(whole_days) + 46  # partial days only at both ends


@PROPERTY
@given(start=HOURS, span=st.integers(min_value=0, max_value=72), ip=st.ip_addresses())
def test_ip_prefixes_sit_under_each_hour_in_the_lake_spelling(start, span, ip):
    stop = start + timedelta(hours=span)
    lake_range = LakeRange.parse(bound(start, False), bound(stop, False), [str(ip)])
    segment = ip.compressed.replace(":", "-")
    assert lake_range.prefixes() == [f"{h:%Y-%m-%d/%H}/{segment}/" for h in lake_range.hours()]
    assert ip_segment(segment) == segment  # the lake spelling is accepted as well


@PROPERTY
@given(start=HOURS, back=st.integers(min_value=1, max_value=24 * 400))
def test_a_stop_before_the_start_exits_2(start, back):
    stop = start - timedelta(hours=back)
    code, out, err = run_cli("lake", "ls", "--prefixes", "--from", bound(start, False),
                             "--to", bound(stop, False))  # fmt: skip
    assert (code, out) == (2, "") and "is before --from" in err and err.count("\n") == 1


BAD = st.one_of(
    st.text(max_size=20).filter(lambda s: not s.strip()[:1].isdigit()),
    st.just("-x"),
    st.dates().map(lambda d: f"{d:%d/%m/%Y}"),
    st.integers(min_value=24, max_value=99).map(lambda h: f"2026-11-23T{h}"),
    st.integers(min_value=13, max_value=99).map(lambda m: f"2026-{m}-01"),
    st.just("2026-02-30"),
    st.just("2026-11-23T14:00"),
    st.just("\u0662\u0660\u0662\u0666-11-23"),  # digits, but not ASCII ones
)


@settings(max_examples=60, deadline=None)
@given(text=BAD, which=st.sampled_from(["--from", "--to"]))
def test_a_malformed_bound_exits_2_naming_the_option(text, which):
    other = "--to" if which == "--from" else "--from"
    code, out, err = run_cli("lake", "ls", "--prefixes", f"{which}={text}", other, "2026-11-23")
    assert (code, out) == (2, ""), err
    assert err.startswith(f"stackyard lake: {which} ") and err.count("\n") == 1


def test_a_range_longer_than_the_limit_is_refused() -> None:
    start = date(2025, 1, 1)
    LakeRange.parse(f"{start}", f"{start + timedelta(days=MAX_DAYS - 1)}")
    with pytest.raises(RangeError, match="spans"):
        LakeRange.parse(f"{start}", f"{start + timedelta(days=MAX_DAYS)}")


def test_a_bad_ip_is_refused() -> None:
    code, _, err = run_cli("lake", "ls", "--prefixes", "--from", "2026-11-23", "--ip", "10.0.0")
    assert code == 2 and "not an IPv4 or IPv6 address" in err


def test_to_defaults_to_the_from_day_or_hour() -> None:
    assert LakeRange.parse("2026-11-23").prefixes() == ["2026-11-23/"]
    assert LakeRange.parse("2026-11-23T07").prefixes() == ["2026-11-23/07/"]
