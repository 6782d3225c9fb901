"""gunicorn settings of app_a and app_b (``--config python:stackyard.density.gunicorn_conf``).

Everything comes from the app's settings (``DENSITY_APP_NAME`` picks the app;
``DENSITY_BIND``, ``DENSITY_WORKERS``, ``DENSITY_THREADS``, ``DENSITY_TIMEOUT``,
``DENSITY_GRACEFUL_TIMEOUT``, ``DENSITY_KEEPALIVE``): sync workers when threads is 1, else
gthread; with ``STACKYARD_GUNICORN_STATE`` set, the effective configuration is written there
(``stackyard.web.gunicorn``). Each worker process starts its own capture publisher process
once forked (``post_worker_init``: it replays a spool left by an earlier process at once,
not on the next request); ``worker_exit`` lets it flush to Kafka or the spool and waits for
it when the worker stops (SIGTERM).
"""

from stackyard.density.capture.relay import EXTENSION
from stackyard.density.config import load_settings
from stackyard.web import gunicorn

_settings = load_settings()

globals().update(
    gunicorn.from_settings(
        _settings,
        wsgi_app=f"stackyard.density.{_settings.app_name}:create_app()",
        proc_name=f"stackyard-{_settings.app_name}",
    )
)


def _relay(worker):
    app = getattr(worker, "wsgi", None)
    return getattr(app, "extensions", {}).get(EXTENSION)


def post_worker_init(worker) -> None:
    relay = _relay(worker)
    if relay is not None:
        relay.start()


def worker_exit(server, worker) -> None:
    relay = _relay(worker)
    if relay is not None:
        relay.close()
