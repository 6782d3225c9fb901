"""The lake bucket (public-read) in the S3 sink's layout, in the shared `minio` fixture."""

from __future__ import annotations

import pytest
from lake_support import BUCKET, PRIVATE_BUCKET, Lake, generate, write

from stackyard.testing import minioserver


@pytest.fixture(scope="session")
def lake(minio: minioserver.MinioServer) -> Lake:
    minio.create_bucket(BUCKET, public_read=True)
    minio.create_bucket(PRIVATE_BUCKET)
    data = generate()
    data.keys = write(minio.client(), BUCKET, data)
    write(minio.client(), PRIVATE_BUCKET, data)
    return data


@pytest.fixture
def s3_env(minio: minioserver.MinioServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The SINK_S3_* environment of the lake bucket with the root keys."""
    env = {
        "SINK_S3_ENDPOINT": minio.endpoint,
        "SINK_S3_BUCKET": BUCKET,
        "SINK_S3_REGION": "us-east-1",
        "SINK_S3_ADDRESSING": "path",
        "SINK_S3_ACCESS_KEY": minio.access_key,
        "SINK_S3_SECRET_KEY": minio.secret_key,
    }
    for name in ("SINK_S3_CA_BUNDLE",):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env
