"""Every error of an app with stackyard.web.errors installed is JSON."""

import pytest
from flask import Flask

from stackyard.web import errors


@pytest.fixture
def client():
    app = Flask(__name__)
    errors.install(app)

    @app.get("/unavailable")
    def unavailable():
        raise errors.Unavailable("the queue is unavailable", retry_after=5)

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret detail")

    @app.before_request
    def guard():
        from flask import request

        if request.args.get("deny"):
            raise errors.Unauthorized()

    return app.test_client()


def test_404_and_405_are_json(client):
    response = client.get("/nowhere")
    assert response.status_code == 404 and "error" in response.get_json()
    response = client.post("/boom")
    assert response.status_code == 405 and response.get_json()["allowed"] == [
        "GET",
        "HEAD",
        "OPTIONS",
    ]
    assert "GET" in response.headers["Allow"]


def test_unavailable_is_503_with_retry_after(client):
    response = client.get("/unavailable")
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert response.get_json() == {"error": "the queue is unavailable"}


def test_unexpected_errors_are_a_generic_500(client):
    response = client.get("/boom")
    assert response.status_code == 500
    assert response.get_json() == {"error": "internal server error"}


def test_errors_raised_before_the_view_are_json(client):
    response = client.get("/boom?deny=1")
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "error" in response.get_json()


def test_a_doubled_slash_is_a_json_404_not_an_html_redirect():
    app = errors.new_app(__name__)
    errors.install(app)
    app.add_url_rule("/dashboard/symbol/<symbol>", view_func=lambda symbol: {"symbol": symbol})
    client = app.test_client()
    assert client.get("/dashboard/symbol/a").json == {"symbol": "a"}
    response = client.get("/dashboard/symbol//a")
    assert response.status_code == 404 and response.is_json
