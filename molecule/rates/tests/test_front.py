"""The nginx front of the rates API, over the network from the controller.

Slow clients cannot starve the API, nginx's own errors are JSON, garbage on the plain
port is answered at once, and the front answers JSON 502s while the API is down.
"""

import json
import os
import socket
import statistics
import threading
import time
import urllib.parse

SLOW_CLIENTS = 20
TRICKLE_SECONDS = 15
PROBES = 60
# A TLS 1.2 ClientHello's first bytes: record header, handshake header, version, random.
CLIENT_HELLO = bytes.fromhex("160301006e0100006a0303") + os.urandom(32) + b"\x00" * 60


def raw(url: str, payload: bytes, timeout: float = 10) -> tuple[int | None, dict, bytes]:
    """Send bytes as they are; the status, headers and body the server answers (None if it
    closed without an answer)."""
    parts = urllib.parse.urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(payload)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    if not data:
        return None, {}, b""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


def get(url: str, path: str, extra: str = "") -> bytes:
    host = urllib.parse.urlsplit(url).netloc
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n".encode()


def assert_json_error(status, headers, body, expected):
    assert status == expected, body[:200]
    assert headers["content-type"].startswith("application/json")
    assert "error" in json.loads(body)


def probe_latencies(url: str, count: int) -> list[float]:
    """Seconds per GET /rates on a fresh connection each; fails on any non-200 or timeout."""
    path = "/rates?date_from=2016-01-01&date_to=2016-01-31&orig_code=CNGGZ&dest_code=EETLL"
    out = []
    for _ in range(count):
        start = time.perf_counter()
        status, _, _ = raw(url, get(url, path), timeout=5)
        out.append(time.perf_counter() - start)
        assert status == 200
    return out


def trickle(url: str, stop: threading.Event, opened: list) -> None:
    """A client that sends a 1,000-byte body one byte per second until stopped."""
    parts = urllib.parse.urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    opened.append(sock)
    sock.sendall(
        f"POST /prices HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
        "Content-Length: 1000\r\n\r\n".encode()
    )
    while not stop.wait(1):
        sock.sendall(b" ")


def summary(latencies: list[float]) -> str:
    ms = sorted(x * 1000 for x in latencies)
    return (
        f"median {statistics.median(ms):.1f} ms, p95 {ms[int(len(ms) * 0.95) - 1]:.1f} ms,"
        f" max {ms[-1]:.1f} ms over {len(ms)} requests"
    )


def test_requests_answer_while_20_slow_clients_trickle_bodies(api_url):
    quiet = probe_latencies(api_url, PROBES)
    stop, opened = threading.Event(), []
    threads = [
        threading.Thread(target=trickle, args=(api_url, stop, opened), daemon=True)
        for _ in range(SLOW_CLIENTS)
    ]
    for thread in threads:
        thread.start()
    try:
        time.sleep(2)  # every slow client is connected and trickling
        assert len(opened) == SLOW_CLIENTS
        started = time.monotonic()
        loaded = []
        while time.monotonic() - started < TRICKLE_SECONDS:
            loaded += probe_latencies(api_url, 5)
    finally:
        stop.set()
        for sock in opened:
            sock.close()
    # figures for docs/hardening.md (shown with pytest -s, or in the molecule log)
    print(f"\nwithout slow clients: {summary(quiet)}")
    print(f"with {SLOW_CLIENTS} slow clients: {summary(loaded)}")


def test_body_over_the_limit_is_a_json_413_before_it_is_sent(api_url, api_env):
    limit = int(api_env["RATES_MAX_BODY_BYTES"])
    host = urllib.parse.urlsplit(api_url).netloc
    head = (
        f"POST /prices HTTP/1.1\r\nHost: {host}\r\nContent-Type: text/csv\r\n"
        f"Content-Length: {limit + 1}\r\nConnection: close\r\n\r\n"
    )
    assert_json_error(*raw(api_url, head.encode()), 413)


