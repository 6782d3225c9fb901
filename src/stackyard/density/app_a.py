"""app_a: ``GET /hello`` and ``POST /jobs`` (the ``Authorization`` token checked by app_b).

``gunicorn 'stackyard.density.app_a:create_app()'``. app_b's address comes from
``DENSITY_APP_B_URL``; calls to it use a pooled session with connect and read timeouts.
"""

from __future__ import annotations

import logging

import requests
from flask import Flask, Response, current_app, jsonify, request
from requests.adapters import HTTPAdapter

from stackyard.density.capture.middleware import wrap
from stackyard.density.capture.relay import capture_stats
from stackyard.density.config import Settings, load_settings
from stackyard.rates import logs
from stackyard.web.app import base_app, text, trust_proxies
from stackyard.web.errors import ApiError

log = logging.getLogger("stackyard.density")

JOBS = "Jobs:\nTitle: Devops\nDescription: Awesome\n"
OWNER = "density"


def _settings() -> Settings:
    return current_app.extensions["stackyard.density.settings"]


def _session() -> requests.Session:
    return current_app.extensions["stackyard.density.app_b"]


def hello() -> Response:
    return text("Hello there")


def ask_app_b(token: str) -> requests.Response:
    settings = _settings()
    try:
        return _session().post(
            settings.app_b_url.rstrip("/") + "/auth",
            data={"token": token},
            timeout=(settings.app_b_connect_timeout, settings.app_b_read_timeout),
        )
    except requests.Timeout:
        raise ApiError("app_b did not answer in time", 504) from None
    except requests.RequestException as err:
        log.warning("app_b unreachable: %s", err)
        raise ApiError("app_b is unreachable", 502) from None


def jobs() -> Response:
    token = request.headers.get("Authorization")
    if not token:
        raise ApiError("the Authorization header is missing", 401)
    reply = ask_app_b(token)
    if reply.status_code == 403:
        return text("fail", 403)
    if reply.status_code != 200:
        log.warning("app_b answered %s", reply.status_code)
        raise ApiError(f"app_b answered {reply.status_code}", 502)
    if reply.text != OWNER:
        return text("fail", 403)
    return text(JOBS)


def health() -> tuple[Response, int]:
    return jsonify(status="ok", capture=capture_stats(current_app)), 200


def create_flask(settings: Settings) -> Flask:
    logs.configure(settings.log_level)
    app = base_app(__name__, max_body_bytes=settings.max_body_bytes)
    app.extensions["stackyard.density.settings"] = settings
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=settings.app_b_pool_size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    app.extensions["stackyard.density.app_b"] = session
    app.add_url_rule("/hello", view_func=hello, methods=["GET"])
    app.add_url_rule("/jobs", view_func=jobs, methods=["POST"])
    app.add_url_rule("/health", view_func=health, methods=["GET"])
    return app


def create_app(settings: Settings | None = None):
    """app_a wrapped in the capture middleware (unless capture is disabled)."""
    settings = settings or load_settings(app_name="app_a")
    return trust_proxies(wrap(create_flask(settings), settings), settings.trusted_proxies)
