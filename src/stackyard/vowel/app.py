"""The vowel service: ``gunicorn 'stackyard.vowel.app:create_app()'``.

The routes are fixed; which ``DataInterface`` answers them is configuration (VOWEL_BACKEND).
"""

from __future__ import annotations

import logging
from importlib import resources

from flask import Flask, Response, current_app, jsonify, request

from stackyard.rates import logs
from stackyard.vowel import model
from stackyard.vowel.config import Settings, load_settings
from stackyard.vowel.interface import DataInterface, DataUnavailable, NullInterface, OutcomeUnknown
from stackyard.web import errors
from stackyard.web.app import base_app
from stackyard.web.errors import ApiError, PayloadTooLarge, Unavailable
from stackyard.web.params import single_values

log = logging.getLogger("stackyard.vowel")
RETRY_AFTER_S = 1
UNKNOWN = "outcome unknown; run stackyard-vowel-rebuild"


def make_interface(settings: Settings) -> DataInterface:
    if settings.backend == "null":
        return NullInterface()
    if settings.backend == "sqlite":
        from stackyard.vowel.sqlite_interface import SQLiteInterface

        return SQLiteInterface(settings.sqlite_path)
    from stackyard.vowel.redis_mariadb import RedisMariaDBInterface

    return RedisMariaDBInterface(settings)


def data() -> DataInterface:
    return current_app.extensions["stackyard.vowel.data"]


def query_args(*names: str) -> dict[str, str | None]:
    """The named query parameters, each at most once; any other parameter is an error."""
    unknown = sorted(set(request.args) - set(names))
    if unknown:
        raise ApiError("unknown query parameters", unknown=unknown[:10], allowed=list(names))
    args = single_values(request.args)
    # judged from the headers, never read: a slow or endless body is answered at once
    if request.content_length or "chunked" in request.headers.get("Transfer-Encoding", ""):
        raise PayloadTooLarge("this endpoint takes no request body")
    return {n: args.get(n) for n in names}


def initial() -> str:
    args = query_args("uuid", "symbol")
    uuid = model.parse_uuid(args["uuid"], version4=True)
    symbol = model.parse_symbol(args["symbol"])
    is_vowel = model.guess(symbol)
    data().log_initial(uuid, symbol, is_vowel)
    return str(is_vowel)  # the original client compares the body with "True"


def followup() -> str:
    uuid = model.parse_uuid(query_args("uuid")["uuid"])
    data().log_followup(uuid)
    return "hooray"


def symbol_dashboard(symbol: str) -> Response:
    query_args()
    return jsonify(data().symbol_aggregates(model.parse_symbol(symbol)))


def range_dashboard(lower: str, upper: str) -> Response:
    query_args()
    low, high = model.parse_range(lower, upper, current_app.config["VOWEL_MAX_RANGE_DAYS"])
    return jsonify(data().range_aggregates(low, high))


def dashboard_page() -> Response:
    page = resources.files("stackyard.vowel").joinpath("static/dashboard.html").read_bytes()
    return Response(page, mimetype="text/html")


def dashboard_script() -> Response:
    script = resources.files("stackyard.vowel").joinpath("static/dashboard.js").read_bytes()
    return Response(script, mimetype="text/javascript")


def health() -> tuple[Response, int]:
    state = data().health()
    ok = all(v == "ok" for v in state.values())
    return jsonify(status="ok" if ok else "error", **state), 200 if ok else 503


def handle_unavailable(err: DataUnavailable) -> tuple[Response, int]:
    if isinstance(err, OutcomeUnknown):
        # the event may be stored (and then not counted): a 503 without Retry-After
        log.error("event write %s", UNKNOWN, extra={"path": request.path, "error": str(err)})
        answer = Unavailable("a data store did not answer; the event may have been stored")
        answer.headers.pop("Retry-After", None)
        return errors.answer(answer)
    log.error("data store unavailable: %s", err)
    return errors.answer(Unavailable("a data store is unavailable; retry later", RETRY_AFTER_S))


def create_app(settings: Settings | None = None, interface: DataInterface | None = None) -> Flask:
    """The app; connections to the stores are made on first use, in each worker."""
    settings = settings or load_settings()
    logs.configure(settings.log_level)
    app = base_app(__name__, max_body_bytes=1024)
    app.config["VOWEL_MAX_RANGE_DAYS"] = settings.max_range_days
    app.extensions["stackyard.vowel.settings"] = settings
    app.extensions["stackyard.vowel.data"] = interface or make_interface(settings)
    app.add_url_rule("/initial", view_func=initial, methods=["POST"])
    app.add_url_rule("/followup", view_func=followup, methods=["POST"])
    app.add_url_rule("/dashboard/symbol/<path:symbol>", view_func=symbol_dashboard)
    app.add_url_rule("/dashboard/range/<lower>/<path:upper>", view_func=range_dashboard)
    app.add_url_rule("/dashboard", view_func=dashboard_page)
    app.add_url_rule("/dashboard.js", view_func=dashboard_script)
    app.add_url_rule("/health", view_func=health)
    app.register_error_handler(DataUnavailable, handle_unavailable)
    log.info("vowel service configured", extra={"backend": settings.backend})
    return app
