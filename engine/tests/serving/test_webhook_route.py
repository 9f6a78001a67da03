"""``POST /webhooks/rest/webhook`` skips Starlette's middleware and router: its answers, errors
included, are those the routed endpoint gives."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from engine.server import create_app
from engine.server.serve import build_bot

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")

REQUESTS: list[tuple[str, str, bytes, dict[str, str]]] = [
    ("POST", "/webhooks/rest/webhook", b'{"sender": "a", "message": "hello"}', {}),
    ("POST", "/webhooks/rest/webhook", b'{"sender": "a", "message": "thanks"}', {}),
    ("POST", "/webhooks/rest/webhook?stream=true", b'{"sender": "b", "message": "hi"}', {}),
    ("POST", "/webhooks/rest/webhook", b"not json", {}),
    ("POST", "/webhooks/rest/webhook", b"", {}),
    ("POST", "/webhooks/rest/webhook", b'{"sender": 3}', {}),
    ("POST", "/webhooks/rest/webhook", b'{"message": "hi", "metadata": 1}', {}),
    ("POST", "/webhooks/rest/webhook", b"x" * 300, {}),  # larger than the limit below
    ("POST", "/webhooks/rest/webhook", b"{}", {"content-length": "nope"}),
    ("GET", "/webhooks/rest/webhook", b"", {}),
    ("POST", "/webhooks/rest/webhook/", b'{"sender": "c", "message": "hi"}', {}),
]


def _answers(tiny_model: Path, *, routed: bool, token: str | None) -> list[tuple[int, str, str]]:
    app = create_app(
        build_bot(tiny_model, seed=1), max_body_bytes=200, auth_token=token, auth_webhooks=True
    )
    if routed:
        app.webhook = None  # every request through the middleware and the router
    answers = []
    with TestClient(app, follow_redirects=False) as client:
        for method, url, body, headers in REQUESTS:
            if token:
                headers = {**headers, "authorization": f"Bearer {token}"}
            response = client.request(method, url, content=body, headers=headers)
            answers.append(
                (response.status_code, response.headers.get("content-type", ""), response.text)
            )
    return answers


@pytest.mark.parametrize("token", [None, "s3cret"])
def test_the_webhook_answers_as_the_routed_endpoint(tiny_model: Path, token: str | None) -> None:
    direct = _answers(tiny_model, routed=False, token=token)
    assert direct == _answers(tiny_model, routed=True, token=token)
    assert [status for status, _type, _text in direct[:3]] == [200, 200, 200]
    assert {status for status, _type, _text in direct[3:9]} == {400, 413}


def test_a_wrong_token_is_refused_on_the_webhook(tiny_model: Path) -> None:
    app = create_app(build_bot(tiny_model, seed=1), auth_token="s3cret", auth_webhooks=True)
    with TestClient(app) as client:
        response = client.post("/webhooks/rest/webhook", json={"sender": "a", "message": "hi"})
        assert response.status_code == 401
        assert response.json()["reason"] == "NotAuthenticated"
