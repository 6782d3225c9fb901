"""Repeated query parameters and bearer tokens."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from stackyard.web.auth import bearer_token, require_bearer
from stackyard.web.errors import BadRequest, Unauthorized
from stackyard.web.params import single_values


def test_single_values_pass_through():
    assert single_values(MultiDict([("a", "1"), ("b", "2")])) == {"a": "1", "b": "2"}


def test_a_repeated_parameter_is_400_and_named():
    with pytest.raises(BadRequest) as err:
        single_values(MultiDict([("date_from", "2016-01-01"), ("x", "1"), ("date_from", "junk")]))
    assert err.value.details["parameter"] == "date_from"


@given(st.lists(st.tuples(st.text(max_size=3), st.text(max_size=3)), max_size=8))
def test_repeated_parameters_are_always_refused(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) == len(keys):
        assert single_values(MultiDict(pairs)) == dict(pairs)
    else:
        with pytest.raises(BadRequest):
            single_values(MultiDict(pairs))


def test_bearer_token_parsing():
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer  abc ") == "abc"
    assert bearer_token("Basic abc") is None
    assert bearer_token("Bearer") is None
    assert bearer_token(None) is None


def test_require_bearer():
    require_bearer(None, "")  # nothing configured: open
    require_bearer("Bearer s3cret", "s3cret")
    for header in (None, "", "Bearer wrong", "Basic s3cret", "Bearer s3cret2", "Bearer \udcff"):
        with pytest.raises(Unauthorized) as err:
            require_bearer(header, "s3cret")
        assert err.value.status == 401
        assert err.value.headers["WWW-Authenticate"].startswith("Bearer")
