"""A sink's /health: 200 or 503 with its status, a JSON 4xx for anything else, never a hang."""

from __future__ import annotations

import asyncio
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stackyard.pipeline import health
from stackyard.testing.pgcluster import free_port

# no deadline: the machine is shared with builds; bounded examples keep the time down
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

STATUS = {"status": "ok", "lag": {"0": 0}}


def split(answer: bytes) -> tuple[int, dict]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), json.loads(body)


@PROPERTY
@given(head=st.binary(max_size=300))
def test_any_request_head_gets_a_json_answer(head):
    code, body = split(health.respond(head + b"\r\n\r\n", lambda: (True, STATUS)))
    assert code in (200, 400, 404, 405) and isinstance(body, dict)


@PROPERTY
@given(
    method=st.sampled_from([b"GET", b"POST", b"PUT", b"DELETE", b"get"]),
    path=st.sampled_from([b"/health", b"/health?x=1", b"/", b"/healthz", b"//health"]),
    healthy=st.booleans(),
)
def test_only_get_health_answers_the_status(method, path, healthy):
    answer = health.respond(method + b" " + path + b" HTTP/1.1\r\n\r\n", lambda: (healthy, STATUS))
    code, body = split(answer)
    if path.split(b"?")[0] != b"/health":
        assert code == 404
    elif method != b"GET":
        assert code == 405
    else:
        assert (code, body) == (200 if healthy else 503, STATUS)


def test_oversized_slow_and_truncated_requests_over_the_network():
    async def scenario() -> list[bytes]:
        port = free_port()
        server = await health.serve("127.0.0.1", port, lambda: (False, STATUS))
        answers = []
        try:
            for payload in (b"GET /health HTTP/1.1\r\n" + b"X: y\r\n" * 3000 + b"\r\n",
                            b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n",
                            b"GET /hea"):  # fmt: skip
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(payload)
                if payload == b"GET /hea":
                    writer.write_eof()
                await writer.drain()
                answers.append(await asyncio.wait_for(reader.read(), 10))
                writer.close()
        finally:
            server.close()
        return answers

    too_big, ok, truncated = asyncio.run(scenario())
    assert split(too_big)[0] == 431
    assert split(ok) == (503, STATUS)
    assert truncated == b""
