"""The HTTP API: Rasa's server endpoints and REST channel, as a Starlette app.

Request and response bodies are Rasa's, so a client written for a Rasa server works unchanged.
Every error is Rasa's error object::

    {"version": "...", "status": "failure", "message": "...", "reason": "BadRequest",
     "details": {}, "help": null, "code": 400}

Bad input is always a 4xx; a crash inside the dialogue is a 500 with the same shape, the
conversation is left as it was before the message, and the server keeps serving.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import math
import os
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from engine import formats
from engine.formats.defaults import DEFAULT_INTENTS
from engine.server.runtime import STUDIO_START_FLOW, Bot, EventsError, validate_events
from engine.server.store import ConversationLocks

__all__ = ["API_VERSION", "MAX_BODY_BYTES", "create_app"]

logger = logging.getLogger(__name__)

#: The Rasa HTTP API version these endpoints follow (reported by ``/`` and ``/version``).
API_VERSION = "3.21.0"
MINIMUM_COMPATIBLE_VERSION = "3.21.0"
#: Largest request body accepted.
MAX_BODY_BYTES = 1024 * 1024
#: Longest conversation id accepted.
MAX_SENDER_ID_LENGTH = 512
INCLUDE_EVENTS = ("ALL", "APPLIED", "AFTER_RESTART", "NONE")


class ApiError(Exception):
    def __init__(
        self, status: int, reason: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        self.status = status
        self.reason = reason
        self.message = message
        self.details = details or {}
        super().__init__(message)


class JsonResponse(JSONResponse):
    """JSON that never fails on a value an action put into a slot (dates, NaN...)."""

    def render(self, content: Any) -> bytes:
        return dump_json(content)


#: orjson writes dates and dataclasses itself unless told not to: they go to `_default`, which
#: writes them as the standard library's encoder with ``default=str`` does.
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def dump_json(content: Any) -> bytes:
    """`content` as compact UTF-8 JSON: NaN and infinities as null, a value JSON has no type for
    as its ``str()``. orjson writes it; what orjson refuses (a key that is not a string, an
    integer beyond 64 bits, a lone surrogate) goes through the standard library's encoder,
    which writes the same JSON more slowly."""
    try:
        return orjson.dumps(content, default=_default, option=_ORJSON_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(
            _finite(content), ensure_ascii=False, separators=(",", ":"), default=str
        ).encode("utf-8")


def _default(value: Any) -> Any:
    if isinstance(value, float):  # a float subclass (numpy's float64): a number, as json does
        return None if not math.isfinite(value) else float(value)
    return str(value)


#: A run of digits that may be an integer beyond 64 bits, which orjson would read as a float.
_LONG_NUMBER = re.compile(rb"\d{19}")


def load_json(body: bytes) -> Any:
    """The JSON value of `body`; raises ValueError or UnicodeDecodeError as `json.loads` does.
    orjson reads it; what orjson refuses (NaN, a lone surrogate, invalid text) or might read
    differently (an integer of 19 digits or more) is read, or rejected with its error, by the
    standard library's decoder."""
    if not _LONG_NUMBER.search(body):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    return json.loads(body.decode("utf-8"))


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def error_response(
    status: int, reason: str, message: str, details: dict[str, Any] | None = None
) -> JsonResponse:
    return JsonResponse(
        {
            "version": API_VERSION,
            "status": "failure",
            "message": message,
            "reason": reason,
            "details": details or {},
            "help": None,
            "code": status,
        },
        status_code=status,
    )


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


# --------------------------------------------------------------------------------------------
# Request helpers


