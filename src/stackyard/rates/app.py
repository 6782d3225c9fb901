"""Flask application factory of the rates API: ``gunicorn 'stackyard.rates.app:create_app()'``."""

from __future__ import annotations

import hashlib
import logging
import time

import psycopg2.errors
from flask import Flask, Response, current_app, g, jsonify, request

from stackyard.rates import batches, logs, prices, queries
from stackyard.rates.config import Settings, load_settings
from stackyard.rates.db import Database
from stackyard.web import errors
from stackyard.web.app import no_delay
from stackyard.web.auth import require_bearer
from stackyard.web.body import read_body
from stackyard.web.errors import ApiError
from stackyard.web.params import single_values
from stackyard.web.proxy import TrustedProxies

log = logging.getLogger("stackyard.rates")
access_log = logging.getLogger("stackyard.rates.access")

CONTENT_TYPES = {"application/json": prices.parse_json, "text/csv": prices.parse_csv}


def database() -> Database:
    return current_app.extensions["stackyard.rates.db"]


def settings() -> Settings:
    return current_app.extensions["stackyard.rates.settings"]


def get_rates() -> Response:
    query = queries.RatesQuery.from_args(single_values(request.args), settings().max_range_days)
    rates = database().read(lambda conn: queries.fetch_rates(conn, query))
    return jsonify(rates=rates)


def post_prices() -> tuple[Response, int]:
    require_bearer(request.headers.get("Authorization"), settings().write_token)
    single_values(request.args)
    parse = CONTENT_TYPES.get(request.mimetype)
    if parse is None:
        raise ApiError(
            f"unsupported content type {request.mimetype!r}",
            status=415,
            supported=sorted(CONTENT_TYPES),
        )
    key = batches.parse_key(request.headers.get(batches.HEADER))
    body = read_body(request.environ, settings().max_body_bytes)
    digest = hashlib.sha256(body).hexdigest()
    if key is not None:
        found = database().read(lambda conn: batches.lookup(conn, key))
        if found is not None:
            return replayed(batches.replay(found, key, digest))
    batch = parse(body, settings().max_batch_rows)
    del body
    batch.raise_if_bad()
    try:
        with database().transaction() as conn:
            inserted = prices.store(conn, batch)
            if key is not None:
                batches.record(conn, key, digest, inserted)
    except batches.KeyTaken:  # a concurrent request with the key committed first
        found = database().read(lambda conn: batches.lookup(conn, key))
        return replayed(batches.replay(found, key, digest))
    log.info("batch stored", extra={"rows": inserted, "content_type": request.mimetype})
    return jsonify(inserted=inserted), 201


def replayed(result: dict) -> tuple[Response, int]:
    """The original answer to a batch sent again with its key; nothing was written now."""
    response = jsonify(result)
    response.headers["Idempotency-Replayed"] = "true"
    return response, 201


def health() -> tuple[Response, int] | tuple[Response, int, dict[str, str]]:
    """The database's own error text (host names, addresses) goes to the log only."""
    try:
        with database().connection() as conn, conn.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()
    except Exception as err:  # any database failure makes the service unhealthy
        reason = getattr(err, "reason", None) or f"{type(err).__name__}: {err}".strip()
        log.warning("health check failed: %s", reason)
        return jsonify(status="error", database="unavailable"), 503, {"Retry-After": "2"}
    return jsonify(status="ok", database="ok"), 200


def handle_query_canceled(
    err: psycopg2.errors.QueryCanceled,
) -> tuple[Response, int, dict[str, str]]:
    limit = settings().db_statement_timeout_ms
    log.warning("query canceled: %s", str(err).strip(), extra={"statement_timeout_ms": limit})
    body = {"error": "the database did not answer in time", "statement_timeout_ms": limit}
    return jsonify(body), 503, {"Retry-After": "2"}


def check_read_token() -> None:
    if settings().read_token and request.path != "/health":
        require_bearer(request.headers.get("Authorization"), settings().read_token)


def start_timer() -> None:
    g.started = time.perf_counter()
    no_delay()


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
                "peer_addr": request.environ.get("stackyard.peer_addr"),
            },
        )
    return response


def create_app(settings: Settings | None = None) -> Flask:
    """The rates API. No database connection is made here: the pool fills on first use."""
    settings = settings or load_settings()
    logs.configure(settings.log_level)
    app = errors.new_app(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["stackyard.rates.settings"] = settings
    app.extensions["stackyard.rates.db"] = Database(settings)
    app.wsgi_app = TrustedProxies(app.wsgi_app, settings.trusted_proxies)  # type: ignore[method-assign]
    app.add_url_rule("/rates", view_func=get_rates, methods=["GET"])
    app.add_url_rule("/prices", view_func=post_prices, methods=["POST"])
    app.add_url_rule("/health", view_func=health, methods=["GET"])
    errors.install(app)
    app.register_error_handler(psycopg2.errors.QueryCanceled, handle_query_canceled)
    app.before_request(start_timer)
    app.before_request(check_read_token)
    app.after_request(log_request)
    if not settings.write_token:
        log.warning("RATES_WRITE_TOKEN is not set: POST /prices accepts writes from anyone")
    log.info(
        "rates API configured",
        extra={
            "db_host": settings.db_host,
            "db_port": settings.db_port,
            "db_name": settings.db_name,
            "db_sslmode": settings.db_sslmode,
            "writes": "token" if settings.write_token else "open",
            "reads": "token" if settings.read_token else "open",
        },
    )
    return app
