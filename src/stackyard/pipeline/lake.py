"""SQL over a date/hour range of the data lake with DuckDB.

The objects of the range are listed by key prefix (``lakerange.LakeRange.prefixes``: the
bucket is never listed as a whole), then exposed as the DuckDB view ``events``: ``read_json``
over exactly those gzip JSON Lines objects with the event's columns declared, so a missing
field is NULL, an unknown one is ignored and an empty range is an empty view. httpfs is loaded
offline from the ``duckdb-extension-httpfs`` wheel (pinned with ``duckdb``). S3 settings are
the S3 sink's ``SINK_S3_*`` variables; with no keys every request is anonymous (unsigned).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import duckdb

from stackyard.pipeline.lakerange import LakeRange
from stackyard.pipeline.lakesettings import LakeError, LakeSettings

__all__ = [
    "COLUMNS",
    "LakeError",
    "LakeObject",
    "LakeSettings",
    "connect",
    "events_sql",
    "httpfs_path",
    "list_objects",
    "open_events",
    "run",
    "s3_client",
]

SUFFIX = ".jsonl.gz"
_BODY = "STRUCT(size BIGINT, truncated BOOLEAN, encoding VARCHAR, data VARCHAR)"
# The event (docs/pipeline.md, schema stackyard.density.event/1); time is UTC.
COLUMNS: dict[str, str] = {
    "schema": "VARCHAR",
    "id": "VARCHAR",
    "time": "TIMESTAMP",
    "app": "VARCHAR",
    "client_ip": "VARCHAR",
    "method": "VARCHAR",
    "path": "VARCHAR",
    "route": "VARCHAR",
    "query": "VARCHAR[][]",
    "request": f"STRUCT(headers VARCHAR[][], body {_BODY})",
    "response": f"STRUCT(status INTEGER, headers VARCHAR[][], body {_BODY})",
    "duration_ms": "DOUBLE",
}


@dataclass(frozen=True)
class LakeObject:
    key: str
    size: int


def s3_client(settings: LakeSettings) -> Any:
    """A boto3 client for listing: bounded timeouts and retries, unsigned when anonymous."""
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    config = Config(
        signature_version=UNSIGNED if settings.anonymous else "s3v4",
        s3={"addressing_style": settings.addressing},
        connect_timeout=5,
        read_timeout=30,
        retries={"max_attempts": 2, "mode": "standard"},
    )
    return boto3.session.Session().client(
        "s3",
        endpoint_url=settings.endpoint or None,
        region_name=settings.region,
        aws_access_key_id=settings.access_key or None,
        aws_secret_access_key=settings.secret_key or None,
        verify=settings.ca_bundle or None,
        config=config,
    )


def list_objects(settings: LakeSettings, lake_range: LakeRange) -> list[LakeObject]:
    """The lake's objects under the range's prefixes (one listing per prefix), in key order."""
    from botocore.exceptions import BotoCoreError, ClientError

    client = s3_client(settings)
    found: list[LakeObject] = []
    prefix = ""
    try:
        for prefix in lake_range.prefixes():
            pages = client.get_paginator("list_objects_v2").paginate(
                Bucket=settings.bucket, Prefix=prefix
            )
            for page in pages:
                found += [
                    LakeObject(item["Key"], item["Size"])
                    for item in page.get("Contents", [])
                    if item["Key"].endswith(SUFFIX)
                ]
    except ClientError as err:
        raise LakeError(_client_error(settings, prefix, err)) from None
    except BotoCoreError as err:
        raise LakeError(f"cannot reach the S3 endpoint {settings.endpoint_url}: {err}") from None
    return found


def _client_error(settings: LakeSettings, prefix: str, err: Any) -> str:
    code = err.response.get("Error", {}).get("Code", "")
    where = f"s3://{settings.bucket}/{prefix}"
    if code == "NoSuchBucket":
        return f"bucket {settings.bucket!r} does not exist at {settings.endpoint_url}"
    if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
        who = "anonymously" if settings.anonymous else "with the given keys"
        return f"listing {where} {who} was refused ({code}): check the keys or the bucket policy"
    message = err.response.get("Error", {}).get("Message", str(err))
    return f"listing {where} failed: {code} {message}".strip()


def httpfs_path() -> Path:
    """httpfs.duckdb_extension from the duckdb-extension-httpfs wheel matching duckdb."""
    import duckdb_extension_httpfs

    base = Path(duckdb_extension_httpfs.__file__).parent / "extensions"
    path = base / f"v{duckdb.__version__}" / "httpfs.duckdb_extension"
    if not path.is_file():
        raise LakeError(f"no httpfs extension for duckdb {duckdb.__version__} under {base}")
    return path


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def connect(settings: LakeSettings) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with httpfs loaded offline and the lake's S3 secret."""
    con = duckdb.connect(config={"autoinstall_known_extensions": False})
    con.execute(f"LOAD {_quote(str(httpfs_path()))}")
    con.execute("SET TimeZone = 'UTC'")
    # httpfs's curl client verifies certificates by default, its httplib client does not
    con.execute("SET enable_server_cert_verification = true")
    url = urlsplit(settings.endpoint_url)
    options = {
        "PROVIDER": "config",
        "REGION": settings.region,
        "ENDPOINT": url.netloc,
        "URL_STYLE": "path" if settings.addressing == "path" else "vhost",
        "USE_SSL": "true" if url.scheme == "https" else "false",
    }
    if not settings.anonymous:
        options |= {"KEY_ID": settings.access_key, "SECRET": settings.secret_key}
    if settings.ca_bundle:
        con.execute(f"SET ca_cert_file = {_quote(settings.ca_bundle)}")
    body = ", ".join(
        f"{name} {value if value in ('true', 'false') else _quote(value)}"
        for name, value in options.items()
    )
    con.execute(f"CREATE OR REPLACE SECRET lake (TYPE s3, {body})")
    return con


