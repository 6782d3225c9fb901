"""A self-signed certificate for 127.0.0.1 (tests' TLS servers: the MinIO front, Kafka)."""

from __future__ import annotations

import subprocess
from pathlib import Path


def self_signed(directory: Path) -> tuple[Path, Path]:
    """(certificate, key) PEM files; the key is unencrypted PKCS#8, which Kafka reads too."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    argv = [
        "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
        "-addext", "subjectAltName=IP:127.0.0.1",
    ]  # fmt: skip
    subprocess.run(argv, check=True, capture_output=True, timeout=60)  # noqa: S603 - fixed argv
    return cert, key