async def read_json(request: Request, max_bytes: int) -> Any:
    """The request's JSON body; raises `ApiError` (413 when too large, 400 when not JSON)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > max_bytes:
                raise ApiError(
                    413, "PayloadTooLarge", f"The request body is larger than {max_bytes} bytes."
                )
        except ValueError:
            raise bad_request("The Content-Length header is not a number.") from None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise ApiError(
                413, "PayloadTooLarge", f"The request body is larger than {max_bytes} bytes."
            )
        chunks.append(chunk)
    body = b"".join(chunks)
    if not body.strip():
        raise bad_request("The request body is empty; send a JSON object.")
    try:
        return load_json(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise bad_request(f"The request body is not valid JSON: {exc}") from None


def _json_object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise bad_request(f"The request body must be a JSON object, not {_kind(data)}.")
    return data


def _kind(value: Any) -> str:
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def _entities_ok(entities: Any) -> bool:
    """Rasa's entities of an external event: a list of entity objects (each with a string
    ``entity``), or the short-hand ``{"entity": "value", ...}``."""
    if isinstance(entities, dict):
        return all(isinstance(name, str) and name for name in entities)
    return isinstance(entities, list) and all(
        isinstance(e, dict) and isinstance(e.get("entity"), str) for e in entities
    )


def _conversation_id(request: Request) -> str:
    sender_id: str = request.path_params["conversation_id"]
    _check_sender_id(sender_id)
    return sender_id


def _check_sender_id(sender_id: str) -> None:
    if not sender_id or len(sender_id) > MAX_SENDER_ID_LENGTH:
        raise bad_request(f"The conversation id must have 1 to {MAX_SENDER_ID_LENGTH} characters.")
    if any(ord(ch) < 32 for ch in sender_id):
        raise bad_request("The conversation id may not contain control characters.")


def _include_events(request: Request) -> str:
    value = request.query_params.get("include_events", "AFTER_RESTART").upper()
    if value not in INCLUDE_EVENTS:
        raise bad_request(
            f"include_events must be one of {', '.join(INCLUDE_EVENTS)}, not '{value}'."
        )
    return value


def _flag(request: Request, name: str) -> bool:
    value = request.query_params.get(name, "false").lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no", ""):
        return False
    raise bad_request(f"The query parameter {name} must be true or false, not '{value}'.")


def tracker_state(bot: Bot, tracker: Any, include_events: str, until: float | None = None) -> Any:
    if until is not None:
        events = [e for e in tracker.events if (e.get("timestamp") or 0) <= until]
        tracker = bot.new_tracker(tracker.sender_id, events)
    return tracker.to_dict(include_events)


# --------------------------------------------------------------------------------------------
# Endpoints


class Api:
    def __init__(
        self,
        bot: Bot,
        *,
        auth_token: str | None,
        max_body_bytes: int,
        auth_webhooks: bool = False,
    ) -> None:
        self.auth_token = auth_token
        self.auth_webhooks = auth_webhooks
        self.max_body_bytes = max_body_bytes
        self.locks = ConversationLocks()
        self.started_at = time.time()
        self.use(bot)

    def use(self, bot: Bot) -> None:
        """Serve `bot` from the next request on (a model swap, `engine.server.swap`). Every
        turn reads `self.bot` once, under its conversation's lock, so it runs wholly on one."""
        domain = bot.model.dialogue_model.domain
        #: What ``trigger_intent`` may trigger: the domain's intents and Rasa's default ones.
        self.known_intents = {i.name for i in domain.intents} | DEFAULT_INTENTS
        self.bot = bot

    def check_token(self, request: Request) -> None:
        if not self.auth_token:
            return
        given = request.query_params.get("token") or ""
        header = request.headers.get("authorization") or ""
        if header.lower().startswith("bearer "):
            given = given or header[7:].strip()
        if not hmac.compare_digest(given.encode(), self.auth_token.encode()):
            raise ApiError(401, "NotAuthenticated", "User is not authenticated.")

    # -- utility ------------------------------------------------------------------------------

    async def hello(self, request: Request) -> Response:
        return PlainTextResponse(f"Hello from Rasa: {API_VERSION}")

    async def version(self, request: Request) -> Response:
        from engine.train import ENGINE_NAME, ENGINE_VERSION

        return JsonResponse(
            {
                "version": API_VERSION,
                "minimum_compatible_version": MINIMUM_COMPATIBLE_VERSION,
                "engine": ENGINE_NAME,
                "engine_version": ENGINE_VERSION,
            }
        )

    async def status(self, request: Request) -> Response:
        self.check_token(request)
        from engine.train import ENGINE_VERSION

        model = self.bot.model
        return JsonResponse(
            {
                "model_id": model.model_id,
                "model_file": os.path.basename(model.path) if model.path else "",
                "num_active_training_jobs": 0,
                "fingerprint": model.fingerprint,
                "assistant_id": model.assistant_id,
                "engine_version": ENGINE_VERSION,
                "worker_pid": os.getpid(),
            }
        )

    async def domain(self, request: Request) -> Response:
        self.check_token(request)
        domain = self.bot.model.dialogue_model.domain_dict()
        accept = request.headers.get("accept", "application/json").lower()
        if "yaml" in accept or "yml" in accept:
            return Response(formats.served_domain_yaml(domain), media_type="application/x-yml")
        return JsonResponse(domain)

    # -- REST channel -------------------------------------------------------------------------

    async def rest_health(self, request: Request) -> Response:
        return JsonResponse({"status": "ok"})

    async def rest_webhook(self, request: Request) -> Response:
        if self.auth_webhooks:
            self.check_token(request)
        data = _json_object(await read_json(request, self.max_body_bytes))
        sender = data.get("sender")
        if sender is None:
            sender = "default"
        elif isinstance(sender, (int, float)) and not isinstance(sender, bool):
            sender = str(sender)
        elif not isinstance(sender, str):
            raise bad_request(f"'sender' must be a string, not {_kind(sender)}.")
        _check_sender_id(sender)
        text = data.get("message")
        if not isinstance(text, str):
            raise bad_request(
                "'message' is required and must be a string"
                + ("." if text is None else f", not {_kind(text)}.")
            )
        metadata = data.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise bad_request(f"'metadata' must be an object, not {_kind(metadata)}.")
        channel = data.get("input_channel") or "rest"
        if not isinstance(channel, str):
            raise bad_request(f"'input_channel' must be a string, not {_kind(channel)}.")
        message_id = data.get("message_id")
        if message_id is not None and not isinstance(message_id, str):
            raise bad_request(f"'message_id' must be a string, not {_kind(message_id)}.")

        stream = _flag(request, "stream")
        async with self.locks.hold(sender):
            bot = self.bot
            turn = partial(
                bot.handle_message,
                sender,
                text,
                metadata=metadata,
                input_channel=channel,
                message_id=message_id,
            )
            messages = turn() if bot.turns_only_compute else await run_in_threadpool(turn)
        if stream:
            body = "".join(json.dumps(m, ensure_ascii=False, default=str) + "\n" for m in messages)
            return Response(body, media_type="text/event-stream")
        return JsonResponse(messages)

    # -- NLU ----------------------------------------------------------------------------------

    async def parse(self, request: Request) -> Response:
        self.check_token(request)
        if request.query_params.get("emulation_mode"):
            raise bad_request("emulation_mode is not supported by this server.")
        data = _json_object(await read_json(request, self.max_body_bytes))
        text = data.get("text")
        if not isinstance(text, str):
            raise bad_request(
                "No text message defined in request_body. Add text message to request body "
                "in order to obtain the intent and extracted entities."
            )
        message_id = data.get("message_id")
        if message_id is not None and not isinstance(message_id, str):
            raise bad_request(f"'message_id' must be a string, not {_kind(message_id)}.")
        result = await run_in_threadpool(self.bot.parse, text)
        return JsonResponse(result)

    # -- trackers -----------------------------------------------------------------------------

    async def get_tracker(self, request: Request) -> Response:
        self.check_token(request)
        sender_id = _conversation_id(request)
        include = _include_events(request)
        until_raw = request.query_params.get("until")
        until = None
        if until_raw is not None:
            try:
                until = float(until_raw)
            except ValueError:
                raise bad_request("until must be a timestamp (seconds since the epoch).") from None
        async with self.locks.hold(sender_id):
            tracker = self.bot.tracker(sender_id)
            if tracker is None:
                # As Rasa: an unknown conversation is an empty one (not stored by a read).
                tracker = self.bot.new_tracker(sender_id)
            state = tracker_state(self.bot, tracker, include, until)
        return JsonResponse(state)

    async def post_events(self, request: Request) -> Response:
        self.check_token(request)
        sender_id = _conversation_id(request)
        include = _include_events(request)
        execute = _flag(request, "execute_side_effects")
        data = await read_json(request, self.max_body_bytes)

        if isinstance(data, dict) and data.get("event") == STUDIO_START_FLOW:
            flow_id = data.get("flow")
            slots = data.get("slots")
            if not isinstance(flow_id, str) or not flow_id:
                raise bad_request(f"'{STUDIO_START_FLOW}' needs a string 'flow'.")
            if slots is not None and not isinstance(slots, dict):
                raise bad_request(f"'slots' must be an object, not {_kind(slots)}.")
            unknown = sorted(set(slots or {}) - set(self.bot.model.dialogue_model.slots))
            if unknown:
                raise bad_request(f"The domain has no slot {', '.join(unknown)}.")
            async with self.locks.hold(sender_id):
                try:
                    tracker, messages = await run_in_threadpool(
                        self.bot.start_flow, sender_id, flow_id, slots
                    )
                except EventsError as exc:
                    raise bad_request(str(exc)) from None
                state = tracker.to_dict(include)
            return JsonResponse({**state, "messages": messages})

        try:
            events = validate_events(data)
        except EventsError as exc:
            raise bad_request(f"The request body does not contain valid events: {exc}") from None
        async with self.locks.hold(sender_id):
            tracker, _messages = await run_in_threadpool(
                self.bot.append_events, sender_id, events, execute_side_effects=execute
            )
            state = tracker.to_dict(include)
        return JsonResponse(state)

    async def put_events(self, request: Request) -> Response:
        self.check_token(request)
        sender_id = _conversation_id(request)
        include = _include_events(request)
        data = await read_json(request, self.max_body_bytes)
        if not isinstance(data, list):
            raise bad_request("The request body must be a list of events.")
        try:
            events = validate_events(data) if data else []
        except EventsError as exc:
            raise bad_request(f"The request body does not contain valid events: {exc}") from None
        async with self.locks.hold(sender_id):
            tracker = await run_in_threadpool(self.bot.replace_events, sender_id, events)
            state = tracker.to_dict(include)
        return JsonResponse(state)

    async def trigger_intent(self, request: Request) -> Response:
        """Rasa's ``POST /conversations/{id}/trigger_intent``: body ``{"name": <intent>,
        "entities": [...] | {entity: value}}``; answers ``{"tracker", "messages"}``."""
        self.check_token(request)
        sender_id = _conversation_id(request)
        include = _include_events(request)
        output_channel = request.query_params.get("output_channel")
        if output_channel is not None and not output_channel.strip():
            raise bad_request("The query parameter output_channel may not be empty.")
        data = _json_object(await read_json(request, self.max_body_bytes))
        intent = data.get("name")
        if not isinstance(intent, str) or not intent.strip():
            raise ApiError(
                400,
                "BadRequest",
                "Name of the intent not provided in request body."
                if intent is None
                else f"'name' must be the name of an intent, not {_kind(intent)}.",
                {"parameter": "name", "in": "body"},
            )
        entities = data.get("entities")
        if entities is not None and not _entities_ok(entities):
            raise ApiError(
                400,
                "BadRequest",
                "'entities' must be a list of entity objects or an object of entity values, "
                f"not {_kind(entities)}.",
                {"parameter": "entities", "in": "body"},
            )
        if intent not in self.known_intents:
            raise ApiError(404, "NotFound", f"The intent {intent} does not exist in the domain.")
        async with self.locks.hold(sender_id):
            tracker, messages = await run_in_threadpool(
                self.bot.trigger_intent, sender_id, intent, entities
            )
            state = tracker.to_dict(include)
        # Only the REST channel answers here: its messages come back in the response.
        return JsonResponse({"tracker": state, "messages": messages})

    async def fire_reminder(self, sender_id: str, event: dict[str, Any]) -> None:
        """Run a due reminder in a turn of its conversation, under the conversation's lock."""
        async with self.locks.hold(sender_id):
            await run_in_threadpool(self.bot.fire_reminder, sender_id, event)

    async def delete_tracker(self, request: Request) -> Response:
        self.check_token(request)
        sender_id = _conversation_id(request)
        async with self.locks.hold(sender_id):
            deleted = self.bot.delete(sender_id)
        if not deleted:
            raise ApiError(
                404, "ConversationNotFound", f"Conversation '{sender_id}' does not exist."
            )
        return Response(status_code=204)


