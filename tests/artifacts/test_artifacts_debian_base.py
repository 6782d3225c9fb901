"""The cached Debian base image tarball imports into Docker and runs python3."""

from __future__ import annotations

import subprocess
import uuid

from artifact_cache import cached, pinned


def test_cached_base_image_imports_and_runs_python() -> None:
    suite = pinned("artifacts_debian_suite")
    tarball = cached("debian-base", suite) / f"debian-{suite}-minbase.tar"
    tag = f"stackyard-test/debian-base:{uuid.uuid4().hex[:12]}"
    subprocess.run(
        ["docker", "import", str(tarball), tag], check=True, capture_output=True, timeout=120
    )
    try:
        out = subprocess.run(
            ["docker", "run", "--rm", "--network", "none", tag, "python3", "-c", "print(1)"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        assert out.stdout == "1\n"
    finally:
        subprocess.run(["docker", "rmi", tag], capture_output=True, check=False)
