"""gunicorn settings of the vowel service.

``gunicorn --config python:stackyard.vowel.gunicorn_conf``: everything from the service's
settings (VOWEL_BIND, VOWEL_WORKERS, VOWEL_THREADS, VOWEL_TIMEOUT, VOWEL_GRACEFUL_TIMEOUT,
VOWEL_KEEPALIVE): sync workers when threads is 1, else gthread. With
``STACKYARD_GUNICORN_STATE`` set, the effective configuration is written there as JSON
once the master is ready (``stackyard.web.gunicorn.when_ready``).
"""

from stackyard.vowel.config import load_settings
from stackyard.web import gunicorn

_settings = load_settings()

globals().update(
    gunicorn.from_settings(
        _settings, wsgi_app="stackyard.vowel.app:create_app()", proc_name="stackyard-vowel"
    )
)
