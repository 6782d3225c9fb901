"""Behaviour of the minio role over the network, from the controller, with boto3 (plain S3)."""

import os
import uuid

import boto3
import botocore
import pytest
import requests
import testinfra
from botocore.config import Config

# Must match converge.yml.
ROOT, ROOT_SECRET = "stackyard-root", "molecule-root-secret"
SINK, SINK_SECRET = "sink", "molecule-sink-secret"
INSTANCE = f"sy-{os.environ.get('STACKYARD_INSTANCE', 'instance')}"


@pytest.fixture(scope="module")
def host():
    return testinfra.get_host(f"docker://{INSTANCE}")


@pytest.fixture(scope="module")
def endpoint(host):
    return f"http://{host.interface('eth0').addresses[0]}:9000"


def s3(endpoint: str, key: str | None = None, secret: str | None = None):
    config = Config(
        signature_version=botocore.UNSIGNED if key is None else "s3v4",
        s3={"addressing_style": "path"},
        retries={"max_attempts": 1},
    )
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=config,
    )


def error_code(call) -> str:
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"]


def test_the_sink_user_puts_and_gets_an_object(endpoint):
    client, key = s3(endpoint, SINK, SINK_SECRET), f"2026-11-23/14/10.0.0.1/{uuid.uuid4()}.jsonl"
    client.put_object(Bucket="lake", Key=key, Body=b'{"id": 1}\n')
    assert client.get_object(Bucket="lake", Key=key)["Body"].read() == b'{"id": 1}\n'


def test_anyone_reads_and_lists_the_public_bucket(endpoint):
    key = f"2026-11-23/15/10.0.0.2/{uuid.uuid4()}.jsonl"
    s3(endpoint, SINK, SINK_SECRET).put_object(Bucket="lake", Key=key, Body=b"anon")
    anonymous = s3(endpoint)
    assert anonymous.get_object(Bucket="lake", Key=key)["Body"].read() == b"anon"
    listed = anonymous.list_objects_v2(Bucket="lake", Prefix="2026-11-23/15/")
    assert key in [item["Key"] for item in listed["Contents"]]
    assert requests.get(f"{endpoint}/lake/{key}", timeout=10).text == "anon"


def test_anonymous_writes_are_refused(endpoint):
    anonymous = s3(endpoint)
    assert (
        error_code(lambda: anonymous.put_object(Bucket="lake", Key="x", Body=b"x"))
        == "AccessDenied"
    )
    assert requests.put(f"{endpoint}/lake/y", data=b"y", timeout=10).status_code == 403
    key = f"keep/{uuid.uuid4()}"
    s3(endpoint, SINK, SINK_SECRET).put_object(Bucket="lake", Key=key, Body=b"k")
    assert error_code(lambda: anonymous.delete_object(Bucket="lake", Key=key)) == "AccessDenied"


def test_the_sink_user_is_limited_to_its_bucket(endpoint):
    sink = s3(endpoint, SINK, SINK_SECRET)
    assert (
        error_code(lambda: sink.put_object(Bucket="private", Key="x", Body=b"x")) == "AccessDenied"
    )
    assert error_code(lambda: sink.list_objects_v2(Bucket="private")) == "AccessDenied"
    assert error_code(lambda: sink.create_bucket(Bucket="another")) == "AccessDenied"


def test_the_private_bucket_is_closed_to_anonymous_readers(endpoint):
    s3(endpoint, ROOT, ROOT_SECRET).put_object(Bucket="private", Key="p", Body=b"p")
    anonymous = s3(endpoint)
    assert error_code(lambda: anonymous.get_object(Bucket="private", Key="p")) == "AccessDenied"
    assert error_code(lambda: anonymous.list_objects_v2(Bucket="private")) == "AccessDenied"


def test_a_wrong_secret_is_refused(endpoint):
    wrong = s3(endpoint, SINK, "not-the-secret")
    assert error_code(lambda: wrong.list_objects_v2(Bucket="lake")) == "SignatureDoesNotMatch"


def test_the_server_runs_hardened_as_its_own_user(host):
    service = host.service("minio")
    assert service.is_running and service.is_enabled
    assert host.process.get(comm="minio").user == "minio"
    assert host.file("/etc/minio/minio.env").mode == 0o600
    assert host.file("/var/lib/minio/data/lake").is_directory


def test_the_console_answers(host):
    url = f"http://{host.interface('eth0').addresses[0]}:9001/"
    assert requests.get(url, timeout=10).status_code == 200
