"""Hosts reached over SSH as an unprivileged user with sudo: the rates API answers.

What the rates scenario proves about the answers is not repeated here; this proves that
the same playbook converges (and reconverges idempotently, molecule's own step) when
Ansible is not root on the hosts, including a root-owned venv installed through sudo.
"""

import os

import pytest
import testinfra

from stackyard.testing.http import request_json

INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
API_HOST, DB_HOST = "ssh-rates-api", "ssh-rates-db"


def host(name: str):
    return testinfra.get_host(f"ansible://{name}?ansible_inventory={INVENTORY}")


@pytest.mark.parametrize("name", [API_HOST, DB_HOST])
def test_ansible_logs_in_over_ssh_as_an_unprivileged_user(name: str) -> None:
    target = host(name)
    assert target.backend.get_variables().get("ansible_connection", "ssh") == "ssh"
    assert target.check_output("printenv SSH_CONNECTION")  # set by sshd for this session
    assert target.check_output("id -un") == "deploy"
    assert target.check_output("id -u") != "0"


def test_root_owned_venv_was_installed_through_sudo() -> None:
    venv = host(API_HOST).file("/opt/stackyard/rates-api/venv/bin/gunicorn")
    assert venv.exists
    assert venv.user == "root"


def test_api_answers_on_the_hosts_address() -> None:
    address = host(API_HOST).backend.get_variables()["ansible_host"]
    status, body = request_json("GET", f"http://{address}:3000/health")
    assert status == 200, body
    status, body = request_json(
        "GET",
        f"http://{address}:3000/rates?date_from=2016-01-01&date_to=2016-01-10"
        "&orig_code=CNGGZ&dest_code=north_europe_main",
        timeout=60,
    )
    assert status == 200, body
    assert sorted(row["day"] for row in body["rates"]) == [f"2016-01-{d:02d}" for d in range(1, 11)]
