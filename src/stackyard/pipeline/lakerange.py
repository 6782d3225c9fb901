"""Date/hour ranges of the lake and the object-key prefixes that cover them.

The lake's keys are ``<YYYY-MM-DD>/<HH>/<ip>/<topic>-<partition>-<offset>.jsonl.gz`` (date and
hour of the event's time in UTC; IPv6 addresses compressed, ``:`` spelled ``-``). A range
``--from A --to B`` covers every hour from A's first hour to B's last one, both included: a
date alone means its 24 hours, ``YYYY-MM-DDTHH`` that one hour. ``prefixes()`` turns it into
the fewest key prefixes that cover exactly those hours (a whole day is one ``date/`` prefix,
a part of a day one ``date/HH/`` prefix per hour), so a listing never leaves the range.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

HOUR = timedelta(hours=1)
MAX_DAYS = 366
_BOUND = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})(?:T([0-9]{2}))?")


class RangeError(ValueError):
    """A bad --from/--to; the message says what to write instead."""


def parse_bound(text: str, option: str, end: bool = False) -> datetime:
    """The first hour of ``text`` (``YYYY-MM-DD`` or ``YYYY-MM-DDTHH``), its last if ``end``."""
    match = _BOUND.fullmatch(text.strip())
    if not match:
        raise RangeError(f"{option} {text!r}: expected YYYY-MM-DD or YYYY-MM-DDTHH (UTC)")
    year, month, day, hour = match.groups()
    try:
        first = datetime(int(year), int(month), int(day), int(hour or 0))
    except ValueError as err:
        raise RangeError(f"{option} {text!r}: {err}") from None
    if end and hour is None:
        return first.replace(hour=23)
    return first


@dataclass(frozen=True)
class LakeRange:
    """Hours ``first`` to ``last`` (both included, naive UTC), optionally only some client IPs."""

    first: datetime
    last: datetime
    ips: tuple[str, ...] = ()

    @classmethod
    def parse(cls, start: str, stop: str | None = None, ips: list[str] | None = None) -> LakeRange:
        first = parse_bound(start, "--from")
        last = parse_bound(stop if stop is not None else start, "--to", end=True)
        if last < first:
            raise RangeError(f"--to {stop} is before --from {start}")
        days = (last.date() - first.date()).days + 1
        if days > MAX_DAYS:
            raise RangeError(
                f"the range spans {days} days, at most {MAX_DAYS}: query compacted Parquet "
                "for longer periods (docs/data-lake.md)"
            )
        return cls(first, last, tuple(sorted({ip_segment(ip) for ip in ips or ()})))

    def hours(self) -> list[datetime]:
        count = int((self.last - self.first) / HOUR) + 1
        return [self.first + i * HOUR for i in range(count)]

    def prefixes(self) -> list[str]:
        """Key prefixes covering exactly the range's hours (and IPs), in key order."""
        by_day: dict[date, list[int]] = {}
        for hour in self.hours():
            by_day.setdefault(hour.date(), []).append(hour.hour)
        out: list[str] = []
        for day, hours in by_day.items():
            if len(hours) == 24 and not self.ips:
                out.append(f"{day:%Y-%m-%d}/")
                continue
            for hour in hours:
                base = f"{day:%Y-%m-%d}/{hour:02d}/"
                out.extend([f"{base}{ip}/" for ip in self.ips] if self.ips else [base])
        return out


def ip_segment(text: str) -> str:
    """The lake's spelling of a client IP: IPv4 dotted, IPv6 compressed with ``-`` for ``:``."""
    text = text.strip()
    if "-" in text and ":" not in text:
        text = text.replace("-", ":")  # already in the lake's spelling
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise RangeError(f"--ip {text[:80]!r}: not an IPv4 or IPv6 address") from None
    return address.compressed.replace(":", "-")
