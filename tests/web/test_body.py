"""Bounded body reading: 413 over the limit whatever the framing, 400 for broken framing."""

import io

import pytest

from stackyard.web.body import read_body
from stackyard.web.errors import BadRequest, PayloadTooLarge


class BrokenChunks(io.BytesIO):
    """A server stream whose chunk framing is broken after some bytes (like gunicorn's)."""

    def read(self, size=-1):
        data = super().read(size)
        if not data:
            raise ValueError("Invalid chunk size")
        return data


def env(body, length=None, chunked=False, stream=None):
    environ = {"wsgi.input": stream or io.BytesIO(body), "wsgi.input_terminated": True}
    if length is not None:
        environ["CONTENT_LENGTH"] = str(length)
    if chunked:
        environ["HTTP_TRANSFER_ENCODING"] = "chunked"
    return environ


def test_body_within_limit_is_read_whole():
    assert read_body(env(b"x" * 100, length=100), 100) == b"x" * 100
    assert read_body(env(b"x" * 100, chunked=True), 100) == b"x" * 100


def test_content_length_over_limit_is_413_without_reading():
    stream = io.BytesIO(b"x" * 101)
    with pytest.raises(PayloadTooLarge):
        read_body(env(b"", length=101, stream=stream), 100)
    assert stream.tell() == 0


def test_chunked_body_over_limit_is_413_not_truncated():
    with pytest.raises(PayloadTooLarge) as err:
        read_body(env(b"x" * 101, chunked=True), 100)
    assert err.value.status == 413 and err.value.details["max_body_bytes"] == 100


def test_body_shorter_than_its_content_length_is_400():
    with pytest.raises(BadRequest, match="ended after 5 of 10"):
        read_body(env(b"x" * 5, length=10), 100)


def test_broken_chunk_framing_is_400():
    with pytest.raises(BadRequest, match="cannot be read"):
        read_body(env(b"", chunked=True, stream=BrokenChunks(b"abc")), 100)


def test_bad_content_length_is_400():
    with pytest.raises(BadRequest):
        read_body(env(b"", length="12x"), 100)
