"""The Flask app every stackyard service starts from.

``base_app`` gives JSON errors for everything (``errors.install``), a body limit, insertion-
ordered JSON and no Nagle delay on answers. ``trust_proxies`` goes on last, outermost, so
every other middleware (the capture middleware of the density apps) sees the real client.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterable

from flask import Flask, Response, request

from stackyard.web import errors
from stackyard.web.proxy import TrustedProxies


def no_delay() -> None:
    """gunicorn writes the headers and the body in two send() calls; on a keep-alive
    connection Nagle's algorithm then holds the body until the client's delayed ACK
    (~40 ms). Registered as a ``before_request`` hook."""
    sock = request.environ.get("gunicorn.socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def base_app(import_name: str, *, max_body_bytes: int) -> Flask:
    """A Flask app answering JSON for every error, bodies limited to ``max_body_bytes``."""
    app = errors.new_app(import_name)
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    errors.install(app)
    app.before_request(no_delay)
    return app


def trust_proxies(app: Flask, trusted: str | Iterable[str]) -> Flask:
    """Believe ``X-Forwarded-For``/``X-Real-IP`` from ``trusted`` peers only (outermost)."""
    app.wsgi_app = TrustedProxies(app.wsgi_app, trusted)  # type: ignore[method-assign]
    return app


def text(body: str, status: int = 200) -> Response:
    """A plain-text answer (the density apps' wire format)."""
    return Response(body, status=status, mimetype="text/plain")
