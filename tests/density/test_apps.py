"""app_a and app_b answer the seed's requests correctly and never a 500 (capture off here)."""

from __future__ import annotations

import socket
import threading
from urllib.parse import urlencode

import pytest
from density_support import PASSWORD, TOKEN
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.serving import make_server

from stackyard.density import app_a, app_b, users
from stackyard.density.config import ConfigError, Settings, load_settings

JOBS = "Jobs:\nTitle: Devops\nDescription: Awesome\n"


@pytest.fixture(scope="module")
def b_client(users_db):
    return app_b.create_flask(Settings(users_db=users_db, capture_enabled=False)).test_client()


@pytest.fixture(scope="module")
def b_url(users_db):
    app = app_b.create_flask(Settings(users_db=users_db, capture_enabled=False))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="module")
def a_client(b_url):
    settings = Settings(app_b_url=b_url, capture_enabled=False, app_b_read_timeout=1)
    return app_a.create_flask(settings).test_client()


def test_hello_answers_hello_there(a_client):
    response = a_client.get("/hello")
    assert (response.status_code, response.text) == (200, "Hello there")


def test_jobs_with_the_density_token_answers_the_jobs_text(a_client):
    response = a_client.post("/jobs", headers={"Authorization": TOKEN})
    assert (response.status_code, response.text) == (200, JOBS)


def test_jobs_with_another_users_token_is_forbidden(a_client):
    response = a_client.post("/jobs", headers={"Authorization": "othertoken"})
    assert (response.status_code, response.text) == (403, "fail")


def test_jobs_with_an_unknown_token_is_forbidden(a_client):
    response = a_client.post("/jobs", headers={"Authorization": "nope"})
    assert (response.status_code, response.text) == (403, "fail")


def test_jobs_without_authorization_is_401_json(a_client):
    response = a_client.post("/jobs")
    assert response.status_code == 401
    assert "Authorization" in response.json["error"]


def test_auth_answers_the_owner_of_a_token(b_client):
    assert b_client.post("/auth", data={"token": TOKEN}).text == "density"
    refused = b_client.post("/auth", data={"token": "mytoke"})
    assert (refused.status_code, refused.text) == (403, "fail")


def test_auth_without_a_token_is_400_json(b_client):
    response = b_client.post("/auth", data={})
    assert response.status_code == 400 and "token" in response.json["error"]


def test_app_b_unreachable_answers_502(users_db):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connection refused
        settings = Settings(app_b_url=f"http://127.0.0.1:{port}", capture_enabled=False)
        response = (
            app_a.create_flask(settings)
            .test_client()
            .post("/jobs", headers={"Authorization": TOKEN})
        )
    assert response.status_code == 502 and response.json["error"] == "app_b is unreachable"


def test_app_b_silent_answers_504_within_the_timeout():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)  # accepts the connection, never answers
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        settings = Settings(app_b_url=url, capture_enabled=False, app_b_read_timeout=0.3)
        response = (
            app_a.create_flask(settings)
            .test_client()
            .post("/jobs", headers={"Authorization": TOKEN})
        )
    assert response.status_code == 504 and "error" in response.json


def test_unknown_path_is_404_json(a_client, b_client):
    for client in (a_client, b_client):
        response = client.get("/nope")
        assert response.status_code == 404 and "error" in response.json


def test_seeding_twice_changes_nothing_and_hashes_the_password(tmp_path):
    path = str(tmp_path / "u.db")
    assert users.seed(path, "density", PASSWORD, TOKEN) is True
    assert users.seed(path, "density", PASSWORD, TOKEN) is False
    assert users.seed(path, "density", "new-password", TOKEN) is True
    conn = users.connect(path)
    (stored,) = conn.execute("SELECT password FROM users").fetchone()
    assert PASSWORD not in stored and users.check_password("new-password", stored)


def test_settings_from_environment_are_validated():
    s = load_settings({"DENSITY_KAFKA_BOOTSTRAP": "a:1, b:2", "DENSITY_CAPTURE_ENABLED": "no"})
    assert s.kafka_bootstrap == ("a:1", "b:2") and s.capture_enabled is False
    with pytest.raises(ConfigError, match="DENSITY_SPOOL_DROP"):
        load_settings({"DENSITY_SPOOL_DROP": "random"})


text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=50)
header_value = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=50)
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


def _ok_or_json_4xx(response, allowed_text: set[str]) -> None:
    assert response.status_code < 500 or response.status_code in (502, 504)
    if response.status_code >= 400 and response.text not in allowed_text:
        assert isinstance(response.json, dict) and "error" in response.json


@PROPERTY
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]),
    path=st.sampled_from(["/hello", "/jobs", "/health", "/x"]),
    auth=st.none() | header_value,
    query=st.dictionaries(text, text, max_size=3),
    body=st.binary(max_size=200),
)
def test_app_a_answers_anything_without_a_500(a_client, method, path, auth, query, body):
    headers = {"Authorization": auth} if auth is not None else {}
    response = a_client.open(path, method=method, headers=headers, query_string=query, data=body)
    _ok_or_json_4xx(response, {"fail"})


@PROPERTY
@given(
    form=st.lists(st.tuples(st.sampled_from(["token", "x", "tok"]), text), max_size=3),
    raw=st.none() | st.binary(max_size=200),
    ctype=st.sampled_from(
        ["application/x-www-form-urlencoded", "multipart/form-data", "application/json", ""]
    ),
)
def test_app_b_auth_answers_anything_without_a_500(b_client, form, raw, ctype):
    if raw is None:
        body = urlencode(form).encode()
        response = b_client.post(
            "/auth", data=body, content_type="application/x-www-form-urlencoded"
        )
    else:
        response = b_client.post("/auth", data=raw, content_type=ctype)
    _ok_or_json_4xx(response, {"fail"})


def test_oversized_and_deeply_nested_bodies_are_4xx_json(a_client, b_client):
    big = b"token=" + b"x" * (2 * 1024 * 1024)
    response = b_client.post("/auth", data=big, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413 and "error" in response.json
    nested = b"[" * 100_000 + b"]" * 100_000
    response = a_client.post("/jobs", data=nested, content_type="application/json")
    assert response.status_code == 401
