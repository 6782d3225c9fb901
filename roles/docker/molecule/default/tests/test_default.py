"""Behaviour of the docker role: a container's published port answers over the network,
logs rotate as configured, and containers survive an engine restart (live-restore)."""

import json
import os
import subprocess
import time

import pytest
import requests
import testinfra

INSTANCE = f"sy-{os.environ.get('STACKYARD_INSTANCE', 'docker-default')}"
BASE = "stackyard/debian-base:bookworm"  # in the controller's Docker (make artifacts)


@pytest.fixture(scope="module")
def host():
    return testinfra.get_host(f"docker://{INSTANCE}")


@pytest.fixture(scope="module")
def server(host):
    """python3's http.server in a container of the base image, port 8000 published on 18080."""
    if host.run(f"docker image inspect {BASE}").rc != 0:
        save = subprocess.Popen(["docker", "save", BASE], stdout=subprocess.PIPE)
        subprocess.run(["docker", "exec", "-i", INSTANCE, "docker", "load"], stdin=save.stdout,
                       check=True, capture_output=True)  # fmt: skip
        assert save.wait() == 0
    host.run("docker rm -f probe")
    host.run_test(f"docker run -d --name probe -p 18080:8000 {BASE} python3 -m http.server 8000")
    url = f"http://{host.interface('eth0').addresses[0]}:18080/"
    for _ in range(30):
        try:
            requests.get(url, timeout=3)
            break
        except requests.ConnectionError:
            time.sleep(1)
    yield url
    host.run("docker rm -f probe")


def test_the_engine_uses_overlay2_and_the_configured_logs(host):
    info = json.loads(host.check_output("docker info --format '{{json .}}'"))
    assert info["Driver"] == "overlay2"
    assert info["LoggingDriver"] == "json-file"
    assert "stackyard.probe=1" in info["Labels"]  # an override


def test_a_published_port_answers_from_another_host(server):
    assert requests.get(server, timeout=10).status_code == 200


def test_container_logs_rotate_as_configured(host, server):
    fmt = "'{{json .HostConfig.LogConfig}}'"
    config = json.loads(host.check_output(f"docker inspect --format {fmt} probe"))
    assert config == {"Type": "json-file", "Config": {"max-size": "5m", "max-file": "2"}}


def test_containers_keep_running_through_an_engine_restart(host, server):
    before = host.check_output("docker inspect --format '{{.State.Pid}}' probe")
    host.run_test("systemctl restart docker")
    host.run_test("timeout 60 sh -c 'until docker info >/dev/null 2>&1; do sleep 1; done'")
    assert host.check_output("docker inspect --format '{{.State.Pid}}' probe") == before
    assert requests.get(server, timeout=10).status_code == 200
