"""The minio role compares policies in a canonical form: MinIO lists actions in no fixed order."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "minio_policy", ROOT / "roles/minio/filter_plugins/minio_policy.py"
)
minio_policy = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(minio_policy)
canonical = minio_policy.minio_canonical_policy

WANTED = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:ListBucket"],
         "Principal": {"AWS": ["*"]}, "Resource": ["arn:aws:s3:::lake"]},
        {"Effect": "Allow", "Action": ["s3:GetObject"],
         "Principal": {"AWS": ["*"]}, "Resource": ["arn:aws:s3:::lake/*"]},
    ],
}  # fmt: skip


def test_the_order_of_actions_and_statements_does_not_matter():
    shuffled = {
        "Statement": [
            {**WANTED["Statement"][1]},
            {**WANTED["Statement"][0], "Action": ["s3:ListBucket", "s3:GetBucketLocation"]},
        ],
        "Version": "2012-10-17",
    }
    assert canonical(shuffled) == canonical(WANTED)


def test_a_single_action_string_equals_a_list_of_one():
    single = {"Statement": [{**WANTED["Statement"][1], "Action": "s3:GetObject"}]}
    assert canonical(single) == canonical({"Statement": [WANTED["Statement"][1]]})


def test_an_added_write_action_is_a_difference():
    writable = {
        "Statement": [
            WANTED["Statement"][0],
            {**WANTED["Statement"][1], "Action": ["s3:GetObject", "s3:PutObject"]},
        ]
    }
    assert canonical(writable) != canonical(WANTED)


def test_no_policy_is_empty():
    assert canonical({}) == canonical(None) == []
    assert canonical({}) != canonical(WANTED)
