"""app_b: ``POST /auth`` with the form field ``token`` answers its owner's username, or ``fail``.

``gunicorn 'stackyard.density.app_b:create_app()'``. The users table is SQLite at
``DENSITY_USERS_DB``, created and seeded by the deployment (``stackyard.density.users``).
"""

from __future__ import annotations

import logging
import sqlite3
import threading

from flask import Flask, Response, current_app, jsonify, request

from stackyard.density.capture.middleware import wrap
from stackyard.density.capture.relay import capture_stats
from stackyard.density.config import Settings, load_settings
from stackyard.density.users import connect, owner_of
from stackyard.rates import logs
from stackyard.web.app import base_app, text, trust_proxies
from stackyard.web.errors import BadRequest, Unavailable

log = logging.getLogger("stackyard.density")


class Users:
    """One read-only SQLite connection per thread."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()

    def owner_of(self, token: str) -> str | None:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = connect(self.path)
        return owner_of(conn, token)


def _users() -> Users:
    return current_app.extensions["stackyard.density.users"]


def auth() -> Response:
    tokens = request.form.getlist("token")
    if len(tokens) != 1:
        raise BadRequest("the form field 'token' must be given exactly once")
    try:
        owner = _users().owner_of(tokens[0])
    except sqlite3.Error as err:
        log.error("users table unavailable: %s", err)
        raise Unavailable("the users table is unavailable") from None
    if owner is None:
        return text("fail", 403)
    return text(owner)


def health() -> tuple[Response, int]:
    try:
        _users().owner_of("")
    except sqlite3.Error as err:
        return jsonify(status="error", users=str(err)), 503
    return jsonify(status="ok", users="ok", capture=capture_stats(current_app)), 200


def create_flask(settings: Settings) -> Flask:
    logs.configure(settings.log_level)
    app = base_app(__name__, max_body_bytes=settings.max_body_bytes)
    app.extensions["stackyard.density.settings"] = settings
    app.extensions["stackyard.density.users"] = Users(settings.users_db)
    app.add_url_rule("/auth", view_func=auth, methods=["POST"])
    app.add_url_rule("/health", view_func=health, methods=["GET"])
    return app


def create_app(settings: Settings | None = None):
    """app_b wrapped in the capture middleware (unless capture is disabled)."""
    settings = settings or load_settings(app_name="app_b")
    return trust_proxies(wrap(create_flask(settings), settings), settings.trusted_proxies)
