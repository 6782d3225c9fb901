"""Two clones on one machine share the cached third-party venv but each imports its own code."""

import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _cached_venv() -> Path:
    pth = Path(sysconfig.get_paths()["purelib"]) / "_stackyard_cached_venv.pth"
    site_packages = re.search(r'addsitedir\("([^"]+)"\)', pth.read_text()).group(1)
    return Path(site_packages).parents[2]


def _imported_from(venv: Path) -> str:
    return subprocess.run(
        [venv / "bin/python", "-c", "import stackyard; print(stackyard.__file__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_a_second_clone_imports_its_own_code_and_leaves_ours_alone(tmp_path: Path) -> None:
    other = tmp_path / "other-clone"
    for rel in ("scripts/clone-venv.sh", "pyproject.toml", "README.md"):
        (other / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, other / rel)
    (other / "src/stackyard").mkdir(parents=True)
    (other / "src/stackyard/__init__.py").write_text('"""the other clone"""\n')

    # The other clone makes its venv after ours, from the same cached venv.
    subprocess.run(
        [other / "scripts/clone-venv.sh", _cached_venv(), other / ".venv"], check=True, cwd=other
    )

    assert _imported_from(other / ".venv") == str(other / "src/stackyard/__init__.py")
    assert _imported_from(Path(sys.prefix)) == str(ROOT / "src/stackyard/__init__.py")
    # Its tools run with its interpreter, so pytest or ansible there see its code too.
    shebang = (other / ".venv/bin/pytest").read_text().splitlines()[0]
    assert shebang == f"#!{other / '.venv/bin/python'}"
