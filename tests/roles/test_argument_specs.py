"""Bad role input fails fast with a message that says what to fix.

Runs the real role against the controller in check mode: validation happens before
any task that could change the machine, and check mode guards against a regression.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_role(
    role: str, extra_vars: dict, tmp_path: Path, tasks_from: str = ""
) -> subprocess.CompletedProcess:
    """The role (or one of its task files) on the controller in check mode."""
    playbook = tmp_path / "play.yml"
    play = "- hosts: localhost\n  connection: local\n  gather_facts: false\n"
    if tasks_from:
        include = f"{{name: {role}, tasks_from: {tasks_from}}}"
        play += f"  tasks:\n    - ansible.builtin.include_role: {include}\n"
    else:
        play += f"  roles:\n    - role: {role}\n"
    playbook.write_text(play)
    env = {**os.environ, "ANSIBLE_ROLES_PATH": str(ROOT / "roles"), "ANSIBLE_NOCOLOR": "1"}
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "--check",
            "-i",
            "localhost,",
            str(playbook),
            "-e",
            json.dumps(extra_vars),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("extra_vars", "expected"),
    [
        ({"common_extra_ca_certificates": {"not": "a list"}}, "common_extra_ca_certificates"),
        ({"common_apt_cache_valid_time": "soon"}, "common_apt_cache_valid_time"),
        ({"common_extra_packages": {"jq": True}}, "common_extra_packages"),
    ],
)
def test_wrong_typed_variable_fails_with_argument_spec_message(tmp_path, extra_vars, expected):
    result = run_role("common", extra_vars, tmp_path)
    assert result.returncode != 0
    assert "Validating arguments against arg spec" in result.stdout
    assert expected in result.stdout


def test_misspelled_variable_fails_and_names_it(tmp_path):
    result = run_role("common", {"common_timzone": "Europe/Tallinn"}, tmp_path)
    assert result.returncode != 0
    assert "Unknown variable(s) common_timzone" in result.stdout
    assert "common_timezone" in result.stdout  # the list of known options helps spot the typo


@pytest.mark.parametrize(
    ("extra_vars", "expected"),
    [
        ({"kafka_tls": True}, "kafka_tls needs kafka_tls_cert_src"),
        ({"kafka_sasl": True, "kafka_sasl_admin_password": "short"}, "12 characters"),
        (
            {"kafka_sasl": True, "kafka_sasl_admin_password": 'has"quote-and-long'},
            "may not hold",
        ),
        (
            {"kafka_sasl": True, "kafka_sasl_admin_password": "ünïcode-long-enough-pass"},
            "printable",
        ),
        (
            {
                "kafka_sasl_users": [
                    {"name": "app", "password": "long-enough-pass", "update_password": "never"}
                ]
            },
            "on_create or always",
        ),
    ],
)
def test_kafka_security_settings_fail_with_what_to_fix(tmp_path, extra_vars, expected):
    """The checks of tasks/security.yml (after the common dependency, in check mode), before
    anything of Kafka's is written; no password printed."""
    extra = {"kafka_hosts_group": "all", "ansible_python_interpreter": sys.executable}
    result = run_role("kafka", {**extra, **extra_vars}, tmp_path, tasks_from="security")
    assert result.returncode != 0
    assert expected in result.stdout
    assert "long-enough-pass" not in result.stdout and 'has"quote' not in result.stdout
