"""WSGI middleware: one capture event per request, with the event id as ``X-Request-Id``.

The request body is read up to ``max_body_bytes`` and handed on to the app unchanged; the
response body is copied (up to ``capture_body_bytes``) as it is sent. The event's parts are
handed on when the server closes the response, so its duration covers the whole answer.
"""

from __future__ import annotations

import functools
import io
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import parse_qsl

from flask import Flask
from werkzeug.exceptions import HTTPException

from stackyard.density.capture import event as ev
from stackyard.density.capture.relay import EXTENSION, Relay
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
    def __init__(self, app: Flask, settings: Settings, relay: Relay) -> None:
        self.app = app
        self.wsgi = app.wsgi_app
        self.settings = settings
        self.relay = relay
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


class _Exchange:
    """One request and its response on their way through: passes the response through,
    keeps its first ``capture_body_bytes``, and hands the event's parts to the relay when
    the server closes it. The request thread does only this much; the JSON is built in
    the worker's publisher process (:mod:`stackyard.density.capture.relay`)."""

    __slots__ = (
        "body",
        "capture",
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
        self.kept, self.size = bytearray(), 0

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
            self.capture.relay.send(self.parts())

    def parts(self) -> tuple:
        """:class:`~stackyard.density.capture.event.Parts`' fields, redacted, as the plain
        tuple ``marshal`` takes."""
        capture, environ, body = self.capture, self.environ, self.body
        redact, limit = capture.redactor, capture.settings.capture_body_bytes
        method, path = environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")
        query = environ.get("QUERY_STRING", "")
        complete = len(body) <= limit  # a cut body is not parsed for fields
        return (
            self.event_id,
            self.wall,
            time.perf_counter() - self.started,
            self.ip,
            method,
            path,
            capture.route(path, method),
            redact.params(parse_qsl(query, keep_blank_values=True)) if query else [],
            redact.header_list(ev.request_headers(environ)),
            redact.body(body, environ.get("CONTENT_TYPE", ""), complete)[:limit],
            len(body),
            self.status,
            redact.header_list(self.headers),
            bytes(self.kept),
            self.size,
        )


def wrap(app: Flask, settings: Settings) -> Flask:
    """Install the capture middleware on ``app`` (a no-op when capture is disabled)."""
    if settings.capture_enabled:
        relay = Relay(settings)
        app.extensions[EXTENSION] = relay
        app.wsgi_app = Capture(app, settings, relay)  # type: ignore[method-assign]
    return app
