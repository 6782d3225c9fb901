"""WSGI middleware: one capture event per request, with the event id as ``X-Request-Id``.

The request body is read up to ``max_body_bytes`` and handed on to the app unchanged; the
response body is copied (up to ``capture_body_bytes``) as it is sent. The event is built
and queued when the server closes the response, so its duration covers the whole answer.
"""

from __future__ import annotations

import functools
import io
import logging
import time
import uuid
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

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO") in self.settings.capture_skip_paths:
            return self.wsgi(environ, start_response)
        started, wall = time.perf_counter(), datetime.now(UTC)
        event_id = str(uuid.uuid4())
        body = self._read_body(environ)
        state: dict[str, Any] = {}

        def capture_start(status: str, headers: list[tuple[str, str]], exc_info: Any = None):
            headers = [*headers, (HEADER, event_id)]
            state["status"], state["headers"] = status, headers
            return start_response(status, headers, exc_info)

        result = self.wsgi(environ, capture_start)
        return _Tee(
            result,
            self.settings.capture_body_bytes,
            lambda out, size: self._emit(environ, event_id, wall, started, body, state, out, size),
        )

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

    def _emit(self, environ, event_id, wall, started, body, state, out, out_size) -> None:
        # The request thread only queues what the event is made of; the publisher thread
        # builds the JSON (redaction, encoding: ~4/5 of capture's CPU per request) later.
        duration = round((time.perf_counter() - started) * 1000, 3)
        # the client: TrustedProxies (outermost) resolved X-Forwarded-For already
        ip = environ.get("REMOTE_ADDR") or ""
        build = functools.partial(
            self._event, environ, ip, event_id, wall, duration, body, state, out, out_size
        )
        self.publisher.publish(ip.encode(), build)

    def _event(self, environ, ip, event_id, wall, duration, body, state, out, out_size) -> bytes:
        """The event's JSON (runs in the publisher thread)."""
        s = self.settings
        method, path = environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")
        ctype = environ.get("CONTENT_TYPE", "")
        complete = len(body) <= s.capture_body_bytes
        req_body = self.redactor.body(body, ctype, complete)
        status = state.get("status", "500 Internal Server Error")
        headers = state.get("headers", [])
        event = {
            "schema": ev.SCHEMA,
            "id": event_id,
            "time": wall.isoformat(timespec="microseconds").replace("+00:00", "Z"),
            "app": s.app_name,
            "client_ip": ip,
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
                "headers": self.redactor.header_list(headers),
                "body": ev.encode_body(out, out_size, s.capture_body_bytes),
            },
            "duration_ms": duration,
        }
        return ev.to_bytes(event)

    def _query(self, raw: str) -> list[list[str]]:
        if not raw:
            return []
        return self.redactor.params(parse_qsl(raw, keep_blank_values=True))


class _Tee:
    """Pass the response through, keep its first ``limit`` bytes, report on close."""

    def __init__(self, result: Iterable[bytes], limit: int, done: Callable) -> None:
        self.result, self.limit, self.done = result, limit, done
        self.kept, self.size = bytearray(), 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.result:
            self.size += len(chunk)
            if len(self.kept) < self.limit:
                self.kept += chunk[: self.limit - len(self.kept)]
            yield chunk

    def close(self) -> None:
        try:
            close = getattr(self.result, "close", None)
            if close is not None:
                close()
        finally:
            self.done(bytes(self.kept), self.size)


def wrap(app: Flask, settings: Settings) -> Flask:
    """Install the capture middleware on ``app`` (a no-op when capture is disabled)."""
    if settings.capture_enabled:
        publisher = Publisher(settings)
        app.extensions["stackyard.density.publisher"] = publisher
        app.wsgi_app = Capture(app, settings, publisher)  # type: ignore[method-assign]
    return app
