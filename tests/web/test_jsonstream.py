"""JSON arrays parsed item by item: limits hold while parsing, hostile shapes answer 400."""

import json
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stackyard.web.errors import ApiError, BadRequest, PayloadTooLarge
from stackyard.web.jsonstream import depth, iter_array

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(st.lists(json_values, max_size=20), st.sampled_from(["", " ", "\n\t "]))
def test_items_are_those_of_json_loads(items, space):
    body = json.dumps(items, indent=1 if space else None).encode()
    assert list(iter_array(space.encode() + body + space.encode(), 100)) == json.loads(body)


@given(st.binary(max_size=200))
def test_any_bytes_give_items_or_an_api_error(body):
    try:
        list(iter_array(body, 10))
    except ApiError as err:
        assert err.status in (400, 413)


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 5000 + b"]" * 5000,
        b"[" * 1_000_000,
        b'[{"price": ' + b"[" * 100 + b"]" * 100 + b"}]",
        b'[{"price": ' + b"9" * 5000 + b"}]",
        b"[1,]",
        b"[1] x",
        b"",
        b'{"a": 1}',
        b"\xff[]",
    ],
)
def test_hostile_shapes_are_400(body):
    with pytest.raises(BadRequest):
        list(iter_array(body, 10))


def test_too_many_items_stop_at_the_limit():
    items = iter_array(b"[" + b"{}," * 20 + b"{}]", 5)
    assert [next(items) for _ in range(5)] == [{}] * 5
    with pytest.raises(PayloadTooLarge):
        next(items)


def test_depth_counts_without_recursion():
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    assert depth(deep, 40) == 41
    assert depth({"a": [1, {"b": 2}]}, 10) == 3
    assert depth(5, 10) == 0


def test_millions_of_tiny_items_never_all_exist_in_memory():
    """63 MB of [{},{},...]: the parser stops at the limit, memory stays far below json.loads."""
    script = (
        "import resource\n"
        "from stackyard.web.jsonstream import iter_array\n"
        "from stackyard.web.errors import PayloadTooLarge\n"
        "body = b'[' + b'{},' * 21_000_000 + b'{}]'\n"
        "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n"
        "    sum(1 for _ in iter_array(body, 200_000))\n"
        "except PayloadTooLarge:\n"
        "    pass\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=300
    )
    grown_mb = int(out.stdout) / 1024
    # the decoded text (63 MB) is the only large allocation; json.loads needed ~1.6 GB
    assert grown_mb < 200, grown_mb
