"""WSGI middleware: one capture event per request, with the event id as ``X-Request-Id``.

The request body is read up to ``max_body_bytes`` and handed on to the app unchanged; the
response body is copied (up to ``capture_body_bytes``) as it is sent. The event is built
and queued when the server closes the response, so its duration covers the whole answer.
"""

from __future__ import annotations

import functools
import io
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from flask import Flask
from werkzeug.exceptions import HTTPException

from stackyard.density.capture import event as ev
from stackyard.density.capture.publisher import Publisher
from stackyard.density.config import Settings

log = logging.getLogger("stackyard.density.capture")
HEADER = "X-Request-Id"


class _Replay(io.RawIOBase):
    """The bytes already read, then the rest of the original stream."""

    def __init__(self, head: bytes, rest: Any) -> None:
        self._head = io.BytesIO(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        data = self._head.read(len(buf)) or self._rest.read(len(buf))
        buf[: len(data)] = data
        return len(data)


def new_id() -> str:
    """A random (version 4) UUID as text: what ``str(uuid.uuid4())`` gives, in a fifth of
    its time (it runs on the request path)."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}


def route_template(app: Flask) -> Callable[[str, str], str]:
    adapter = app.url_map.bind("capture")
    paths = {rule.rule for rule in app.url_map.iter_rules() if "<" not in rule.rule}

    @functools.lru_cache(maxsize=1024)  # per request otherwise; bounded for unknown paths
    def route(path: str, method: str) -> str:
        try:
            rule, _ = adapter.match(path, method, return_rule=True)
            return rule.rule
        except HTTPException:
            return path if path in paths else "other"

    return route


class Capture:
    def __init__(self, app: Flask, settings: Settings, publisher: Publisher) -> None:
        self.app = app
        self.wsgi = app.wsgi_app
        self.settings = settings
        self.publisher = publisher
        self.route = route_template(app)
        self.redactor = ev.Redactor(settings.capture_redact_headers, settings.capture_redact_fields)
        self.skip = frozenset(settings.capture_skip_paths)

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO") in self.skip:
            return self.wsgi(environ, start_response)
        exchange = _Exchange(self, environ, self._read_body(environ))
        event_id = exchange.event_id

        def capture_start(status: str, headers: list[tuple[str, str]], exc_info: Any = None):
            headers = [*headers, (HEADER, event_id)]  # the app may reuse its list
            exchange.status, exchange.headers = status, headers
            return start_response(status, headers, exc_info)

        exchange.result = self.wsgi(environ, capture_start)
        return exchange

    def _read_body(self, environ: dict[str, Any]) -> bytes:
        stream = environ.get("wsgi.input")
        if stream is None:
            return b""
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = self.settings.max_body_bytes
        if length > limit:
            return b""  # the app refuses it (413) without reading it
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if not length and not chunked:
            return b""
        head = stream.read(length if length else limit + 1)
        environ["wsgi.input"] = io.BufferedReader(_Replay(head, stream))
        return head

    def event(self, x: _Exchange) -> bytes:
        """The event's JSON (runs in the publisher thread)."""
        s, environ, body = self.settings, x.environ, x.body
        method, path = environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")
        ctype = environ.get("CONTENT_TYPE", "")
        complete = len(body) <= s.capture_body_bytes
        req_body = self.redactor.body(body, ctype, complete)
        status = x.status or "500 Internal Server Error"
        event = {
            "schema": ev.SCHEMA,
            "id": x.event_id,
            "time": datetime.fromtimestamp(x.wall, UTC)
            .isoformat(timespec="microseconds")
            .replace("+00:00", "Z"),
            "app": s.app_name,
            "client_ip": x.ip,
            "method": method,
            "path": path,
            "route": self.route(path, method),
            "query": self._query(environ.get("QUERY_STRING", "")),
            "request": {
                "headers": self.redactor.header_list(ev.request_headers(environ)),
                "body": ev.encode_body(req_body, len(body), s.capture_body_bytes),
            },
            "response": {
                "status": int(status.split(" ", 1)[0]),
                "headers": self.redactor.header_list(x.headers),
                "body": ev.encode_body(bytes(x.kept), x.size, s.capture_body_bytes),
            },
            "duration_ms": round(x.duration * 1000, 3),
        }
        return ev.to_bytes(event)

    def _query(self, raw: str) -> list[list[str]]:
        if not raw:
            return []
        return self.redactor.params(parse_qsl(raw, keep_blank_values=True))


class _Exchange:
    """One request and its response on their way through: passes the response through,
    keeps its first ``capture_body_bytes``, and queues the event when the server closes
    it. The request thread does only this much (~a few µs); :meth:`Capture.event` builds
    the JSON later, in the publisher thread."""

    __slots__ = (
        "body",
        "capture",
        "duration",
        "environ",
        "event_id",
        "headers",
        "ip",
        "kept",
        "result",
        "size",
        "started",
        "status",
        "wall",
    )  # fmt: skip

    def __init__(self, capture: Capture, environ: dict[str, Any], body: bytes) -> None:
        self.capture, self.environ, self.body = capture, environ, body
        self.started, self.wall = time.perf_counter(), time.time()
        self.event_id = new_id()
        # the client: TrustedProxies (outermost) resolved X-Forwarded-For already
        self.ip: str = environ.get("REMOTE_ADDR") or ""
        self.status, self.headers = "", []
        self.result: Iterable[bytes] = ()
        self.kept, self.size, self.duration = bytearray(), 0, 0.0

    def __iter__(self) -> Iterator[bytes]:
        limit = self.capture.settings.capture_body_bytes
        for chunk in self.result:
            self.size += len(chunk)
            if len(self.kept) < limit:
                self.kept += chunk[: limit - len(self.kept)]
            yield chunk

    def close(self) -> None:
        try:
            close = getattr(self.result, "close", None)
            if close is not None:
                close()
        finally:
            self.duration = time.perf_counter() - self.started
            self.capture.publisher.publish(self.ip.encode(), self.build)

    def build(self) -> bytes:
        return self.capture.event(self)


def wrap(app: Flask, settings: Settings) -> Flask:
    """Install the capture middleware on ``app`` (a no-op when capture is disabled)."""
    if settings.capture_enabled:
        publisher = Publisher(settings)
        app.extensions["stackyard.density.publisher"] = publisher
        app.wsgi_app = Capture(app, settings, publisher)  # type: ignore[method-assign]
    return app
