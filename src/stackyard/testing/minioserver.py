"""A throwaway MinIO server for tests and benchmarks: a temporary directory, free ports.

The binary is ``$STACKYARD_MINIO_BINARY``, or the artifact cache's
``artifacts/minio/<version>/minio`` (``make artifacts`` builds it; the newest version there
wins). ``start()`` serves ``root/data`` on 127.0.0.1 and waits until MinIO answers its
liveness probe; ``stop()``/``start()`` keep the data (a restart), ``kill()`` is a crash,
``remove()`` deletes everything. ``client()`` is a boto3 client with the root credentials
(path style, SigV4); ``anonymous_client()`` sends unsigned requests.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackyard.testing.pgcluster import free_port

ROOT_USER = "stackyard-test"


class MinioNotFound(RuntimeError):
    pass


def binary() -> Path:
    """The MinIO server binary: $STACKYARD_MINIO_BINARY or the newest one in the artifact cache."""
    if os.environ.get("STACKYARD_MINIO_BINARY"):
        path = Path(os.environ["STACKYARD_MINIO_BINARY"])
    else:
        cache = os.environ.get("STACKYARD_CACHE") or str(Path.home() / ".cache" / "stackyard")
        found = sorted(Path(cache, "artifacts", "minio").glob("*/minio"))
        if not found:
            raise MinioNotFound(f"no MinIO binary under {cache}/artifacts/minio: make artifacts")
        path = found[-1]
    if not os.access(path, os.X_OK):
        raise MinioNotFound(f"{path} is not an executable MinIO binary")
    return path


def public_read_policy(bucket: str) -> str:
    """Anonymous GET and List, no anonymous write: the lake bucket's policy."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": ["*"]},
                    "Action": ["s3:GetBucketLocation", "s3:ListBucket"],
                    "Resource": [f"arn:aws:s3:::{bucket}"],
                },
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": ["*"]},
                    "Action": ["s3:GetObject"],
                    "Resource": [f"arn:aws:s3:::{bucket}/*"],
                },
            ],
        }
    )


@dataclass
class MinioServer:
    root: Path
    port: int
    console_port: int
    access_key: str = ROOT_USER
    secret_key: str = field(default_factory=lambda: uuid.uuid4().hex)
    proc: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        env = {
            **os.environ,
            "MINIO_ROOT_USER": self.access_key,
            "MINIO_ROOT_PASSWORD": self.secret_key,
            "MINIO_BROWSER": "off",
            "MINIO_UPDATE": "off",
        }
        env.pop("AWS_CA_BUNDLE", None)
        argv = [
            str(binary()), "server", str(self.root / "data"),
            "--address", f"127.0.0.1:{self.port}",
            "--console-address", f"127.0.0.1:{self.console_port}",
        ]  # fmt: skip
        log = open(self.root / "minio.log", "ab")  # noqa: SIM115 - the server's stdout
        self.proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
        self._wait_live(timeout)

    def _wait_live(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        url = f"{self.endpoint}/minio/health/live"
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                code = self.proc.returncode
                raise RuntimeError(f"MinIO exited ({code}): see {self.root}/minio.log")
            try:
                with urllib.request.urlopen(url, timeout=1) as answer:  # noqa: S310 - loopback
                    if answer.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"MinIO not live after {timeout} s: see {self.root}/minio.log")
            time.sleep(0.1)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL: a crash."""
        self.stop(signal.SIGKILL)

    def restart(self, crash: bool = False) -> None:
        self.kill() if crash else self.stop()
        self.start()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def client(self, **config: Any) -> Any:
        """A boto3 S3 client with the root credentials (path style, SigV4)."""
        return _client(self.endpoint, self.access_key, self.secret_key, **config)

    def anonymous_client(self) -> Any:
        """A boto3 S3 client sending unsigned (anonymous) requests."""
        from botocore import UNSIGNED

        return _client(self.endpoint, None, None, signature_version=UNSIGNED)

    def create_bucket(self, name: str, public_read: bool = False) -> None:
        s3 = self.client()
        s3.create_bucket(Bucket=name)
        if public_read:
            s3.put_bucket_policy(Bucket=name, Policy=public_read_policy(name))


def _client(endpoint: str, key: str | None, secret: str | None, **config: Any) -> Any:
    import boto3
    from botocore.config import Config

    config.setdefault("signature_version", "s3v4")
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, **config),
    )


def start() -> MinioServer:
    """Start a server; the caller must call ``remove()``."""
    root = Path(tempfile.mkdtemp(prefix="stackyard-minio-"))
    server = MinioServer(root, free_port(), free_port())
    try:
        server.start()
    except BaseException:
        server.remove()
        raise
    return server
