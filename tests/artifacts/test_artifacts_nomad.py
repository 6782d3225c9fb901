"""The cached Nomad agent reports the docker driver; the cached autoscaler runs."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

from artifact_cache import cached, pinned, wait_for

IMAGE = pinned("artifacts_builder_image")
# No cloud fingerprinting: it would probe metadata addresses (and dies on AWS_CA_BUNDLE).
# Its own cgroup parent, so it never shares cgroups with another Nomad on this host.
CLIENT_HCL = """
client {
  cgroup_parent = "%s"
  options = {
    "fingerprint.denylist" = "env_aws,env_gce,env_azure,env_digitalocean"
  }
}
"""


def test_cached_autoscaler_prints_its_version() -> None:
    version = pinned("artifacts_autoscaler_version")
    binary = cached("nomad-autoscaler", version) / "nomad-autoscaler"
    out = subprocess.run(
        [str(binary), "version"], capture_output=True, text=True, check=True, timeout=30
    )
    assert version in out.stdout + out.stderr


def test_cached_nomad_dev_agent_reports_the_docker_driver(tmp_path: Path) -> None:
    """`nomad agent -dev` in a throwaway container (no network, the host's Docker socket, the
    substrate's cgroup options with a cgroup parent of its own): the docker driver is healthy."""
    version = pinned("artifacts_nomad_version")
    directory = cached("nomad", version)
    name = f"sy-artifacts-nomad-{uuid.uuid4().hex[:8]}"
    (tmp_path / "client.hcl").write_text(CLIENT_HCL % name)
    subprocess.run(
        ["docker", "run", "-d", "--rm", "--name", name, "--cap-add", "SYS_ADMIN", "--cgroupns=host",
         "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
         "--network", "none", "-e", "AWS_CA_BUNDLE=",
         "-v", "/var/run/docker.sock:/var/run/docker.sock", "-v", f"{directory}:/opt/nomad:ro",
         "-v", f"{tmp_path}:/etc/nomad.d:ro", "--entrypoint", "/opt/nomad/nomad", IMAGE,
         "agent", "-dev", "-bind=127.0.0.1", "-network-interface=lo",
         "-config=/etc/nomad.d/client.hcl"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    try:

        def docker_driver() -> dict | None:
            out = subprocess.run(
                ["docker", "exec", name, "/opt/nomad/nomad", "node", "status", "-self", "-json"],
                capture_output=True,
                text=True,
                check=True,
                timeout=30,
            )
            driver = json.loads(out.stdout).get("Drivers", {}).get("docker")
            return driver if driver and driver.get("Detected") else None

        driver = wait_for(docker_driver, 90, "Nomad's docker driver")
        assert driver["Healthy"], driver
        assert "Healthy" in driver["HealthDescription"], driver
        out = subprocess.run(
            ["docker", "exec", name, "/opt/nomad/nomad", "version"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert f"Nomad v{version}" in out.stdout
    finally:
        logs = subprocess.run(["docker", "logs", name], capture_output=True, text=True, check=False)
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
        for leftover in Path("/sys/fs/cgroup").glob(f"*/{name}"):
            subprocess.run(["rmdir", str(leftover)], capture_output=True, check=False)
        print(logs.stdout[-3000:], logs.stderr[-3000:])
