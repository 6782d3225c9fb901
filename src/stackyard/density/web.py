"""What app_a and app_b share: JSON errors, bounded bodies, TCP_NODELAY, the client address.

(The reusable web layer of the stack is being built in ``stackyard.web``; these are the
parts the density apps need until they move onto it.)
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
from collections.abc import Iterable, Mapping
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from stackyard.density.config import Settings
from stackyard.rates import logs

log = logging.getLogger("stackyard.density")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_networks(items: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in items)


def _is_trusted(address: str, trusted: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in net for net in trusted)


def client_ip(environ: Mapping[str, Any], trusted: tuple[Network, ...]) -> str:
    """The peer address; behind trusted proxies, the right-most untrusted X-Forwarded-For hop."""
    peer = environ.get("REMOTE_ADDR") or ""
    if not trusted or not _is_trusted(peer, trusted):
        return peer
    hops = [h.strip() for h in environ.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return peer  # a garbled header from a trusted proxy: keep the peer
        if not _is_trusted(hop, trusted):
            return hop
    return hops[0] if hops else peer


class ApiError(Exception):
    """Answered as ``{"error": message}`` with ``status``."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _api_error(err: ApiError) -> tuple[Response, int]:
    return jsonify(error=str(err)), err.status


def _http_error(err: HTTPException) -> tuple[Response, int]:
    response = jsonify(error=err.description or err.name)
    for key, value in err.get_headers():
        if key.lower() == "allow":
            response.headers[key] = value
    return response, err.code or 500


def _unexpected(err: Exception) -> tuple[Response, int]:
    log.error("unhandled error", exc_info=err)
    return jsonify(error="internal server error"), 500


def _nodelay() -> None:
    # gunicorn sends headers and body in two writes; without TCP_NODELAY a keep-alive
    # client waits for its delayed ACK (~40 ms) before the body arrives
    sock = request.environ.get("gunicorn.socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def base_app(name: str, settings: Settings) -> Flask:
    """A Flask app with the stack's conventions: JSON logs and errors, bounded bodies."""
    logs.configure(settings.log_level)
    app = Flask(name)
    app.url_map.merge_slashes = False  # a doubled slash: 404 JSON, not an HTML 308
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["stackyard.density.settings"] = settings
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    app.before_request(_nodelay)
    return app


def text(body: str, status: int = 200) -> Response:
    return Response(body, status=status, mimetype="text/plain")


def capture_stats() -> dict[str, Any] | None:
    """This worker's capture counters (queued, published, spooled, dropped...), if enabled."""
    from flask import current_app

    publisher = current_app.extensions.get("stackyard.density.publisher")
    return publisher.snapshot() if publisher is not None else None
