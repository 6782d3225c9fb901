"""Behaviour of the nomad role, proven from the controller over the HTTP API: ACLs refuse
anonymous and wrong tokens, the bootstrap token is the management token, the node is
ready, eligible and has a healthy docker driver with image GC off, and the autoscaler
answers and reaches Nomad with its token."""

import os

import pytest
import requests
import testinfra

INSTANCE = f"sy-{os.environ.get('STACKYARD_INSTANCE', 'nomad-default')}"
TOKEN = "6f1ab5c4-1d39-4e0c-9b4a-0c7d2f3e8a11"  # test only; must match converge.yml


@pytest.fixture(scope="module")
def host():
    return testinfra.get_host(f"docker://{INSTANCE}")


@pytest.fixture(scope="module")
def api(host):
    base = f"http://{host.interface('eth0').addresses[0]}:4646"

    def get(path: str, token: str | None = TOKEN) -> requests.Response:
        headers = {"X-Nomad-Token": token} if token else {}
        return requests.get(base + path, headers=headers, timeout=10)

    return get


@pytest.mark.parametrize("token", [None, "00000000-0000-0000-0000-000000000000"])
def test_requests_without_a_valid_token_are_refused(api, token):
    assert api("/v1/jobs", token).status_code == 403


def test_the_bootstrap_token_is_the_management_token(api):
    r = api("/v1/acl/token/self")
    assert r.status_code == 200 and r.json()["Type"] == "management"


def test_the_node_is_ready_eligible_and_runs_docker_with_image_gc_off(api, host):
    (node,) = api("/v1/nodes").json()
    detail = api(f"/v1/node/{node['ID']}").json()
    assert (detail["Status"], detail["SchedulingEligibility"]) == ("ready", "eligible")
    assert detail["Drivers"]["docker"]["Healthy"]
    probe = detail["HostVolumes"]["probe"]
    assert (probe["Path"], probe["ReadOnly"]) == ("/srv/probe", True)
    config = host.file("/etc/nomad.d/nomad.json").content_string
    assert '"image": false' in config


def test_the_agent_is_a_server_with_a_leader(api):
    assert api("/v1/status/leader").json().endswith(":4647")
    assert len(api("/v1/agent/members").json()["Members"]) == 1


def test_the_autoscaler_is_healthy_and_reaches_nomad(host):
    probe = "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/v1/health')"
    host.run_test(f'python3 -c "{probe}"')
    logs = host.check_output("journalctl -u nomad-autoscaler --no-pager")
    assert "starting policy source" in logs and "403" not in logs
