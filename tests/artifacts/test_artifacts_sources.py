"""The artifact mechanism's sources, proven with the real role against a loopback "vendor".

A local HTTP server on 127.0.0.1 serves prepared archives and checksum files; the
declarations point their vendor URLs at it. No real vendor is contacted.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import os
import subprocess
import threading
import zipfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from artifact_cache import ROOT

BIN = ROOT / ".venv" / "bin"


class Vendor:
    """A loopback HTTP server over a directory, counting the requests it answered."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[str] = []
        vendor = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                vendor.requests.append(self.path)

        self.server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), partial(Handler, directory=str(root))
        )
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def publish(self, name: str, data: bytes) -> str:
        (self.root / name).write_bytes(data)
        return hashlib.sha256(data).hexdigest()


@pytest.fixture
def vendor(tmp_path: Path) -> Iterator[Vendor]:
    (tmp_path / "www").mkdir()
    server = Vendor(tmp_path / "www")
    yield server
    server.server.shutdown()


def declaration(
    name: str, vendor: Vendor, checksum: str, *, unpack: bool = False, files: list | None = None
) -> dict:
    archive = f"{name}-1.0.tar.gz" if not unpack else f"{name}-1.0.zip"
    return {
        "name": name,
        "version": "1.0",
        "files": files or [archive],
        "inputs": {"test": True},
        "sources": [
            {"type": "local"},
            {
                "type": "vendor",
                "url": f"{vendor.url}/{archive}",
                "checksum": checksum,
                "unpack": unpack,
            },
        ],
    }


def fill(
    tmp_path: Path, declarations: list, local_dirs: list | None = None
) -> subprocess.CompletedProcess:
    extra = {
        "artifacts_dir": str(tmp_path / "cache"),
        "artifacts_local_dirs": [str(d) for d in local_dirs or []],
        "artifacts_declarations": declarations,
    }
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
    playbook = ROOT / "playbooks" / "artifacts.yml"
    return subprocess.run(
        [str(BIN / "ansible-playbook"), str(playbook), "-e", json.dumps(extra)],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip


def manifest(tmp_path: Path, name: str) -> dict:
    return json.loads((tmp_path / "cache" / name / "1.0" / "manifest.json").read_text())


def test_vendor_download_verified_by_a_checksum_file_is_recorded_and_not_fetched_twice(
    tmp_path: Path, vendor: Vendor
) -> None:
    digest = vendor.publish("demo-1.0.tar.gz", b"demo archive")
    vendor.publish("SHA256SUMS", f"{'0' * 64}  other.tar.gz\n{digest}  demo-1.0.tar.gz\n".encode())
    decl = declaration("demo", vendor, f"sha256:{vendor.url}/SHA256SUMS")
    first = fill(tmp_path, [decl])
    assert first.returncode == 0, first.stdout + first.stderr
    recorded = manifest(tmp_path, "demo")
    assert recorded["source"]["type"] == "vendor"
    assert recorded["source"]["url"] == f"{vendor.url}/demo-1.0.tar.gz"
    assert recorded["files"] == {"demo-1.0.tar.gz": digest} and recorded["sha256"] == digest
    assert recorded["inputs"] == {"test": True} and recorded["built_at"]
    assert sorted(p.name for p in (tmp_path / "cache" / "demo").iterdir()) == ["1.0"]
    requests = len(vendor.requests)
    second = fill(tmp_path, [decl])
    assert second.returncode == 0, second.stdout
    assert "changed=0" in second.stdout and "nothing to do" in second.stdout
    assert len(vendor.requests) == requests


def test_checksum_mismatch_fails_clearly_and_installs_nothing(
    tmp_path: Path, vendor: Vendor
) -> None:
    vendor.publish("demo-1.0.tar.gz", b"tampered archive")
    result = fill(
        tmp_path, [declaration("demo", vendor, f"sha256:{hashlib.sha256(b'genuine').hexdigest()}")]
    )
    assert result.returncode != 0
    assert "Checksum mismatch" in result.stdout and "Nothing was installed" in result.stdout
    leftovers = (
        list((tmp_path / "cache" / "demo").iterdir())
        if (tmp_path / "cache" / "demo").exists()
        else []
    )
    assert leftovers == []


def test_local_directory_wins_over_the_vendor(tmp_path: Path, vendor: Vendor) -> None:
    local = tmp_path / "usb"
    local.mkdir()
    (local / "demo-1.0.tar.gz").write_bytes(b"from the stick")
    result = fill(tmp_path, [declaration("demo", vendor, "sha256:" + "0" * 64)], [local])
    assert result.returncode == 0, result.stdout
    assert manifest(tmp_path, "demo")["source"] == {"type": "local", "path": str(local)}
    assert vendor.requests == []


def test_zip_from_the_vendor_is_unpacked_to_the_declared_file(
    tmp_path: Path, vendor: Vendor
) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("tool", b"#!/bin/sh\necho tool\n")
        archive.writestr("LICENSE.txt", b"license")
    digest = vendor.publish("tool-1.0.zip", buffer.getvalue())
    result = fill(
        tmp_path, [declaration("tool", vendor, f"sha256:{digest}", unpack=True, files=["tool"])]
    )
    assert result.returncode == 0, result.stdout
    directory = tmp_path / "cache" / "tool" / "1.0"
    assert sorted(p.name for p in directory.iterdir()) == ["manifest.json", "tool"]
    assert (directory / "tool").read_bytes() == b"#!/bin/sh\necho tool\n"


def test_unreachable_vendor_without_other_source_names_what_to_do(
    tmp_path: Path, vendor: Vendor
) -> None:
    result = fill(tmp_path, [declaration("demo", vendor, "sha256:" + "0" * 64)])
    assert result.returncode != 0
    assert "No source of demo 1.0 worked" in result.stdout and "make artifacts" in result.stdout
    assert not (tmp_path / "cache" / "demo" / "1.0").exists()


def test_deleting_one_artifact_refills_only_that_one(tmp_path: Path, vendor: Vendor) -> None:
    decls = []
    for name in ("one", "two"):
        digest = vendor.publish(f"{name}-1.0.tar.gz", name.encode())
        decls.append(declaration(name, vendor, f"sha256:{digest}"))
    assert fill(tmp_path, decls).returncode == 0
    kept = manifest(tmp_path, "two")
    for path in (tmp_path / "cache" / "one" / "1.0").iterdir():
        path.unlink()
    (tmp_path / "cache" / "one" / "1.0").rmdir()
    vendor.requests.clear()
    result = fill(tmp_path, decls)
    assert result.returncode == 0, result.stdout
    assert vendor.requests == ["/one-1.0.tar.gz"]
    assert manifest(tmp_path, "two") == kept
    assert manifest(tmp_path, "one")["files"] == {
        "one-1.0.tar.gz": hashlib.sha256(b"one").hexdigest()
    }
