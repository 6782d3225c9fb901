"""gunicorn settings of app_a and app_b (``--config python:stackyard.density.gunicorn_conf``).

Everything comes from the app's settings (``DENSITY_APP_NAME`` picks the app;
``DENSITY_BIND``, ``DENSITY_WORKERS``, ``DENSITY_THREADS``, ``DENSITY_TIMEOUT``,
``DENSITY_GRACEFUL_TIMEOUT``, ``DENSITY_KEEPALIVE``): sync workers when threads is 1, else
gthread; with ``STACKYARD_GUNICORN_STATE`` set, the effective configuration is written there
(``stackyard.web.gunicorn``). Each worker process starts its own capture publisher on its
first request (after the fork); ``worker_exit`` flushes it to Kafka or the spool when the
worker stops (SIGTERM).
"""

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


def worker_exit(server, worker) -> None:
    app = getattr(worker, "wsgi", None)
    publisher = getattr(app, "extensions", {}).get("stackyard.density.publisher")
    if publisher is not None:
        publisher.close()
