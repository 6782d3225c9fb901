"""Redaction and body encoding of capture events."""

from __future__ import annotations

import base64
import json
import uuid

from hypothesis import given
from hypothesis import strategies as st

from stackyard.density.capture.event import REDACTED, Redactor, encode_body, to_bytes
from stackyard.density.capture.middleware import new_id


def test_configured_fields_are_redacted_in_forms_and_nested_json():
    redactor = Redactor(["x-api-key"], ["password"])
    form = redactor.body(b"user=a&password=p1&x=2", "application/x-www-form-urlencoded", True)
    assert b"p1" not in form and b"password=%5BREDACTED%5D" in form
    doc = json.loads(redactor.body(b'{"a": [{"Password": "p2"}]}', "application/json", True))
    assert doc == {"a": [{"Password": REDACTED}]}
    headers = redactor.header_list([("Authorization", "t"), ("X-Api-Key", "k"), ("Accept", "*")])
    assert headers == [["Authorization", REDACTED], ["X-Api-Key", REDACTED], ["Accept", "*"]]


def test_binary_bodies_are_base64_and_truncation_is_marked():
    body = encode_body(b"\xff\x00abc", total=5, limit=3)
    assert body == {
        "size": 5,
        "truncated": True,
        "encoding": "base64",
        "data": base64.b64encode(b"\xff\x00a").decode(),
    }


@given(raw=st.binary(max_size=300), ctype=st.sampled_from(["application/json", "text/plain",
       "application/x-www-form-urlencoded"]))  # fmt: skip
def test_redacting_any_body_never_raises(raw, ctype):
    out = Redactor([], ["token"]).body(raw, ctype, True)
    assert isinstance(out, bytes)


@given(st.recursive(st.text() | st.integers() | st.booleans() | st.none(),
                    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
                    max_leaves=20))  # fmt: skip
def test_events_encode_as_ascii_json_of_the_same_value(value):
    raw = to_bytes({"data": value})
    assert raw.isascii() and json.loads(raw) == {"data": value}


def test_event_ids_are_distinct_random_uuid4_text():
    ids = [new_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, text)
