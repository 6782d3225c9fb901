"""gunicorn configuration from settings; its state file from a real gunicorn master."""

import json
import os
import sys
from pathlib import Path

from stackyard.testing.http import request_json, serving
from stackyard.testing.pgcluster import free_port
from stackyard.web import gunicorn

GUNICORN = Path(sys.executable).parent / "gunicorn"


def test_worker_class_follows_threads():
    assert gunicorn.worker_class(1) == "sync"
    assert gunicorn.worker_class(4) == "gthread"


def test_config_names_what_gunicorn_reads():
    conf = gunicorn.config(
        wsgi_app="m:app",
        bind="127.0.0.1:1, unix:/run/x.sock",
        workers=4,
        threads=1,
        timeout=30,
        graceful_timeout=20,
        keepalive=2,
    )
    assert conf["bind"] == ["127.0.0.1:1", "unix:/run/x.sock"]
    assert conf["worker_class"] == "sync" and conf["when_ready"] is gunicorn.when_ready


def test_sync_workers_report_their_state(tmp_path):
    """A sync config module (threads 1) under a real gunicorn: the state file says so."""
    port = free_port()
    (tmp_path / "svc_conf.py").write_text(
        "from stackyard.web import gunicorn\n"
        "globals().update(gunicorn.config(wsgi_app='svc_app:app', "
        f"bind='127.0.0.1:{port}', workers=3, threads=1, timeout=42, "
        "graceful_timeout=7, keepalive=4))\n"
    )
    (tmp_path / "svc_app.py").write_text(
        "def app(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'application/json')])\n"
        "    return [b'{}']\n"
    )
    state = tmp_path / "state.json"
    env = {**os.environ, "PYTHONPATH": str(tmp_path), gunicorn.STATE_ENV: str(state)}
    argv = [str(GUNICORN), "--config", "python:svc_conf", "--chdir", str(tmp_path)]
    with serving(argv, env, port) as proc:
        assert request_json("GET", f"http://127.0.0.1:{port}/") == (200, {})
        written = json.loads(state.read_text())
    assert written == {
        "worker_class": "sync",
        "workers": 3,
        "threads": 1,
        "timeout": 42,
        "graceful_timeout": 7,
        "keepalive": 4,
        "bind": [f"127.0.0.1:{port}"],
        "pid": proc.pid,
    }
