"""Every request to the deployed apps becomes exactly one event on the Kafka topic.

Requests go from the controller to app_a over the network; events are read back on the
Kafka host with the distribution's console consumer. Then Kafka is stopped during traffic:
every request still answers, and every event arrives once Kafka is back.
"""

import json
import shutil
import subprocess
import time
import uuid

import pytest
import requests
import testinfra

KAFKA = testinfra.get_host("docker://mol-cap-kafka")
APPS = testinfra.get_host("docker://mol-cap-apps")
JAVA = "java -cp '/opt/kafka/kafka_2.13-4.3.1/libs/*'"
TOPIC = "density.events"
JOBS = "Jobs:\nTitle: Devops\nDescription: Awesome\n"


def app_a() -> str:
    return f"http://{APPS.interface('eth0').addresses[0]}:5000"


def events() -> list[dict]:
    out = KAFKA.check_output(
        f"{JAVA} org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "
        f"mol-cap-kafka:9092 --topic {TOPIC} --from-beginning --timeout-ms 8000 "
        f"--group verify-{uuid.uuid4().hex[:8]} 2>/dev/null || true"
    )
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def wait_for_ids(ids: set[str], timeout: float = 90) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        found = events()
        if ids <= {e["id"] for e in found} or time.monotonic() > deadline:
            return found
        time.sleep(3)


def drive(url: str, tag: str) -> list[tuple[str, int, str]]:
    token_header = {"Authorization": "mytoken", "Cookie": "session=abc"}
    calls = [
        ("GET", "/hello", {}, None, None),
        ("POST", "/jobs", token_header, None, None),
        ("POST", "/jobs", {"Authorization": "wrong-token"}, None, None),
        ("POST", "/jobs", {}, None, None),
        ("GET", "/no-such-page", {}, None, None),
        ("GET", "/hello", {}, {"tag": tag, "token": "q-secret"}, None),
        ("POST", "/jobs", {"Authorization": "mytoken"}, None, {"password": "f-secret", "a": "b"}),
        ("POST", "/jobs", {"Authorization": "mytoken", "Content-Type": "application/json"},
         None, json.dumps({"token": "j-secret", "tag": tag})),
    ]  # fmt: skip
    out = []
    for method, path, headers, params, data in calls:
        r = requests.request(method, url + path, headers=headers, params=params, data=data,
                             timeout=10)  # fmt: skip
        out.append((r.headers["X-Request-Id"], r.status_code, path))
    return out


def test_every_request_is_one_event_with_the_right_fields_and_no_secret():
    seen = drive(app_a(), "mix")
    assert [s for _, s, _ in seen] == [200, 200, 403, 401, 404, 200, 200, 200]
    found = wait_for_ids({i for i, _, _ in seen})
    by_id: dict[str, list[dict]] = {}
    for event in found:
        by_id.setdefault(event["id"], []).append(event)
    for event_id, status, path in seen:
        assert len(by_id[event_id]) == 1, "exactly one event per request"
        event = by_id[event_id][0]
        assert (event["app"], event["path"], event["response"]["status"]) == ("app_a", path, status)
        assert event["schema"] == "stackyard.density.event/1"
    assert by_id[seen[4][0]][0]["route"] == "other"
    assert by_id[seen[1][0]][0]["response"]["body"]["data"] == JOBS
    text = json.dumps([by_id[i][0] for i, _, _ in seen])
    for secret in ("mytoken", "session=abc", "q-secret", "f-secret", "j-secret"):
        assert secret not in text
    assert ["tag", "mix"] in by_id[seen[5][0]][0]["query"]
    # app_a's calls to app_b are captured by app_b: one per request that carried a token
    assert sum(1 for e in found if e["app"] == "app_b") >= 4


@pytest.mark.skipif(shutil.which("ab") is None, reason="ab (apache2-utils) is not installed")
def test_the_seed_ab_line_answers_the_jobs_text_500_times():
    out = subprocess.run(
        ["ab", "-m", "POST", "-H", "Authorization: mytoken", "-n", "500", "-c", "4",
         f"{app_a()}/jobs"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "Complete requests:      500" in out and "Failed requests:        0" in out
    assert f"Document Length:        {len(JOBS)} bytes" in out and "Non-2xx" not in out


def test_kafka_stopped_during_traffic_loses_no_event():
    url = app_a()
    KAFKA.run_expect([0], "systemctl stop kafka")
    ids = []
    try:
        for _ in range(20):
            r = requests.get(url + "/hello", timeout=10)
            assert (r.status_code, r.text) == (200, "Hello there")
            ids.append(r.headers["X-Request-Id"])
            r = requests.post(url + "/jobs", headers={"Authorization": "mytoken"}, timeout=10)
            assert (r.status_code, r.text) == (200, JOBS)
            ids.append(r.headers["X-Request-Id"])
        # in-flight batches fail after the producer's timeouts (~10 s), then are spooled
        deadline, spooled = time.monotonic() + 40, 0
        while not spooled and time.monotonic() < deadline:
            time.sleep(2)
            spooled = int(
                APPS.check_output("find /var/lib/stackyard/app_a/spool -name '*.jsonl*' | wc -l")
            )
        assert spooled > 0, "events wait in the spool while Kafka is down"
    finally:
        KAFKA.run_expect([0], "systemctl start kafka")
    found = wait_for_ids(set(ids), timeout=120)
    assert set(ids) <= {e["id"] for e in found}, "every event arrives once Kafka is back"
