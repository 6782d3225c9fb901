"""The noisy vowel model and the validation of what clients send."""

from __future__ import annotations

import random
import re
from datetime import UTC, date, datetime, timedelta

from stackyard.web.errors import ApiError

VOWELS = frozenset("aeiou")
NOISE = 0.1
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# a random (version 4, RFC 4122 variant) UUID, what the original client sends
UUID4_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
SYMBOL_RE = re.compile(r"[a-z]")
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


def guess(symbol: str, rng: random.Random | None = None) -> bool:
    """The original model: vowel or not (``y`` a coin flip), flipped with probability 0.1."""
    draw = rng.random if rng is not None else random.random
    is_vowel = draw() < 0.5 if symbol == "y" else symbol in VOWELS
    return (not is_vowel) if draw() < NOISE else is_vowel


def parse_uuid(value: str | None, version4: bool = False) -> str:
    """A canonical UUID (8-4-4-4-12 hex digits, any case), lower-cased; with ``version4``
    only a random UUID (version 4, RFC 4122 variant)."""
    if value is None:
        raise ApiError("missing query parameter 'uuid'")
    lowered = value.lower()
    if not (UUID4_RE if version4 else UUID_RE).fullmatch(lowered):
        kind = "a version 4 UUID" if version4 else "a UUID"
        raise ApiError(f"'uuid' must be {kind} like 6f1c2c1e-0b5e-4e8a-9d55-3f6f0e2b7c1a")
    return lowered


def parse_symbol(value: str | None) -> str:
    if value is None:
        raise ApiError("missing query parameter 'symbol'")
    if not SYMBOL_RE.fullmatch(value):
        raise ApiError("'symbol' must be one letter a-z")
    return value


def parse_date(value: str, name: str) -> date:
    if DATE_RE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ApiError(f"{name!r} must be a date YYYY-MM-DD", value=value[:40])


def parse_range(lower: str, upper: str, max_days: int) -> tuple[date, date]:
    low, high = parse_date(lower, "lower"), parse_date(upper, "upper")
    if low > high:
        raise ApiError("'lower' must not be after 'upper'", lower=lower, upper=upper)
    if (high - low).days + 1 > max_days:
        raise ApiError(f"a range spans at most {max_days} days", max_days=max_days)
    return low, high


def now() -> datetime:
    return datetime.now(UTC)


def days(low: date, high: date) -> list[date]:
    return [low + timedelta(days=n) for n in range((high - low).days + 1)]


def iso(at: datetime) -> str:
    """A fixed-width UTC timestamp that sorts as text: 2026-11-23T16:23:23.123456Z."""
    if at.tzinfo is not UTC:
        at = at.astimezone(UTC)
    return at.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def micros(at: datetime) -> int:
    delta = at - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


_EPOCH_NAIVE = datetime(1970, 1, 1)  # UTC, formatted with a "Z"


def iso_micros(value: int) -> str:
    """``iso(from_micros(value))`` without the time-zone arithmetic (the dashboards' hot path)."""
    return (_EPOCH_NAIVE + timedelta(microseconds=value)).isoformat(timespec="microseconds") + "Z"


def from_micros(value: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=value)