def events_sql(settings: LakeSettings, objects: list[LakeObject]) -> str:
    """The SELECT behind the view ``events`` over exactly ``objects``."""
    if not objects:
        nulls = ", ".join(f"CAST(NULL AS {kind}) AS {name}" for name, kind in COLUMNS.items())
        return f"SELECT {nulls}, CAST(NULL AS VARCHAR) AS filename WHERE false"
    files = ", ".join(_quote(f"s3://{settings.bucket}/{item.key}") for item in objects)
    columns = ", ".join(f"{_quote(name)}: {_quote(kind)}" for name, kind in COLUMNS.items())
    # every key and name is quoted by _quote
    return (
        f"SELECT * FROM read_json([{files}], columns = {{{columns}}}, "  # noqa: S608
        "format = 'newline_delimited', compression = 'gzip', filename = true)"
    )


def open_events(settings: LakeSettings, lake_range: LakeRange) -> duckdb.DuckDBPyConnection:
    """A connection with the view ``events`` over the range's objects."""
    objects = list_objects(settings, lake_range)
    con = connect(settings)
    con.execute(f"CREATE VIEW events AS {events_sql(settings, objects)}")
    lock_down(con)
    return con


def lock_down(con: duckdb.DuckDBPyConnection) -> None:
    """No local files for the user's SQL (read_text, COPY TO, ATTACH, LOAD), for good."""
    con.execute("SET disabled_filesystems = 'LocalFileSystem'")
    con.execute("SET lock_configuration = true")


def run(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[list[str], list[tuple]]:
    """Column names and rows of ``sql``; timestamps with time zone come back as text."""
    try:
        rel = con.sql(sql)
        if rel is None:
            return [], []
        names = list(rel.columns)
        zoned = ["TIME ZONE" in str(kind) for kind in rel.types]
        if any(zoned):  # fetching them to Python would need pytz
            rel = rel.select(
                ", ".join(
                    f"CAST({_ident(n)} AS VARCHAR)" if z else _ident(n)
                    for n, z in zip(names, zoned, strict=True)
                )
            )
        return names, rel.fetchall()
    except duckdb.HTTPException as err:
        raise LakeError(f"S3 request failed: {_first_line(err)}") from None
    except (duckdb.ParserException, duckdb.BinderException, duckdb.CatalogException) as err:
        raise LakeError(f"SQL error: {_first_line(err)}") from None
    except duckdb.Error as err:
        raise LakeError(f"query failed: {_first_line(err)}") from None


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _first_line(err: Exception) -> str:
    return next((line for line in str(err).splitlines() if line.strip()), type(err).__name__)
