"""A gunicorn configuration derived from a service's settings, and its state file.

A service's ``gunicorn_conf`` module does ``globals().update(gunicorn.config(...))`` and
the systemd unit passes nothing but ``--config python:<that module>``: one source of
settings. ``when_ready`` writes the configuration the running master actually uses (read
from gunicorn's own ``server.cfg``) as JSON to ``$STACKYARD_GUNICORN_STATE`` when that is
set, so tests and operators can compare it with the settings.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

STATE_ENV = "STACKYARD_GUNICORN_STATE"


def worker_class(threads: int) -> str:
    """``sync`` for one thread per worker, else ``gthread``."""
    return "sync" if threads == 1 else "gthread"


def effective(server: Any) -> dict[str, Any]:
    """What the gunicorn master runs with, from its parsed configuration."""
    cfg = server.cfg
    return {
        "worker_class": cfg.worker_class_str,
        "workers": cfg.workers,
        "threads": cfg.threads,
        "timeout": cfg.timeout,
        "graceful_timeout": cfg.graceful_timeout,
        "keepalive": cfg.keepalive,
        "bind": list(cfg.bind),
        "pid": server.pid,
    }


def when_ready(server: Any) -> None:
    """gunicorn hook: write the effective configuration to ``$STACKYARD_GUNICORN_STATE``."""
    path = os.environ.get(STATE_ENV)
    if not path:
        return
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(json.dumps(effective(server), indent=2) + "\n")
    tmp.replace(target)
    server.log.info("effective configuration written to %s", target)


def config(
    *,
    wsgi_app: str,
    bind: str,
    workers: int,
    threads: int,
    timeout: int,
    graceful_timeout: int,
    keepalive: int,
    log_level: str = "info",
    proc_name: str | None = None,
) -> dict[str, Any]:
    """The settings of a gunicorn config module (names as gunicorn reads them)."""
    return {
        "wsgi_app": wsgi_app,
        "bind": [b.strip() for b in bind.split(",") if b.strip()],
        "workers": workers,
        "threads": threads,
        "worker_class": worker_class(threads),
        "timeout": timeout,
        "graceful_timeout": graceful_timeout,
        "keepalive": keepalive,
        "accesslog": None,  # services log each request as a JSON line themselves
        "errorlog": "-",
        "loglevel": log_level.lower(),
        "proc_name": proc_name,
        "preload_app": False,  # pools are created lazily in each worker
        "when_ready": when_ready,
        # The nginx front bounds the request line and headers (JSON 414/431); gunicorn's
        # own limits sit at or above the front's so that its HTML errors never show.
        "limit_request_line": 8190,
        "limit_request_field_size": 8190,
        "limit_request_fields": 32768,
        # gunicorn 27's control socket (for gunicornc) is unused, and its default path is in
        # the service's home, read-only under the hardened unit: it would log an ERROR.
        "control_socket_disable": True,
    }


def from_settings(settings: Any, *, wsgi_app: str, proc_name: str) -> dict[str, Any]:
    """:func:`config` from a service's settings object (fields ``bind``, ``workers``,
    ``threads``, ``timeout``, ``graceful_timeout``, ``keepalive``, ``log_level``): what a
    service's ``gunicorn_conf`` module puts into its globals."""
    return config(
        wsgi_app=wsgi_app,
        bind=settings.bind,
        workers=settings.workers,
        threads=settings.threads,
        timeout=settings.timeout,
        graceful_timeout=settings.graceful_timeout,
        keepalive=settings.keepalive,
        log_level=settings.log_level,
        proc_name=proc_name,
    )
