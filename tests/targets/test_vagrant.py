"""`vagrant up --provider=docker` with the project's Vagrantfile, as a user runs it.

Machines are systemd containers of docker/ssh-target, reached by Ansible over SSH as
`vagrant` with Vagrant's insecure key, exactly as the VirtualBox/libvirt boxes are. The
rates environment is deployed (STACKYARD_PLAYBOOK); the whole stack comes with the
end-to-end test. Reuses the controller's caches: the wheelhouse ($STACKYARD_CACHE) and
Docker's layer cache for the image.
"""

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
INVENTORY = ROOT / "inventories/vagrant/hosts.yml"

pytestmark = [
    pytest.mark.targets,
    pytest.mark.skipif(shutil.which("vagrant") is None, reason="vagrant is not installed"),
]


def _hosts(group: dict) -> dict[str, dict]:
    found = {name: vars or {} for name, vars in (group.get("hosts") or {}).items()}
    for child in (group.get("children") or {}).values():
        found.update(_hosts(child or {}))
    return found


def _group_hosts(group: dict, name: str) -> list[str]:
    for child_name, child in (group.get("children") or {}).items():
        if child_name == name:
            return list(_hosts(child or {}))
        found = _group_hosts(child or {}, name)
        if found:
            return found
    return []


def _vagrant(env: dict[str, str], *args: str, timeout: float = 1200) -> str:
    proc = subprocess.run(
        ["vagrant", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, f"vagrant {' '.join(args)} failed:\n{proc.stdout[-6000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def vagrant_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        # machine state outside the clone: a user's own `vagrant up` here is left alone
        "VAGRANT_DOTFILE_PATH": str(tmp_path_factory.mktemp("vagrant")),
        "VAGRANT_DEFAULT_PROVIDER": "docker",
        "VAGRANT_NO_COLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "STACKYARD_PLAYBOOK": "playbooks/rates.yml",
    }
    try:
        yield env
    finally:
        subprocess.run(
            ["vagrant", "destroy", "--force"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=300,
            check=False,
        )


def test_machines_are_the_inventory_hosts(vagrant_env: dict[str, str]) -> None:
    status = _vagrant(vagrant_env, "status", "--machine-readable", timeout=120)
    machines = {line.split(",")[1] for line in status.splitlines() if ",state," in line}
    inventory = yaml.safe_load(INVENTORY.read_text())["all"]
    assert machines == set(_hosts(inventory))


def test_vagrant_up_deploys_and_reprovisions_unchanged(
    vagrant_env: dict[str, str], recap, rates_api_answers
) -> None:
    inventory = yaml.safe_load(INVENTORY.read_text())["all"]
    hosts = _hosts(inventory)

    up = _vagrant(vagrant_env, "up", "--provider=docker", "--no-parallel")
    first = recap(up)
    assert set(first) == {*hosts, "localhost"}, up[-3000:]
    assert all(r["failed"] == 0 and r["unreachable"] == 0 for r in first.values()), first

    for api in _group_hosts(inventory, "rates_api"):
        rates_api_answers(f"http://{hosts[api]['ansible_host']}:3000")

    again = recap(_vagrant(vagrant_env, "provision"))
    assert set(again) == set(first)
    assert {host: r["changed"] for host, r in again.items()} == dict.fromkeys(again, 0), again
