"""Errors answered as JSON, and the Flask handlers that answer every error so.

``install(app)`` makes every response of a Flask app JSON: an ``ApiError`` (4xx/503 with
details), any werkzeug ``HTTPException`` (404, 405 with ``Allow``, 413, ...), and anything
else as a generic 500 whose details go to the log only.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

log = logging.getLogger("stackyard.web")


class ApiError(Exception):
    """An error answered as ``{"error": message, **details}`` with ``status``."""

    status = 400

    def __init__(self, message: str, status: int | None = None, **details: Any) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status
        self.details = details
        self.headers: dict[str, str] = {}

    def body(self) -> dict[str, Any]:
        return {"error": str(self), **self.details}


class BadRequest(ApiError):
    status = 400


class PayloadTooLarge(ApiError):
    status = 413


class Unauthorized(ApiError):
    status = 401

    def __init__(self, message: str = "a valid bearer token is required", **details: Any) -> None:
        super().__init__(message, **details)
        self.headers["WWW-Authenticate"] = 'Bearer realm="stackyard"'


class Unavailable(ApiError):
    """A dependency cannot answer now: 503 with ``Retry-After`` (seconds)."""

    status = 503

    def __init__(self, message: str, retry_after: int = 2, **details: Any) -> None:
        super().__init__(message, **details)
        self.headers["Retry-After"] = str(retry_after)


def answer(err: ApiError) -> tuple[Response, int]:
    response = jsonify(err.body())
    response.headers.update(err.headers)
    return response, err.status


def answer_http(err: HTTPException) -> tuple[Response, int]:
    body: dict[str, Any] = {"error": err.description or err.name}
    valid = getattr(err, "valid_methods", None)
    if err.code == 405 and valid:
        body["allowed"] = sorted(valid)
    response = jsonify(body)
    for key, value in err.get_headers():
        if key.lower() in ("allow", "retry-after", "www-authenticate"):
            response.headers[key] = value
    return response, err.code or 500


def answer_unexpected(err: Exception) -> tuple[Response, int]:
    log.error("unhandled error", exc_info=err)
    return jsonify(error="internal server error"), 500


def new_app(import_name: str) -> Flask:
    """A Flask app whose every answer can be JSON: werkzeug would answer a doubled slash
    (``/dashboard/symbol//a``) with an HTML 308 redirect; here it is an unknown path (404).
    Set before any route is added: rules take the map's setting when they are bound."""
    app = Flask(import_name)
    app.url_map.merge_slashes = False
    return app


def install(app: Flask) -> None:
    """Register the JSON handlers (specific handlers registered later still win)."""
    app.register_error_handler(ApiError, answer)
    app.register_error_handler(HTTPException, answer_http)
    app.register_error_handler(Exception, answer_unexpected)
