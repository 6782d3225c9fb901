"""Read a request body within a byte limit, whatever its framing.

``Content-Length`` over the limit answers 413 before reading; a chunked (or otherwise
server-terminated) body is read up to the limit and one byte more, so a body over the
limit answers 413 and is never judged truncated. A body shorter than its
``Content-Length`` or with broken chunk framing (gunicorn's ``InvalidChunkSize``, ...)
answers 400: nothing is ever parsed from a body that was not read in full.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stackyard.web.errors import BadRequest, PayloadTooLarge

CHUNK = 1024 * 1024


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"the body is larger than {limit} bytes", max_body_bytes=limit)


def content_length(environ: Mapping[str, Any]) -> int | None:
    raw = environ.get("CONTENT_LENGTH")
    if raw in (None, ""):
        return None
    if not str(raw).isdigit():
        raise BadRequest("Content-Length is not a number")
    return int(raw)


def read_body(environ: Mapping[str, Any], limit: int) -> bytes:
    """The whole body (at most ``limit`` bytes), or an ``ApiError`` (413, 400)."""
    length = content_length(environ)
    terminated = bool(environ.get("wsgi.input_terminated"))
    chunked = "chunked" in str(environ.get("HTTP_TRANSFER_ENCODING", "")).lower()
    if length is not None and not chunked:
        if length > limit:
            raise too_large(limit)
        wanted = length
    elif terminated:
        wanted = limit + 1  # read to the end, one byte past the limit at most
    else:
        return b""  # no length and a server that does not terminate the stream
    stream = environ["wsgi.input"]
    parts: list[bytes] = []
    got = 0
    while got < wanted:
        try:
            part = stream.read(min(CHUNK, wanted - got))
        except Exception as err:  # framing errors of the server (e.g. InvalidChunkSize)
            raise BadRequest(f"the body cannot be read: {type(err).__name__}") from None
        if not part:
            break
        parts.append(part)
        got += len(part)
    if got > limit:
        raise too_large(limit)
    if length is not None and not chunked and got < length:
        raise BadRequest(f"the body ended after {got} of {length} bytes")
    return b"".join(parts)
