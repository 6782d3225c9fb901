"""An https endpoint: TLS follows the scheme, the CA bundle is trusted, an unknown
certificate is refused by the listing (boto3) and by the reads (DuckDB) alike."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from lake_support import Lake, query_json, run_cli
from lake_tls import TlsFront

from stackyard.pipeline import lake as lakemod
from stackyard.pipeline.lakerange import LakeRange
from stackyard.testing.minioserver import MinioServer
from stackyard.testing.tls import self_signed

pytestmark = pytest.mark.integration

RANGE = ["--from", "2026-11-23T00", "--to", "2026-11-23T03"]
FIRST, LAST = datetime(2026, 11, 23, 0), datetime(2026, 11, 23, 3)


@pytest.fixture(scope="module")
def tls(minio: MinioServer, tmp_path_factory) -> Iterator[tuple[TlsFront, Path]]:
    cert, key = self_signed(tmp_path_factory.mktemp("tls"))
    front = TlsFront(minio.port, cert, key)
    yield front, cert
    front.close()


def test_an_https_endpoint_with_its_ca_bundle_answers(lake: Lake, s3_env, tls, monkeypatch) -> None:
    front, cert = tls
    monkeypatch.setenv("SINK_S3_ENDPOINT", front.endpoint)
    monkeypatch.setenv("SINK_S3_CA_BUNDLE", str(cert))
    rows = query_json("SELECT count(*) AS n FROM events", *RANGE)
    assert rows == [{"n": len(lake.select(FIRST, LAST))}]


def test_an_unknown_certificate_is_refused_when_listing(lake: Lake, s3_env, tls, monkeypatch):
    front, _ = tls
    monkeypatch.setenv("SINK_S3_ENDPOINT", front.endpoint)
    monkeypatch.delenv("AWS_CA_BUNDLE", raising=False)
    code, out, err = run_cli("lake", "query", "SELECT count(*) FROM events", *RANGE)
    assert (code, out) == (2, "") and "cannot reach" in err and err.count("\n") == 1, err


def test_an_unknown_certificate_is_refused_when_reading(lake: Lake, s3_env, tls) -> None:
    """DuckDB verifies the server's certificate too (its httpfs default is not to)."""
    front, cert = tls
    trusted = lakemod.LakeSettings.from_env(endpoint=front.endpoint, ca_bundle=str(cert))
    objects = lakemod.list_objects(trusted, LakeRange.parse("2026-11-23T00"))
    assert objects
    untrusted = lakemod.LakeSettings.from_env(endpoint=front.endpoint)
    con = lakemod.connect(untrusted)
    con.execute(f"CREATE VIEW events AS {lakemod.events_sql(untrusted, objects)}")
    with pytest.raises(lakemod.LakeError, match=r"(S3 request|query) failed: .*SSL"):
        lakemod.run(con, "SELECT count(*) FROM events")