def test_request_line_too_long_is_a_json_414(api_url):
    assert_json_error(*raw(api_url, get(api_url, "/rates?x=" + "a" * 20_000)), 414)


def test_header_too_large_is_a_json_431(api_url):
    assert_json_error(*raw(api_url, get(api_url, "/health", f"X-Big: {'b' * 20_000}\r\n")), 431)


def test_tls_client_hello_on_the_plain_port_gets_a_json_400_at_once(api_url):
    start = time.monotonic()
    status, headers, body = raw(api_url, CLIENT_HELLO, timeout=5)
    assert time.monotonic() - start < 2
    assert_json_error(status, headers, body, 400)


def test_api_stopped_behind_the_front_answers_json_502_then_recovers(api_url, api_host):
    api_host.check_output("systemctl stop rates-api")
    try:
        status, headers, body = raw(api_url, get(api_url, "/health"))
        assert_json_error(status, headers, body, 502)
        assert headers["retry-after"] == "5"
    finally:
        api_host.check_output("systemctl start rates-api")
    deadline = time.monotonic() + 60
    while (status := raw(api_url, get(api_url, "/health"))[0]) != 200:
        assert time.monotonic() < deadline, f"API not back behind the front: {status}"
        time.sleep(1)


def test_a_request_line_gunicorn_alone_would_refuse_passes_the_front_to_a_json_answer(api_url):
    # 5,000 bytes: over gunicorn's default 4,094 but within the front's 8k, so gunicorn's
    # limits must not be the tighter ones (its errors are HTML).
    status, headers, body = raw(api_url, get(api_url, "/rates?x=" + "a" * 5_000))
    assert_json_error(status, headers, body, 400)


def test_many_headers_reach_the_api_and_never_an_html_error(api_url):
    extra = "".join(f"X-H{i}: v\r\n" for i in range(150))  # gunicorn's default limit is 100
    status, headers, _ = raw(api_url, get(api_url, "/health", extra))
    assert status == 200
    assert headers["content-type"].startswith("application/json")


def test_methods_encodings_and_versions_nginx_refuses_are_json(api_url):
    host = urllib.parse.urlsplit(api_url).netloc
    cases = {
        f"TRACE / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n": 405,
        f"POST /prices HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: gzip\r\n"
        "Connection: close\r\n\r\n": 501,
        f"GET /health HTTP/2.0\r\nHost: {host}\r\n\r\n": 505,
    }
    for request, expected in cases.items():
        assert_json_error(*raw(api_url, request.encode()), expected)


def test_one_client_cannot_hold_every_connection(api_url, group_vars):
    """Past the per-client limit the front answers 429 instead of queueing the client's
    trickling bodies; once they close, the client is served again."""
    limit = 128  # http_front_connections_per_client's default
    stop, opened = threading.Event(), []
    threads = [
        threading.Thread(target=trickle, args=(api_url, stop, opened), daemon=True)
        for _ in range(limit)
    ]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while len(opened) < limit and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(2)  # each has sent its headers and is inside a request
        assert_json_error(*raw(api_url, get(api_url, "/health")), 429)
    finally:
        stop.set()
        for sock in opened:
            sock.close()
    deadline = time.monotonic() + 30
    while (status := raw(api_url, get(api_url, "/health"))[0]) != 200:
        assert time.monotonic() < deadline, f"client not served again: {status}"
        time.sleep(1)


def test_a_killed_nginx_master_is_started_again(api_url, api_host):
    pid = api_host.check_output("cat /run/nginx.pid")
    api_host.run_test(f"kill -9 {pid}")
    deadline = time.monotonic() + 60
    while True:
        try:
            if raw(api_url, get(api_url, "/health"), timeout=5)[0] == 200:
                break
        except OSError:
            pass
        assert time.monotonic() < deadline, "the front did not come back after kill -9"
        time.sleep(1)
    assert api_host.check_output("cat /run/nginx.pid") != pid
