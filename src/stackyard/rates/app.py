"""Flask application factory of the rates API: ``gunicorn 'stackyard.rates.app:create_app()'``."""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from typing import Any

import psycopg2.errors
from flask import Flask, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from stackyard.rates import logs, prices, queries
from stackyard.rates.config import Settings, load_settings
from stackyard.rates.db import Database, DatabaseUnavailable
from stackyard.rates.errors import ApiError

log = logging.getLogger("stackyard.rates")
access_log = logging.getLogger("stackyard.rates.access")

CONTENT_TYPES = {"application/json": prices.parse_json, "text/csv": prices.parse_csv}


def database() -> Database:
    return current_app.extensions["stackyard.rates.db"]


def settings() -> Settings:
    return current_app.extensions["stackyard.rates.settings"]


def get_rates() -> Response:
    query = queries.RatesQuery.from_args(request.args, settings().max_range_days)
    with database().connection() as conn:
        rates = queries.fetch_rates(conn, query)
    return jsonify(rates=rates)


def post_prices() -> tuple[Response, int]:
    parse = CONTENT_TYPES.get(request.mimetype)
    if parse is None:
        raise ApiError(
            f"unsupported content type {request.mimetype!r}",
            status=415,
            supported=sorted(CONTENT_TYPES),
        )
    batch = parse(request.get_data(cache=False), settings().max_batch_rows)
    batch.raise_if_bad()
    with database().transaction() as conn:
        inserted = prices.store(conn, batch)
    log.info("batch stored", extra={"rows": inserted, "content_type": request.mimetype})
    return jsonify(inserted=inserted), 201


def health() -> tuple[Response, int]:
    try:
        with database().connection() as conn, conn.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()
    except DatabaseUnavailable as err:
        return jsonify(status="error", database=str(err)), 503
    except Exception as err:  # any database failure makes the service unhealthy
        log.warning("health check failed", exc_info=True)
        return jsonify(status="error", database=f"{type(err).__name__}: {err}".strip()), 503
    return jsonify(status="ok", database="ok"), 200


def handle_api_error(err: ApiError) -> tuple[Response, int]:
    return jsonify(err.body()), err.status


def handle_http_error(err: HTTPException) -> tuple[Response, int]:
    body: dict[str, Any] = {"error": err.description or err.name}
    if err.code == 405 and err.valid_methods:  # type: ignore[attr-defined]
        body["allowed"] = sorted(err.valid_methods)  # type: ignore[attr-defined]
    response = jsonify(body)
    for key, value in err.get_headers():
        if key.lower() == "allow":
            response.headers[key] = value
    return response, err.code or 500


def handle_unavailable(err: DatabaseUnavailable) -> tuple[Response, int]:
    log.error("database unavailable: %s", err)
    return jsonify(error="the database is unavailable"), 503


def handle_query_canceled(err: psycopg2.errors.QueryCanceled) -> tuple[Response, int]:
    limit = settings().db_statement_timeout_ms
    log.warning("query canceled: %s", str(err).strip(), extra={"statement_timeout_ms": limit})
    body = {"error": "the database did not answer in time", "statement_timeout_ms": limit}
    return jsonify(body), 503


def handle_unexpected(err: Exception) -> tuple[Response, int]:
    log.error("unhandled error", exc_info=err)
    return jsonify(error="internal server error"), 500


def start_timer() -> None:
    g.started = time.perf_counter()
    # gunicorn writes the headers and the body in two send() calls; on a keep-alive
    # connection Nagle's algorithm then holds the body until the client's delayed ACK
    # (~40 ms). No delay for small writes.
    sock = request.environ.get("gunicorn.socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def log_request(response: Response) -> Response:
    started = g.get("started")
    if started is not None and access_log.isEnabledFor(logging.INFO):
        access_log.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "remote_addr": request.remote_addr,
            },
        )
    return response


def create_app(settings: Settings | None = None) -> Flask:
    """The rates API. No database connection is made here: the pool starts on first use."""
    settings = settings or load_settings()
    logs.configure(settings.log_level)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["stackyard.rates.settings"] = settings
    app.extensions["stackyard.rates.db"] = Database(settings)
    app.add_url_rule("/rates", view_func=get_rates, methods=["GET"])
    app.add_url_rule("/prices", view_func=post_prices, methods=["POST"])
    app.add_url_rule("/health", view_func=health, methods=["GET"])
    app.register_error_handler(ApiError, handle_api_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(DatabaseUnavailable, handle_unavailable)
    app.register_error_handler(psycopg2.errors.QueryCanceled, handle_query_canceled)
    app.register_error_handler(Exception, handle_unexpected)
    app.before_request(start_timer)
    app.after_request(log_request)
    log.info(
        "rates API configured",
        extra={
            "db_host": settings.db_host,
            "db_port": settings.db_port,
            "db_name": settings.db_name,
        },
    )
    return app
