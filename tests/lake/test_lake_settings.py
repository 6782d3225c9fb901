"""The SINK_S3_* variables (or options) become DuckDB's S3 secret; httpfs loads offline."""

from __future__ import annotations

import re

import pytest

from stackyard.pipeline import lake


def secret(settings: lake.LakeSettings) -> dict[str, str]:
    con = lake.connect(settings)
    try:
        (text,) = con.sql(
            "SELECT secret_string FROM duckdb_secrets() WHERE name = 'lake'"
        ).fetchone()
        loaded = con.sql(
            "SELECT loaded FROM duckdb_extensions() WHERE extension_name = 'httpfs'"
        ).fetchone()
    finally:
        con.close()
    assert loaded == (True,)
    return dict(item.split("=", 1) for item in text.split(";"))


def test_a_minio_endpoint_over_http_uses_path_style_without_ssl() -> None:
    env = {"SINK_S3_ENDPOINT": "http://127.0.0.1:9000", "SINK_S3_ACCESS_KEY": "ak",
           "SINK_S3_SECRET_KEY": "sk"}  # fmt: skip
    options = secret(lake.LakeSettings.from_env(env))
    assert options["endpoint"] == "127.0.0.1:9000"
    assert (options["url_style"], options["use_ssl"]) == ("path", "false")
    assert options["key_id"] == "ak" and options["secret"] == "redacted"


def test_aws_by_default_virtual_host_style_over_https_in_the_region() -> None:
    env = {"SINK_S3_REGION": "eu-central-1", "SINK_S3_ADDRESSING": "virtual"}
    settings = lake.LakeSettings.from_env(env)
    options = secret(settings)
    assert settings.anonymous and "key_id" not in options
    assert options["endpoint"] == "s3.eu-central-1.amazonaws.com"
    assert (options["url_style"], options["use_ssl"], options["region"]) == (
        "vhost", "true", "eu-central-1",
    )  # fmt: skip


def test_options_override_the_environment_and_a_bare_host_means_https() -> None:
    env = {"SINK_S3_ENDPOINT": "http://env:1", "SINK_S3_BUCKET": "env-bucket"}
    settings = lake.LakeSettings.from_env(env, endpoint="minio.example:9000", bucket="b")
    assert (settings.endpoint_url, settings.bucket) == ("https://minio.example:9000", "b")
    assert secret(settings)["use_ssl"] == "true"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SINK_S3_ADDRESSING": "sideways"}, "expected path or virtual"),
        ({"SINK_S3_ACCESS_KEY": "only-the-key"}, "both the access key and the secret key"),
        ({"SINK_S3_ENDPOINT": "http://host:9000/some/path"}, "expected http(s)://host[:port]"),
    ],
)
def test_inconsistent_settings_are_refused_with_what_to_fix(env, message) -> None:
    with pytest.raises(lake.LakeError, match=re.escape(message)):
        lake.LakeSettings.from_env(env)


def test_the_events_view_of_no_objects_has_the_event_columns() -> None:
    con = lake.connect(lake.LakeSettings())
    con.execute(f"CREATE VIEW events AS {lake.events_sql(lake.LakeSettings(), [])}")
    names = [row[0] for row in con.sql("DESCRIBE events").fetchall()]
    assert names == [*lake.COLUMNS, "filename"]
    assert con.sql("SELECT count(*) FROM events").fetchone() == (0,)
