"""Bearer tokens: ``Authorization: Bearer <token>``, compared in constant time."""

from __future__ import annotations

import hmac

from stackyard.web.errors import Unauthorized


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def require_bearer(header: str | None, expected: str) -> None:
    """Nothing when ``expected`` is empty (no token configured) or the header carries it;
    else ``Unauthorized`` (401 with ``WWW-Authenticate: Bearer``)."""
    if not expected:
        return
    token = bearer_token(header)
    if token is None:
        raise Unauthorized()
    if not hmac.compare_digest(token.encode("utf-8", "surrogateescape"), expected.encode("utf-8")):
        raise Unauthorized("the bearer token is not valid")
