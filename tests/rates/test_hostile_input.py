"""Hostile and careless input: JSON 4xx, never 500, nothing written.

In-process (Flask test client) for shapes of the body, and over real gunicorn for what
only a real server produces: chunked framing, bodies over the limit in either framing,
slow bodies, and the worker's memory on 63 MB of ``[{},{},…]``.
"""

import json
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

GOOD = {"orig_code": "CNGGZ", "dest_code": "EETLL", "day": "2047-03-03", "price": 5}


def count(admin, day="2047-03-03"):
    with admin.cursor() as cur:
        cur.execute("SELECT count(*) FROM prices WHERE day = %s", (day,))
        return cur.fetchone()[0]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("[" * 5000 + "]" * 5000, "application/json"),
        ("[" + json.dumps(GOOD) + "," + "[" * 5000 + "]" * 5000 + "]", "application/json"),
        ('[{"orig_code": "CNGGZ", "price": ' + "[" * 200 + "]" * 200 + "}]", "application/json"),
        (
            '[{"orig_code": "CNGGZ", "dest_code": "EETLL", "day": "2047-03-03", "price": 9'
            + "9" * 5000
            + "}]",
            "application/json",
        ),
        ("orig_code,dest_code,day,price\nCNGGZ,EETLL,2047-03-03," + "9" * 5000 + "\n", "text/csv"),
        ("[" + json.dumps(GOOD) + "]  [1]", "application/json"),
    ],
    ids=[
        "nested-5000",
        "nested-item",
        "nested-price",
        "json-5000-digits",
        "csv-5000-digits",
        "trailing-data",
    ],
)
def test_hostile_bodies_are_400_json_and_write_nothing(client, admin, body, content_type):
    response = client.post("/prices", data=body, content_type=content_type)
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert "error" in response.get_json()
    assert count(admin) == 0


def test_a_price_with_5000_leading_zeros_is_just_a_price(client, admin):
    body = "orig_code,dest_code,day,price\nCNGGZ,EETLL,2047-03-04," + "0" * 5000 + "7\n"
    response = client.post("/prices", data=body, content_type="text/csv")
    assert (response.status_code, response.get_json()) == (201, {"inserted": 1})
    with admin.cursor() as cur:
        cur.execute("DELETE FROM prices WHERE day = '2047-03-04' RETURNING price")
        assert cur.fetchall() == [(7,)]


def test_repeated_query_parameters_are_400(client):
    base = "/rates?date_from=2016-01-01&date_to=2016-01-31&orig_code=CNGGZ&dest_code=EETLL"
    assert client.get(base).status_code == 200
    response = client.get(base + "&date_from=garbage")
    assert response.status_code == 400
    assert response.get_json()["parameter"] == "date_from"
    assert client.post("/prices?a=1&a=2", json=[GOOD]).status_code == 400


@pytest.fixture(scope="module")
def served(cluster, serve_api, tmp_path_factory):
    log = tmp_path_factory.mktemp("hostile") / "api.log"
    env = {"RATES_WORKERS": "1", "RATES_THREADS": "2", "RATES_MAX_BODY_BYTES": "100000"}
    with serve_api(cluster, log, **env) as (url, proc):
        yield url, proc, log


def post_raw(http_raw, url, head: str, body: bytes = b"", content_type: str = "application/json"):
    request = (
        f"POST /prices HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
        f"Connection: close\r\n{head}\r\n"
    ).encode() + body
    return http_raw(url, request)


