"""Talking to a running bot over Rasa's HTTP API (the web process relays Try-your-assistant)."""

from __future__ import annotations

import functools
import ssl
from typing import Any
from urllib.parse import quote

import httpx

from apps.training.models import Deployment

TIMEOUT = httpx.Timeout(30.0, connect=5.0)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """httpx's default TLS settings, built once per process, for the one-off requests to bots
    (`request`). Without it each request builds them again, reading the CA bundle:
    about 20 ms of CPU, most of a Try message's relay and of a model swap's request (issue 20).
    A context is safe to share between threads."""
    return httpx.create_ssl_context()


def request(method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One request to a bot (`httpx.request`'s arguments), with the process's shared TLS
    context: what the Try relay, the consumers' readiness polls and model swaps send."""
    return httpx.request(method, url, verify=tls_context(), **kwargs)


class BotUnavailable(Exception):
    """The bot did not answer, or answered with an error; the message says which."""

    def __init__(self, message: str, *, status: int | None = None, reason: str = ""):
        super().__init__(message)
        self.status = status  # the HTTP status the bot answered, if it answered
        self.reason = reason  # its error's `reason` (Rasa's error body), if it gave one


def _call(method: str, deployment: Deployment, path: str, **kwargs):
    if not deployment.bot_url:
        raise BotUnavailable("The bot is not running.")
    if deployment.bot_token:
        # The built-in engine's token, in a header: a query string shows in HTTP clients' logs.
        kwargs["headers"] = {
            **kwargs.get("headers", {}),
            "Authorization": f"Bearer {deployment.bot_token}",
        }
    try:
        response = request(method, deployment.bot_url + path, timeout=TIMEOUT, **kwargs)
    except httpx.HTTPError as exc:
        raise BotUnavailable(f"The bot did not answer: {exc}") from None
    if response.status_code >= 400:
        try:
            body = response.json()
        except ValueError:
            body = None
        body = body if isinstance(body, dict) else {}
        message = str(body.get("message") or response.text)
        raise BotUnavailable(
            f"The bot answered {response.status_code}: {message[:500]}",
            status=response.status_code,
            reason=str(body.get("reason") or ""),
        )
    deployment.touch()
    return response.json() if response.content else None


def conversation_path(sender_id: str) -> str:
    return f"/conversations/{quote(sender_id, safe='')}"


def send_message(
    deployment: Deployment,
    sender_id: str,
    text: str,
    *,
    button_title: str | None = None,
    language: str | None = None,
) -> list[dict]:
    """Send `text` as the user. A quick-reply click sends the button's payload, and its title
    goes in the message's metadata (``button_title``), which the user event keeps. `language`
    (the session's language) goes in the metadata as ``language``, as a channel that knows its
    user's language sends it."""
    body: dict = {"sender": sender_id, "message": text}
    metadata = {}
    if button_title:
        metadata["button_title"] = button_title
    if language:
        metadata["language"] = language
    if metadata:
        body["metadata"] = metadata
    return _call("POST", deployment, "/webhooks/rest/webhook", json=body) or []


def tracker(deployment: Deployment, sender_id: str) -> dict:
    return _call("GET", deployment, conversation_path(sender_id) + "/tracker") or {}


def restart(deployment: Deployment, sender_id: str) -> None:
    """Forget the conversation. One the bot does not know yet (a new chat) has nothing to
    forget: that is not an error."""
    try:
        _call("DELETE", deployment, conversation_path(sender_id) + "/tracker")
    except BotUnavailable as exc:
        if not (exc.status == 404 and exc.reason == "ConversationNotFound"):
            raise


def start_flow(deployment: Deployment, sender_id: str, flow_id: str, slots: dict) -> list[dict]:
    state = _call(
        "POST",
        deployment,
        conversation_path(sender_id) + "/tracker/events",
        json={"event": "studio_start_flow", "flow": flow_id, "slots": slots},
    )
    return (state or {}).get("messages", [])


def set_slots(deployment: Deployment, sender_id: str, slots: dict) -> None:
    events = [{"event": "slot", "name": name, "value": value} for name, value in slots.items()]
    if events:
        _call("POST", deployment, conversation_path(sender_id) + "/tracker/events", json=events)


def set_language(deployment: Deployment, sender_id: str, language: str) -> None:
    """Make the conversation speak `language`: set Rasa's built-in ``language`` slot."""
    set_slots(deployment, sender_id, {"language": language})
