"""Decoding a captured event (schema ``stackyard.density.event/1``) for the sinks.

:func:`decode` turns a Kafka message value into a :class:`Decoded` event or raises
:class:`Poison` with a reason; both sinks use it, so both send the same messages to the
dead-letter topic. :func:`ip_segment` is the lake's path spelling of an address: IPv4
dotted, IPv6 compressed with every ``:`` replaced by ``-`` (``2001:db8::1`` → ``2001-db8--1``).
"""

from __future__ import annotations

import ipaddress
import json
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

SCHEMA = "stackyard.density.event/1"
TEXT_FIELDS = ("app", "method", "path", "route")
MAX_TEXT = 64 * 1024  # longer method/path/route strings are not what the apps send


class Poison(ValueError):
    """A message no sink can store; ``reason`` goes into the dead-letter record."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Decoded:
    doc: dict[str, Any]
    event_id: uuid.UUID
    time: datetime  # aware, UTC
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address
    status: int
    duration_ms: float

    @property
    def prefix(self) -> str:
        """``<YYYY-MM-DD>/<HH>/<ip>`` of the event's time (UTC) and client address."""
        return f"{self.time:%Y-%m-%d}/{self.time:%H}/{ip_segment(self.ip)}"


def ip_segment(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """A path-safe spelling: IPv4 as is, IPv6 compressed with ``:`` → ``-``.

    An IPv4-mapped address is spelled in hex (``--ffff-c000-201``) whatever the Python
    version (3.13 prints it dotted): an object's name must not change with an upgrade.
    """
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        v4 = int(ip.ipv4_mapped)
        return f"--ffff-{v4 >> 16:x}-{v4 & 0xFFFF:x}"
    return str(ip).replace(":", "-")


def parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An address; an IPv6 zone (``fe80::1%eth0``) is dropped, it means nothing off the host."""
    if not isinstance(text, str):
        raise Poison("client_ip: not a string")
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        raise Poison(f"client_ip: not an IP address: {text[:80]!r}") from None
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
        ip = ipaddress.IPv6Address(str(ip).split("%", 1)[0])
    return ip


def parse_time(text: Any) -> datetime:
    if not isinstance(text, str):
        raise Poison("time: not a string")
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise Poison(f"time: not RFC 3339: {text[:80]!r}") from None
    if when.tzinfo is None:
        raise Poison(f"time: no time zone: {text[:80]!r}")
    try:
        return when.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+14:00: before year 1 in UTC
        raise Poison(f"time: out of range in UTC: {text[:80]!r}") from None


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"number out of range: {text[:40]}")
    return number


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def decode(value: bytes | None) -> Decoded:
    """The event in a message value, checked for what the sinks rely on."""
    if value is None:
        raise Poison("empty message (tombstone)")
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as err:
        raise Poison(f"not UTF-8: {err}") from None
    try:
        doc = json.loads(text, parse_float=_finite, parse_constant=_no_constant)
    except (ValueError, RecursionError) as err:
        raise Poison(f"not JSON: {str(err)[:200]}") from None
    if not isinstance(doc, dict):
        raise Poison("not a JSON object")
    if doc.get("schema") != SCHEMA:
        raise Poison(f"schema: expected {SCHEMA}, got {str(doc.get('schema'))[:80]!r}")
    try:
        event_id = uuid.UUID(doc["id"]) if isinstance(doc.get("id"), str) else None
    except ValueError:
        event_id = None
    if event_id is None:
        raise Poison("id: not a UUID")
    for name in TEXT_FIELDS:
        if not isinstance(doc.get(name), str) or len(doc[name]) > MAX_TEXT:
            raise Poison(f"{name}: not a string of at most {MAX_TEXT} characters")
    response = doc.get("response")
    status = response.get("status") if isinstance(response, dict) else None
    if type(status) is not int or not 100 <= status <= 999:
        raise Poison("response.status: not an HTTP status")
    duration = doc.get("duration_ms")
    if type(duration) not in (int, float) or not math.isfinite(duration) or duration < 0:
        raise Poison("duration_ms: not a non-negative number")
    query = doc.get("query", [])
    if not isinstance(query, list):
        raise Poison("query: not a list")
    return Decoded(doc, event_id, parse_time(doc.get("time")), parse_ip(doc.get("client_ip")),
                   status, float(duration))  # fmt: skip


def clean(text: str) -> str:
    """Text PostgreSQL stores: NUL and lone surrogates become U+FFFD."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text


def header(doc: dict[str, Any], part: str, name: str) -> str | None:
    """The first value of a request/response header (case-insensitive), if any."""
    section = doc.get(part)
    pairs = section.get("headers") if isinstance(section, dict) else None
    for pair in pairs if isinstance(pairs, list) else ():
        if isinstance(pair, list) and len(pair) == 2 and str(pair[0]).lower() == name:
            return str(pair[1])
    return None


def body_size(doc: dict[str, Any], part: str) -> int | None:
    section = doc.get(part)
    body = section.get("body") if isinstance(section, dict) else None
    size = body.get("size") if isinstance(body, dict) else None
    return size if type(size) is int and 0 <= size < 2**62 else None


def _no_nul(value: Any) -> Any:
    """NUL in every string: json.dumps writes it as ``\\u0000``, which jsonb refuses."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [_no_nul(item) for item in value]
    if isinstance(value, dict):
        return {_no_nul(k): _no_nul(v) for k, v in value.items()}
    return value


def jsonb(value: Any) -> str:
    return clean(json.dumps(_no_nul(value), ensure_ascii=False, separators=(",", ":")))


def row(event: Decoded) -> tuple[Any, ...]:
    """One ``capture.requests`` row, in :data:`COLUMNS` order."""
    doc = event.doc
    agent = header(doc, "request", "user-agent")
    return (
        event.time, str(event.event_id), clean(doc["app"]), str(event.ip),
        clean(doc["method"]), clean(doc["path"]), clean(doc["route"]), jsonb(doc.get("query", [])),
        event.status, event.duration_ms, body_size(doc, "request"), body_size(doc, "response"),
        clean(agent) if agent is not None else None,
    )  # fmt: skip


COLUMNS = (
    "time", "event_id", "app", "client_ip", "method", "path", "route", "params", "status",
    "duration_ms", "request_bytes", "response_bytes", "user_agent",
)  # fmt: skip


def json_line(value: bytes, event: Decoded) -> bytes:
    """The event as one JSON Lines line: the bytes as consumed unless they span lines."""
    line = value.strip()
    if b"\n" in line or b"\r" in line:
        line = json.dumps(event.doc, separators=(",", ":")).encode()
    return line + b"\n"
