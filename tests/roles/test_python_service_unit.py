"""python_service renders the same hardened unit for gunicorn services and for commands."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles/python_service"
COMMON = {
    "python_service_name": "svc",
    "python_service_home": "/opt/stackyard/svc",
    "python_service_user": "stackyard",
    "python_service_group": "stackyard",
    "python_service_bind": "127.0.0.1:8000",
    "python_service_workers": 2,
    "python_service_threads": 1,
    "python_service_timeout": 120,
    "python_service_graceful_timeout": 60,
    "python_service_keepalive": 5,
    "python_service_memory_max": "1G",
    "python_service_read_write_paths": [],
    "python_service_address_families": ["AF_INET", "AF_UNIX"],
    "python_service_environment": {"A": "1"},
    "python_service_secret_environment": {"B": "secret"},
    "python_service_env_prefix": "SVC_",
}


def render(tmp_path: Path, **overrides) -> tuple[str, str]:
    """The unit and environment file the role's templates make of these variables."""
    play = tmp_path / "play.yml"
    play.write_text(
        "- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n"
        f"    - ansible.builtin.include_vars: {ROLE}/vars/main.yml\n"
        f"    - ansible.builtin.template: {{src: {ROLE}/templates/service.unit.j2, "
        f"dest: {tmp_path}/unit}}\n"
        f"    - ansible.builtin.template: {{src: {ROLE}/templates/service.env.j2, "
        f"dest: {tmp_path}/env}}\n"
    )
    variables = {**COMMON, "python_service_gunicorn_config": "", "python_service_command": []}
    variables.update(overrides, ansible_python_interpreter=sys.executable)
    subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", str(play),
         "-e", json.dumps(variables)],
        check=True, capture_output=True, text=True, timeout=120,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1"},
    )  # fmt: skip
    return (tmp_path / "unit").read_text(), (tmp_path / "env").read_text()


@pytest.fixture(scope="module")
def units(tmp_path_factory):
    gunicorn = render(
        tmp_path_factory.mktemp("gunicorn"),
        python_service_gunicorn_config="python:stackyard.rates.gunicorn_conf",
    )
    command = render(
        tmp_path_factory.mktemp("command"),
        python_service_command=["python", "-m", "stackyard.pipeline.sink_s3"],
    )
    return gunicorn, command


def test_a_gunicorn_service_runs_gunicorn_with_its_config_and_reloads_with_hup(units):
    (unit, env), _ = units
    gunicorn = "/opt/stackyard/svc/venv/bin/gunicorn"
    assert f"ExecStart={gunicorn} --config python:stackyard.rates.gunicorn_conf" in unit
    assert "ExecReload=/bin/kill -s HUP $MAINPID" in unit
    assert 'SVC_WORKERS="2"' in env and 'B="secret"' in env


def test_a_command_runs_from_the_venv_without_gunicorn_settings(units):
    _, (unit, env) = units
    assert "ExecStart=/opt/stackyard/svc/venv/bin/python -m stackyard.pipeline.sink_s3" in unit
    assert "ExecReload" not in unit
    assert "SVC_" not in env and "STACKYARD_GUNICORN_STATE" not in env
    assert 'A="1"' in env and 'B="secret"' in env


def test_both_modes_share_the_same_hardening(units):
    (gunicorn, _), (command, _) = units

    def hardening(unit: str) -> list[str]:
        return [line for line in unit[unit.index("UMask") :].splitlines() if "=" in line]

    assert hardening(gunicorn) == hardening(command)
    assert "ProtectSystem=strict" in command and "NoNewPrivileges=true" in command
