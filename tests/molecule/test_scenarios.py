"""Run every molecule scenario (create, converge, idempotence, verify, destroy) as a test.

Each role's `molecule/<scenario>/` and each whole-stack scenario under `molecule/`
becomes one test, so pytest's summary counts them. Deselect with `-m "not molecule"`;
pick some with `-k common`. Scenarios run concurrently under `make test` (xdist workers;
tests/conftest.py orders them longest first). The full molecule log of each run is kept under
$STACKYARD_CACHE/logs/ and its tail is shown on failure.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted(ROOT.glob("roles/*/molecule/*/molecule.yml")) + sorted(
    ROOT.glob("molecule/*/molecule.yml")
)
LOG_DIR = Path(os.environ.get("STACKYARD_CACHE", Path.home() / ".cache/stackyard")) / "logs"
# Scenarios whose id contains one of these words run one at a time on one xdist worker:
# Nomad leaves cgroup directories on the host that two Nomad agents would share.
EXCLUSIVE_GROUPS = ("nomad",)


def _scenario_id(molecule_yml: Path) -> str:
    project = molecule_yml.parents[2]
    owner = "stack" if project == ROOT else project.name
    return f"{owner}-{molecule_yml.parent.name}"


def _param(molecule_yml: Path):
    instance = _scenario_id(molecule_yml)
    groups = [word for word in EXCLUSIVE_GROUPS if word in instance]
    marks = [pytest.mark.xdist_group(groups[0])] if groups else []
    return pytest.param(molecule_yml, id=instance, marks=marks)


@pytest.mark.molecule
@pytest.mark.parametrize("molecule_yml", [_param(s) for s in SCENARIOS])
def test_molecule_scenario_passes(molecule_yml: Path) -> None:
    instance = _scenario_id(molecule_yml)
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log_path = LOG_DIR / f"molecule-{instance}.log"
    bin_dir = Path(sys.executable).parent  # molecule calls ansible-* by name
    env = {**os.environ, "STACKYARD_INSTANCE": instance, "NO_COLOR": "1", "PY_COLORS": "0"}
    env.update(ANSIBLE_FORCE_COLOR="0", PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    with log_path.open("w") as log:
        proc = subprocess.run(
            [
                str(bin_dir / "molecule"),
                "test",
                "--scenario-name",
                molecule_yml.parent.name,
            ],
            cwd=molecule_yml.parents[2],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    if proc.returncode != 0:
        tail = "".join(log_path.read_text(errors="replace").splitlines(keepends=True)[-80:])
        pytest.fail(f"molecule test failed for {instance} (full log: {log_path})\n{tail}")
