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
    gunicorn.from_settings(
        _settings, wsgi_app="stackyard.rates.app:create_app()", proc_name="stackyard-rates"
    )
)
