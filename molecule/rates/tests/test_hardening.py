"""What runs is what is configured, and it runs locked down.

The running gunicorn's effective settings (written by its when_ready hook to
/run/rates-api/gunicorn.json) equal group_vars/rates.yml; the unit scores 5 or lower in
systemd-analyze security; the database admits the API's role only from the API host and
only over TLS.
"""

import json
import re
import urllib.request

import psycopg2
import pytest

from conftest import container_ip


def worker_kind(worker_class: str) -> str:
    """ "sync", "gthread", ... whether gunicorn reports a short name or a class path."""
    name = worker_class.rsplit(".", 1)[-1].lower()
    return "gthread" if "thread" in name else name.removesuffix("worker")


def test_running_gunicorn_uses_the_configured_workers_threads_and_timeouts(api_host, group_vars):
    state = json.loads(api_host.file("/run/rates-api/gunicorn.json").content_string)
    threads = group_vars["rates_api_threads"]
    assert worker_kind(state["worker_class"]) == ("sync" if threads == 1 else "gthread")
    assert state["workers"] == group_vars["rates_api_workers"]
    assert state["threads"] == threads
    assert state["timeout"] == group_vars["rates_api_timeout"]
    assert state["graceful_timeout"] == group_vars["rates_api_graceful_timeout"]


def test_gunicorn_is_started_with_its_config_module_only(api_host):
    unit = api_host.file("/etc/systemd/system/rates-api.service").content_string
    exec_start = next(ln for ln in unit.splitlines() if ln.startswith("ExecStart="))
    assert exec_start.split()[1:] == ["--config", "python:stackyard.rates.gunicorn_conf"]


def test_unit_exposure_is_5_or_lower(api_host):
    out = api_host.check_output("systemd-analyze security --no-pager rates-api.service")
    score = float(re.search(r"Overall exposure level for \S+: ([\d.]+)", out).group(1))
    print(f"\nsystemd-analyze security rates-api.service: {score}")
    assert score <= 5.0


def test_api_runs_with_the_memory_cap(api_host, group_vars):
    out = api_host.check_output("systemctl show -p MemoryMax --value rates-api.service")
    want = group_vars["rates_api_memory_max"]
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    assert int(out) == int(want[:-1]) * units[want[-1]]


def test_api_connects_to_the_database_over_tls(db, api_url):
    urllib.request.urlopen(f"{api_url}/health", timeout=30).read()
    sessions = db.rows(
        "SELECT s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)"
        " WHERE a.usename = 'rates_api'"
    )
    assert sessions, "the API holds a connection"
    assert all(ssl for (ssl,) in sessions)


def connect(api_env, **kwargs):
    return psycopg2.connect(
        host=kwargs.pop("host"),
        port=int(api_env.get("RATES_DB_PORT", 5432)),
        dbname=api_env["RATES_DB_NAME"],
        user=api_env["RATES_DB_USER"],
        password=api_env["RATES_DB_PASSWORD"],
        connect_timeout=10,
        **kwargs,
    )


def test_database_refuses_the_api_role_from_another_host(api_env, db_host):
    # the controller is on the same network as both hosts, with the right password
    with pytest.raises(psycopg2.OperationalError, match=r"no pg_hba\.conf entry"):
        connect(api_env, host=container_ip(db_host.backend.name), sslmode="require")


PLAINTEXT_LOGIN = """
import os, psycopg2
try:
    psycopg2.connect(sslmode="disable", connect_timeout=10)
except psycopg2.OperationalError as err:
    print(err)
"""


def test_database_refuses_plaintext_from_the_api_host(api_env, api_host, db_host):
    # from the admitted host, with the right password, but without TLS (libpq reads PG*)
    cmd = api_host.run(
        "env PGHOST=%s PGDATABASE=%s PGUSER=%s PGPASSWORD=%s %s -c %s",
        container_ip(db_host.backend.name),
        api_env["RATES_DB_NAME"],
        api_env["RATES_DB_USER"],
        api_env["RATES_DB_PASSWORD"],
        "/opt/stackyard/rates-api/venv/bin/python",
        PLAINTEXT_LOGIN,
    )
    assert "no pg_hba.conf entry" in cmd.stdout, cmd.stdout + cmd.stderr
    assert "no encryption" in cmd.stdout
