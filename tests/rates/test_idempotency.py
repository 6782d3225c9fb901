"""Idempotency-Key on POST /prices: replays write nothing, another body under a key is 409."""

import json
import threading
import uuid

import pytest

pytestmark = pytest.mark.integration

DAY = "2046-06-06"


def items(n, price=100):
    return [{"orig_code": "CNGGZ", "dest_code": "EETLL", "day": DAY, "price": price}] * n


def post(client, payload, key=None, content_type="application/json"):
    headers = {"Idempotency-Key": key} if key is not None else {}
    data = payload if isinstance(payload, str) else json.dumps(payload)
    return client.post("/prices", data=data, content_type=content_type, headers=headers)


@pytest.fixture
def stored(admin):
    def count():
        with admin.cursor() as cur:
            cur.execute("SELECT count(*) FROM prices WHERE day = %s", (DAY,))
            return cur.fetchone()[0]

    yield count
    with admin.cursor() as cur:
        cur.execute("DELETE FROM prices WHERE day = %s", (DAY,))


def test_same_key_same_body_is_stored_once(client, stored, admin):
    key = str(uuid.uuid4())
    first = post(client, items(7), key)
    again = post(client, items(7), key)
    assert (first.status_code, first.get_json()) == (201, {"inserted": 7})
    assert (again.status_code, again.get_json()) == (201, {"inserted": 7})
    assert stored() == 7
    with admin.cursor() as cur:
        cur.execute("SELECT inserted, length(body_sha256) FROM batch_keys WHERE key = %s", (key,))
        assert cur.fetchall() == [(7, 64)]


def test_same_key_other_body_is_409_and_writes_nothing(client, stored):
    key = str(uuid.uuid4())
    assert post(client, items(3), key).status_code == 201
    response = post(client, items(3, price=101), key)
    assert response.status_code == 409 and key in response.get_json()["error"]
    assert stored() == 3


def test_without_a_key_a_batch_sent_twice_is_stored_twice(client, stored):
    assert post(client, items(2)).status_code == 201
    assert post(client, items(2)).status_code == 201
    assert stored() == 4


def test_a_rejected_batch_does_not_use_up_its_key(client, stored):
    key = str(uuid.uuid4())
    bad = items(2)
    bad = [*bad, {**bad[0], "dest_code": "ZZZZZ"}]
    assert post(client, bad, key).status_code == 400
    assert post(client, items(2), key).status_code == 201
    assert stored() == 2


@pytest.mark.parametrize("key", ["", "a b", "x" * 256, "ä"])
def test_malformed_keys_are_400(client, stored, key):
    response = post(client, items(1), key)
    assert response.status_code == 400 and "Idempotency-Key" in response.get_json()["error"]
    assert stored() == 0


def test_concurrent_requests_with_one_key_store_once(app, stored):
    key = str(uuid.uuid4())
    results = []

    def send():
        results.append(post(app.test_client(), items(500), key).status_code)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [201] * 4
    assert stored() == 500