# --------------------------------------------------------------------------------------------
# Error handlers and the app


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.reason, exc.message, exc.details)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    reasons = {404: "NotFound", 405: "MethodNotAllowed"}
    message = {
        404: f"No endpoint at {request.url.path}.",
        405: f"{request.method} is not allowed on {request.url.path}.",
    }.get(exc.status_code, str(exc.detail))
    return error_response(exc.status_code, reasons.get(exc.status_code, "HTTPError"), message)


async def _crash(request: Request, exc: Exception) -> Response:
    logger.exception("error while handling %s %s", request.method, request.url.path)
    return error_response(
        500,
        "ServerError",
        f"An unexpected error occurred: {type(exc).__name__}: {exc}",
    )


Endpoint = Callable[[Request], Awaitable[Response]]


def _guarded(endpoint: Endpoint) -> Endpoint:
    """Turn a crash inside an endpoint into the 500 error object (the server keeps serving)."""

    async def guarded(request: Request) -> Response:
        try:
            return await endpoint(request)
        except (ApiError, HTTPException):
            raise
        except Exception as exc:
            return await _crash(request, exc)

    return guarded


WEBHOOK_PATH = "/webhooks/rest/webhook"


class _App(Starlette):
    """Starlette, with ``POST /webhooks/rest/webhook`` (most of a bot's requests) answered
    without the middleware and the router: the same endpoint and the same error answers, at a
    fraction of the cost per request. Once middleware is added, every request goes through it."""

    webhook: Endpoint | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        webhook = self.webhook
        if (
            webhook is None
            or scope["type"] != "http"
            or scope["method"] != "POST"
            or scope["path"] != scope.get("root_path", "") + WEBHOOK_PATH
            or self.user_middleware
        ):
            await super().__call__(scope, receive, send)
            return
        scope["app"] = self
        request = Request(scope, receive, send)
        try:
            response = await webhook(request)
        except ApiError as exc:
            response = await _api_error(request, exc)
        except HTTPException as exc:
            response = await _http_error(request, exc)
        await response(scope, receive, send)


