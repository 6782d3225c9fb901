"""gunicorn settings of the vowel service.

``gunicorn --config python:stackyard.vowel.gunicorn_conf``:

Bind address, workers and threads from VOWEL_BIND, VOWEL_WORKERS, VOWEL_THREADS; command line
flags still override them.
"""

from stackyard.vowel.config import load_settings

_settings = load_settings()

wsgi_app = "stackyard.vowel.app:create_app()"
bind = [_settings.bind]
workers = _settings.workers
threads = _settings.threads
worker_class = "gthread" if _settings.threads > 1 else "sync"
timeout = 30
graceful_timeout = 30
keepalive = 5
accesslog = None
errorlog = "-"
loglevel = _settings.log_level.lower()
proc_name = "stackyard-vowel"
preload_app = False  # each worker connects to the stores itself
