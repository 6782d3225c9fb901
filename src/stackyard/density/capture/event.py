"""The capture event (schema ``stackyard.density.event/1``, docs/pipeline.md): building, redacting.

Bodies are kept up to a size limit (``truncated`` says when they were cut); UTF-8 text is
stored as text, anything else base64 (``encoding``). Redacted values become ``[REDACTED]``.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlencode

SCHEMA = "stackyard.density.event/1"
REDACTED = "[REDACTED]"
ALWAYS_REDACTED = frozenset({"authorization", "cookie", "set-cookie"})


class Redactor:
    def __init__(self, headers: Iterable[str], fields: Iterable[str]) -> None:
        self.headers = ALWAYS_REDACTED | {h.lower() for h in headers}
        self.fields = {f.lower() for f in fields}

    def header_list(self, pairs: Iterable[tuple[str, str]]) -> list[list[str]]:
        return [[k, REDACTED if k.lower() in self.headers else v] for k, v in pairs]

    def params(self, pairs: Iterable[tuple[str, str]]) -> list[list[str]]:
        return [[k, REDACTED if k.lower() in self.fields else v] for k, v in pairs]

    def json_value(self, value: Any, depth: int = 0) -> Any:
        if depth > 64:
            return REDACTED  # deeper than any honest document; do not recurse further
        if isinstance(value, dict):
            return {
                k: REDACTED if str(k).lower() in self.fields else self.json_value(v, depth + 1)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self.json_value(v, depth + 1) for v in value]
        return value

    def body(self, raw: bytes, content_type: str, complete: bool) -> bytes:
        """The body with configured fields redacted, for form and JSON bodies."""
        if not self.fields or not complete or not raw:
            return raw
        mime = content_type.split(";")[0].strip().lower()
        if mime == "application/x-www-form-urlencoded":
            try:
                pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True)
            except UnicodeDecodeError:
                return raw
            return urlencode([tuple(p) for p in self.params(pairs)]).encode()
        if mime == "application/json" or mime.endswith("+json"):
            try:
                doc = json.loads(raw)
            except (ValueError, RecursionError):
                return raw
            return json.dumps(self.json_value(doc), separators=(",", ":")).encode()
        return raw


def encode_body(raw: bytes, total: int, limit: int) -> dict[str, Any]:
    kept = raw[:limit]
    try:
        data, encoding = kept.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        data, encoding = base64.b64encode(kept).decode("ascii"), "base64"
    return {"size": total, "truncated": total > len(kept), "encoding": encoding, "data": data}


@functools.lru_cache(maxsize=512)
def _header_name(key: str) -> str | None:
    """``HTTP_USER_AGENT`` → ``User-Agent``; None for environ keys that are no header."""
    if key.startswith("HTTP_"):
        return key[5:].replace("_", "-").title()
    if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        return key.replace("_", "-").title()
    return None


def request_headers(environ: Mapping[str, Any]) -> list[tuple[str, str]]:
    # runs for every request: the name mapping is cached (bounded: an attacker's header
    # names only churn the cache)
    return [
        (name, value) for key, value in environ.items() if (name := _header_name(key)) and value
    ]


# one encoder for every event (json.dumps builds one per call); ASCII output is the C
# encoder's fastest path: non-ASCII text is escaped (\uXXXX), still the same JSON value
_ENCODER = json.JSONEncoder(separators=(",", ":"))


def to_bytes(event: dict[str, Any]) -> bytes:
    return _ENCODER.encode(event).encode("ascii")


class Parts(NamedTuple):
    """What an event is made of, as the request thread collects it, **already redacted**
    (secrets never leave the worker): plain values, so the worker hands them to its
    publisher process as one ``marshal`` message. Bodies are cut to ``capture_body_bytes``;
    the sizes are the whole bodies'."""

    id: str
    wall: float  # time.time() when the request arrived
    duration: float  # seconds
    ip: str
    method: str
    path: str
    route: str
    query: list[list[str]]
    request_headers: list[list[str]]
    request_body: bytes
    request_size: int
    status: str
    response_headers: list[list[str]]
    response_body: bytes
    response_size: int


class Builder:
    """Events from their parts: the JSON, bodies encoded (runs in the publisher process)."""

    def __init__(self, app_name: str, body_bytes: int) -> None:
        self.app_name, self.limit = app_name, body_bytes

    def __call__(self, p: Parts) -> bytes:
        status = p.status or "500 Internal Server Error"
        event = {
            "schema": SCHEMA,
            "id": p.id,
            "time": datetime.fromtimestamp(p.wall, UTC)
            .isoformat(timespec="microseconds")
            .replace("+00:00", "Z"),
            "app": self.app_name,
            "client_ip": p.ip,
            "method": p.method,
            "path": p.path,
            "route": p.route,
            "query": p.query,
            "request": {
                "headers": p.request_headers,
                "body": encode_body(p.request_body, p.request_size, self.limit),
            },
            "response": {
                "status": int(status.split(" ", 1)[0]),
                "headers": p.response_headers,
                "body": encode_body(p.response_body, p.response_size, self.limit),
            },
            "duration_ms": round(p.duration * 1000, 3),
        }
        return to_bytes(event)
