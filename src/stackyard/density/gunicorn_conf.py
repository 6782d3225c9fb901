"""gunicorn settings of app_a and app_b (``--config python:stackyard.density.gunicorn_conf``).

Workers and threads come from ``DENSITY_WORKERS``/``DENSITY_THREADS`` (command line flags
win). Each worker process starts its own capture publisher on its first request (after the
fork); ``worker_exit`` flushes it to Kafka or the spool when the worker stops (SIGTERM).
"""

import os

workers = int(os.environ.get("DENSITY_WORKERS") or 2)
threads = int(os.environ.get("DENSITY_THREADS") or 1)
worker_class = "gthread" if threads > 1 else "sync"
timeout = 30
graceful_timeout = 20
keepalive = 5
accesslog = None
errorlog = "-"
preload_app = False


def worker_exit(server, worker) -> None:
    app = getattr(worker, "wsgi", None)
    publisher = getattr(app, "extensions", {}).get("stackyard.density.publisher")
    if publisher is not None:
        publisher.close()
