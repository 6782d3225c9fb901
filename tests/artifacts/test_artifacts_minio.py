"""The cached MinIO server serves a bucket to boto3, and the cached mc lists it."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import boto3
from artifact_cache import cached, free_port, pinned, wait_for
from botocore.config import Config


def test_cached_minio_serves_a_bucket_that_mc_lists(tmp_path: Path) -> None:
    minio = cached("minio", pinned("artifacts_minio_version")) / "minio"
    mc = cached("mc", pinned("artifacts_mc_version")) / "mc"
    port, console = free_port(), free_port()
    user, password = "stackyard", uuid.uuid4().hex
    env = {**os.environ, "MINIO_ROOT_USER": user, "MINIO_ROOT_PASSWORD": password}
    env.pop("AWS_CA_BUNDLE", None)
    log = (tmp_path / "minio.log").open("w")
    server = subprocess.Popen(
        [
            str(minio),
            "server",
            str(tmp_path / "data"),
            "--address",
            f"127.0.0.1:{port}",
            "--console-address",
            f"127.0.0.1:{console}",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        s3 = boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{port}",
            aws_access_key_id=user,
            aws_secret_access_key=password,
            region_name="us-east-1",
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )
        bucket = f"artifacts-{uuid.uuid4().hex[:8]}"
        wait_for(lambda: s3.create_bucket(Bucket=bucket), 60, "MinIO")
        key = "2026-11-23/14/10.0.0.1/object.json"
        s3.put_object(Bucket=bucket, Key=key, Body=b'{"ok": true}')
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b'{"ok": true}'
        listed = subprocess.run(
            [str(mc), "--config-dir", str(tmp_path / "mc"), "ls", "--recursive", f"local/{bucket}"],
            env={**env, "MC_HOST_local": f"http://{user}:{password}@127.0.0.1:{port}"},
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert listed.returncode == 0, listed.stdout + listed.stderr
        assert key in listed.stdout
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
