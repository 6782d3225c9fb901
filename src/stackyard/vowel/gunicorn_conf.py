"""gunicorn settings of the vowel service.

``gunicorn --config python:stackyard.vowel.gunicorn_conf``: bind address, workers and
threads from VOWEL_BIND, VOWEL_WORKERS, VOWEL_THREADS (sync workers when threads is 1, else
gthread). With ``STACKYARD_GUNICORN_STATE`` set, the effective configuration is written
there as JSON once the master is ready (``stackyard.web.gunicorn.when_ready``).
"""

from stackyard.vowel.config import load_settings
from stackyard.web import gunicorn

_settings = load_settings()

globals().update(
    gunicorn.config(
        wsgi_app="stackyard.vowel.app:create_app()",
        bind=_settings.bind,
        workers=_settings.workers,
        threads=_settings.threads,
        timeout=30,
        graceful_timeout=30,
        keepalive=5,
        log_level=_settings.log_level,
        proc_name="stackyard-vowel",
    )
)