def chunked(data: bytes, size: int = 4096) -> bytes:
    parts = [data[i : i + size] for i in range(0, len(data), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


def test_invalid_chunk_size_is_400_json(served, http_raw, admin):
    url, _, _ = served
    status, headers, body = post_raw(
        http_raw, url, "Transfer-Encoding: chunked\r\n", b"zz\r\n[]\r\n0\r\n\r\n"
    )
    assert status == 400 and headers["content-type"] == "application/json", body
    assert "error" in json.loads(body)


def test_over_the_limit_is_413_in_either_framing(served, http_raw, admin):
    url, _, _ = served
    items = json.dumps([GOOD] * 2000).encode()  # ~140 kB > 100 kB
    status, _, body = post_raw(http_raw, url, f"Content-Length: {len(items)}\r\n", items)
    assert status == 413 and json.loads(body)["max_body_bytes"] == 100_000
    status, _, body = post_raw(http_raw, url, "Transfer-Encoding: chunked\r\n", chunked(items))
    assert status == 413 and json.loads(body)["max_body_bytes"] == 100_000
    # just under the limit in chunks: stored whole
    fits = json.dumps([GOOD] * 1000).encode()
    status, _, body = post_raw(http_raw, url, "Transfer-Encoding: chunked\r\n", chunked(fits))
    assert (status, json.loads(body)) == (201, {"inserted": 1000})
    assert count(admin) == 1000
    with admin.cursor() as cur:
        cur.execute("DELETE FROM prices WHERE day = '2047-03-03'")


def test_a_slow_body_is_read_whole_and_a_cut_one_is_400(served, http_raw, admin):
    """A body trickled in slowly is judged complete; one cut short is never judged."""
    import socket

    url, _, _ = served
    body = json.dumps([GOOD] * 3).encode()
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            b"POST /prices HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body)
        )
        for i in range(0, len(body), 40):
            sock.sendall(body[i : i + 40])
            time.sleep(0.1)
        answer = sock.makefile("rb").read()
    assert answer.startswith(b"HTTP/1.1 201"), answer[:200]
    status, _, answer = post_raw(
        http_raw, url, f"Content-Length: {len(body)}\r\n", body[: len(body) // 2]
    )
    assert status == 400 and "error" in json.loads(answer)
    assert count(admin) == 3
    with admin.cursor() as cur:
        cur.execute("DELETE FROM prices WHERE day = '2047-03-03'")


def worker_peak_kib(master_pid: int) -> int:
    """Peak resident memory (VmHWM) of the master's worker processes."""
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    peaks = []
    for pid in children:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peaks.append(int(line.split()[1]))
    return max(peaks)


def test_millions_of_empty_objects_keep_the_worker_small(cluster, serve_api, http_raw, tmp_path):
    """63 MB of [{},{},...] (21 M items): 413 after 200,001 items, worker far below 1.65 GB."""
    env = {"RATES_WORKERS": "1", "RATES_THREADS": "1"}
    with serve_api(cluster, tmp_path / "api.log", **env) as (url, proc):
        body = b"[" + b"{}," * 21_000_000 + b"{}]"
        status, _, answer = post_raw(http_raw, url, f"Content-Length: {len(body)}\r\n", body)
        peak_mb = worker_peak_kib(proc.pid) / 1024
    print(f"\nworker peak RSS {peak_mb:.0f} MB for a {len(body) / 1e6:.0f} MB body")
    assert status == 413 and json.loads(answer)["max_batch_rows"] == 200_000
    assert peak_mb < 400, peak_mb


def test_a_60_mb_csv_keeps_the_worker_small(cluster, serve_api, http_raw, tmp_path):
    """60 MB of valid CSV rows (2.3 M): 413 after 200,001 rows, decoded as it is read (a
    whole decoded copy and a StringIO of it took a worker past 500 MB)."""
    env = {"RATES_WORKERS": "1", "RATES_THREADS": "1"}
    with serve_api(cluster, tmp_path / "api.log", **env) as (url, proc):
        body = b"orig_code,dest_code,day,price\n" + b"HKHKG,CNZHA,2096-01-01,7\n" * 2_300_000
        status, _, answer = post_raw(
            http_raw, url, f"Content-Length: {len(body)}\r\n", body, content_type="text/csv"
        )
        peak_mb = worker_peak_kib(proc.pid) / 1024
    print(f"\nworker peak RSS {peak_mb:.0f} MB for a {len(body) / 1e6:.0f} MB CSV body")
    assert status == 413 and json.loads(answer)["max_batch_rows"] == 200_000
    assert peak_mb < 250, peak_mb
