"""gunicorn settings of the rates API: ``gunicorn --config python:stackyard.rates.gunicorn_conf``.

Everything comes from the app's settings (``RATES_BIND``, ``RATES_WORKERS``,
``RATES_THREADS``, ``RATES_TIMEOUT``, ``RATES_GRACEFUL_TIMEOUT``, ``RATES_KEEPALIVE``, or
the ``RATES_CONFIG`` TOML file): sync workers when ``RATES_THREADS`` is 1, else gthread.
Deployments pass no other flag, so the settings are the one source. With
``STACKYARD_GUNICORN_STATE`` set, the effective configuration is written there as JSON
once the master is ready (``stackyard.web.gunicorn.when_ready``).
"""

from stackyard.rates.config import load_settings
from stackyard.web import gunicorn

_settings = load_settings()

globals().update(
    gunicorn.config(
        wsgi_app="stackyard.rates.app:create_app()",
        bind=_settings.bind,
        workers=_settings.workers,
        threads=_settings.threads,
        timeout=_settings.timeout,
        graceful_timeout=_settings.graceful_timeout,
        keepalive=_settings.keepalive,
        log_level=_settings.log_level,
        proc_name="stackyard-rates",
    )
)
