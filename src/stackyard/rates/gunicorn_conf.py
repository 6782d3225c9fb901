"""gunicorn settings of the rates API: ``gunicorn --config python:stackyard.rates.gunicorn_conf``.

Bind address, workers and threads come from the same settings as the app (``RATES_BIND``,
``RATES_WORKERS``, ``RATES_THREADS``, or the ``RATES_CONFIG`` TOML file); command line
flags such as ``-b`` or ``-w`` still override them. The app itself logs every request as a
JSON line, so gunicorn's access log is off.
"""

from stackyard.rates.config import load_settings

_settings = load_settings()

wsgi_app = "stackyard.rates.app:create_app()"
bind = [_settings.bind]
workers = _settings.workers
threads = _settings.threads
worker_class = "gthread" if _settings.threads > 1 else "sync"
# batch uploads of tens of thousands of rows take a second or two; leave room
timeout = 120
# on SIGTERM, let running requests (a batch being stored) finish
graceful_timeout = 60
keepalive = 5
accesslog = None
errorlog = "-"
loglevel = _settings.log_level.lower()
proc_name = "stackyard-rates"
# the app creates its connection pool lazily in each worker, so preloading is safe
preload_app = False
