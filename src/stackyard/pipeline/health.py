"""``GET /health`` of a sink on ``SINK_HEALTH_BIND``: a tiny asyncio HTTP/1.0 server.

200 while consuming, 503 while a dependency is unreachable; the body is the sink's status
(dependencies, counters, consumer lag per partition). Anything else answers a JSON 4xx.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

MAX_HEAD = 8192
READ_TIMEOUT_S = 5.0
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
           431: "Request Header Fields Too Large", 503: "Service Unavailable"}  # fmt: skip


def _answer(status: int, body: dict[str, Any]) -> bytes:
    data = json.dumps(body, default=str).encode()
    head = (
        f"HTTP/1.1 {status} {REASONS[status]}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n"
    )
    return head.encode() + data


async def _read_head(reader: asyncio.StreamReader) -> bytes | None:
    try:
        return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT_S)
    except asyncio.LimitOverrunError:
        return None
    except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
        return b""


def respond(head: bytes | None, status: Callable[[], tuple[bool, dict[str, Any]]]) -> bytes:
    """The answer to a request head (``None``: too large)."""
    if head is None:
        return _answer(431, {"error": "request head too large"})
    line = head.split(b"\r\n", 1)[0].split(b" ")
    if len(line) != 3 or not line[2].startswith(b"HTTP/"):
        return _answer(400, {"error": "malformed request line"})
    method, target = line[0], line[1].split(b"?", 1)[0]
    if target != b"/health":
        return _answer(404, {"error": "not found", "paths": ["/health"]})
    if method not in (b"GET", b"HEAD"):
        return _answer(405, {"error": "method not allowed", "allowed": ["GET", "HEAD"]})
    healthy, body = status()
    data = _answer(200 if healthy else 503, body)
    return data.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n" if method == b"HEAD" else data


async def serve(
    host: str, port: int, status: Callable[[], tuple[bool, dict[str, Any]]]
) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await _read_head(reader)
            if head != b"":
                writer.write(respond(head, status))
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, host, port, limit=MAX_HEAD, reuse_address=True)