def create_app(
    bot: Bot,
    *,
    auth_token: str | None = None,
    auth_webhooks: bool = False,
    max_body_bytes: int = MAX_BODY_BYTES,
    on_startup: list[Any] | None = None,
) -> Starlette:
    """The app serving `bot`. The bot's broker is flushed and closed when the app shuts down.

    With `auth_token`, the API endpoints answer 401 without ``?token=`` (or ``Authorization:
    Bearer``) set to it; with `auth_webhooks` too, so does the REST channel's webhook."""
    api = Api(
        bot, auth_token=auth_token, max_body_bytes=max_body_bytes, auth_webhooks=auth_webhooks
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        for callback in on_startup or []:
            callback()
        # Reminders fire on the app's loop, each in a turn under its conversation's lock.
        bot.reminders.start(asyncio.get_running_loop(), api.fire_reminder)
        try:
            yield
        finally:
            # The bot serving now (a swap may have replaced the first one).
            api.bot.reminders.stop()
            await run_in_threadpool(api.bot.close)

    routes = [
        Route("/", _guarded(api.hello), methods=["GET"]),
        Route("/version", _guarded(api.version), methods=["GET"]),
        Route("/status", _guarded(api.status), methods=["GET"]),
        Route("/domain", _guarded(api.domain), methods=["GET"]),
        Route("/webhooks/rest", _guarded(api.rest_health), methods=["GET"]),
        Route("/webhooks/rest/", _guarded(api.rest_health), methods=["GET"]),
        Route("/webhooks/rest/webhook", _guarded(api.rest_webhook), methods=["POST"]),
        Route("/model/parse", _guarded(api.parse), methods=["POST"]),
        Route(
            "/conversations/{conversation_id}/tracker", _guarded(api.get_tracker), methods=["GET"]
        ),
        Route(
            "/conversations/{conversation_id}/tracker",
            _guarded(api.delete_tracker),
            methods=["DELETE"],
        ),
        Route(
            "/conversations/{conversation_id}/tracker/events",
            _guarded(api.post_events),
            methods=["POST"],
        ),
        Route(
            "/conversations/{conversation_id}/tracker/events",
            _guarded(api.put_events),
            methods=["PUT"],
        ),
        Route(
            "/conversations/{conversation_id}/trigger_intent",
            _guarded(api.trigger_intent),
            methods=["POST"],
        ),
    ]
    app = _App(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={ApiError: _api_error, HTTPException: _http_error},
    )
    app.webhook = _guarded(api.rest_webhook)
    app.state.bot = bot
    app.state.api = api
    return app
