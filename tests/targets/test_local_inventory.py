"""inventories/local as a user runs it: everything on the machine that runs Ansible.

The machine is a fresh systemd container of the substrate image. A `git clone` of this
repository's committed HEAD bootstraps itself there with `STACKYARD_DEPLOY_ONLY=1 make
venv` and deploys with `ansible-playbook -i inventories/local`; the rates API then
answers on localhost, and a second run changes nothing.

Downloads: `make venv` installs from a copy of the pinned requirements that the controller
keeps in $STACKYARD_CACHE/pip-downloads/<hash of requirements/deploy.txt> (filled once by
`pip download`, safe to delete), mounted read-only as the container's only package index:
the index in a container here is several times slower than on the controller, and pip's own
cache stays empty behind the proxy. The deployment itself (apt, the wheelhouse build) uses
the network like any host.
"""

import hashlib
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IMAGE = os.environ.get("STACKYARD_IMAGE", "stackyard/debian-systemd:bookworm")
NAME = "sy-targets-local"
PLAYBOOK = "playbooks/rates.yml"  # the whole site.yml comes with the end-to-end test
SYSTEMD = [
    "--cgroupns=host",
    "--volume=/sys/fs/cgroup:/sys/fs/cgroup:rw",
    "--cap-add=SYS_ADMIN",
    "--security-opt=seccomp=unconfined",
    "--tmpfs=/run",
    "--tmpfs=/run/lock",
]

pytestmark = pytest.mark.targets
CACHE = Path(os.environ.get("STACKYARD_CACHE", Path.home() / ".cache/stackyard"))


def _requirement_downloads() -> Path:
    """The pinned requirements' distributions on the controller, downloaded once per set."""
    requirements = ROOT / "requirements/deploy.txt"  # what STACKYARD_DEPLOY_ONLY=1 installs
    digest = hashlib.sha1(requirements.read_bytes()).hexdigest()[:12]
    downloads = CACHE / "pip-downloads" / digest
    if not (downloads / ".complete").exists():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--dest",
                str(downloads),
                "--requirement",
                str(requirements),
            ],
            check=True,
            timeout=1200,
        )
        (downloads / ".complete").touch()
    return downloads


def _exec(script: str, timeout: float = 900) -> str:
    proc = subprocess.run(
        [
            "docker",
            "exec",
            "--workdir",
            "/srv/stackyard",
            NAME,
            "bash",
            "-euo",
            "pipefail",
            "-c",
            script,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout[-6000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def machine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    clone = tmp_path_factory.mktemp("local") / "stackyard"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True, timeout=120)
    downloads = _requirement_downloads()
    # The controller's pip configuration (index mirror, certificates), when it has one.
    pip_conf = [f"--volume={p}:{p}:ro" for p in ["/etc/pip.conf"] if Path(p).is_file()]
    pip_env = [
        f"--env={k}={v}"
        for k, v in os.environ.items()
        if k in {"PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_TRUSTED_HOST"}
    ]
    subprocess.run(["docker", "rm", "--force", NAME], capture_output=True, check=False)
    subprocess.run(
        [
            "docker",
            "run",
            "--detach",
            "--name",
            NAME,
            "--hostname",
            NAME,
            *SYSTEMD,
            f"--volume={clone}:/srv/stackyard",
            f"--volume={downloads}:/srv/pip-downloads:ro",
            *pip_conf,
            *pip_env,
            IMAGE,
            "/lib/systemd/systemd",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    try:
        _exec("systemctl is-system-running --wait || true", timeout=120)
        yield
    finally:
        subprocess.run(["docker", "rm", "--force", NAME], capture_output=True, check=False)


def test_a_fresh_clone_deploys_to_itself_and_reruns_unchanged(machine: None, recap) -> None:
    # what docs/rates.md tells a user to run on a fresh Debian host
    _exec(
        "apt-get update -qq && DEBIAN_FRONTEND=noninteractive"
        " apt-get install -y -qq --no-install-recommends git make"
    )
    _exec(
        "PIP_NO_INDEX=1 PIP_FIND_LINKS=/srv/pip-downloads STACKYARD_DEPLOY_ONLY=1 make venv",
        timeout=600,
    )
    deploy = f".venv/bin/ansible-playbook {shlex.quote(PLAYBOOK)} -i inventories/local"

    first = recap(_exec(deploy))
    assert set(first) == {"localhost"}
    assert first["localhost"]["failed"] == 0 and first["localhost"]["changed"] > 0, first

    health = json.loads(_exec("curl -fsS http://127.0.0.1:3000/health"))
    assert health
    rates = json.loads(
        _exec(
            "curl -fsS 'http://127.0.0.1:3000/rates?date_from=2016-01-01&date_to=2016-01-10"
            "&orig_code=CNGGZ&dest_code=north_europe_main'"
        )
    )
    assert sorted(row["day"] for row in rates["rates"]) == [
        f"2016-01-{d:02d}" for d in range(1, 11)
    ]

    again = recap(_exec(deploy))
    assert again["localhost"]["changed"] == 0, again
