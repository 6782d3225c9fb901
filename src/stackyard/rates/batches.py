"""Idempotency keys of ``POST /prices`` (header ``Idempotency-Key``).

The key, the SHA-256 of the body and the number of rows inserted are written to
``public.batch_keys`` in the batch's own transaction, so a key exists exactly when its
batch landed. The same key with the same body answers the original result and writes
nothing; with another body, 409. Two requests racing with one key: the second waits on
the key's unique index until the first commits, then replays its result.
"""

from __future__ import annotations

import re
from typing import Any

from stackyard.web.errors import ApiError, BadRequest

HEADER = "Idempotency-Key"
KEY_RE = re.compile(r"[\x21-\x7e]{1,255}")

LOOKUP_SQL = "SELECT body_sha256, inserted FROM public.batch_keys WHERE key = %s"
RECORD_SQL = """
INSERT INTO public.batch_keys (key, body_sha256, inserted) VALUES (%s, %s, %s)
ON CONFLICT (key) DO NOTHING RETURNING key
"""


class KeyTaken(Exception):
    """The key was committed by a concurrent request meanwhile: roll back, then replay."""


def parse_key(header: str | None) -> str | None:
    if header is None:
        return None
    if not KEY_RE.fullmatch(header):
        raise BadRequest(f"{HEADER} must be 1-255 visible ASCII characters", header=HEADER)
    return header


def lookup(conn: Any, key: str) -> tuple[str, int] | None:
    with conn.cursor() as cur:
        cur.execute(LOOKUP_SQL, (key,))
        return cur.fetchone()


def replay(found: tuple[str, int], key: str, digest: str) -> dict[str, Any]:
    """The original result for the same body; 409 for another body under the same key."""
    stored_digest, inserted = found
    if stored_digest != digest:
        raise ApiError(
            f"{HEADER} {key!r} was used for a different batch; nothing was written",
            status=409,
        )
    return {"inserted": inserted}


def record(conn: Any, key: str, digest: str, inserted: int) -> None:
    """Write the key in the caller's transaction; ``KeyTaken`` when it already exists."""
    with conn.cursor() as cur:
        cur.execute(RECORD_SQL, (key, digest, inserted))
        if cur.fetchone() is None:
            raise KeyTaken(key)
