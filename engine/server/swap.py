"""Rasa's ``PUT /model``: load another model into the running bot and switch to it between two
messages.

Body (as Rasa's)::

    {"model_file": "/path/to/model.tar.gz"}
    {"model_server": {"url": "https://...", "params": {...}, "headers": {...},
                      "token": "...", "token_name": "token",
                      "basic_auth": {"username": "...", "password": "..."}}}

``model_file`` is read from the bot's own filesystem; when it is missing and ``model_server`` is
given too, the model is fetched from the server (one GET; Rasa's periodic pulls,
``wait_time_between_pulls``, are not done). Answers 204 once the new model serves; a bad body is
a 400 naming the field; a model that cannot be fetched or loaded is Rasa's 500 ``LoadingError``
and the old model keeps answering. ``--auth-token`` protects the route as every API route.

How the switch stays atomic: the model is fetched and loaded in a worker thread while the old
model goes on answering. The switch itself is one assignment on the event loop
(`engine.server.app.Api.use`); every turn reads the bot once, under its conversation's lock, so
a reply is produced wholly by the old model or wholly by the new one. The conversations stay:
the new bot takes over the tracker store (each tracker is rebuilt from its events with the new
model's domain the next time its conversation is read), the pending reminders, the event broker
and the action server client of the old one. The old model's LLM clients are closed only once
the turns that were running on it have ended.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from engine.netguard import BlockedNetworks
from engine.server.app import ApiError, _json_object, _kind, read_json
from engine.server.runtime import Bot
from engine.server.store import DEFAULT_MAX_CONVERSATIONS

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from engine.server.app import Api

__all__ = ["MAX_MODEL_BYTES", "ModelSwapper", "enable_model_swaps"]

logger = logging.getLogger(__name__)

#: The largest archive fetched from a model server.
MAX_MODEL_BYTES = 2 * 1024 * 1024 * 1024
FETCH_TIMEOUT = 300.0
_SERVER_KEYS = {
    "url",
    "params",
    "headers",
    "token",
    "token_name",
    "basic_auth",
    "wait_time_between_pulls",
}


class LoadingError(Exception):
    """The model could not be fetched or loaded; the message says why (never a secret)."""


def _body_error(field_name: str, message: str) -> ApiError:
    return ApiError(400, "BadRequest", message, {"parameter": field_name, "in": "body"})


def _strings(value: Any, name: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, (str, int, float)) and not isinstance(v, bool)
        for k, v in value.items()
    ):
        raise _body_error(name, f"'{name}' must be an object of strings, not {_kind(value)}.")
    return {k: str(v) for k, v in value.items()}


@dataclass
class ModelServer:
    """Rasa's model server endpoint (an ``EndpointConfig``), as far as one GET needs it."""

    url: str
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    auth: tuple[str, str] | None = None

    @classmethod
    def parse(cls, raw: Any) -> ModelServer:
        if not isinstance(raw, dict):
            raise _body_error(
                "model_server", f"'model_server' must be an object, not {_kind(raw)}."
            )
        unknown = sorted(set(raw) - _SERVER_KEYS)
        if unknown:
            raise _body_error(
                "model_server", f"'model_server' has unknown keys: {', '.join(unknown)}."
            )
        url = raw.get("url")
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
            raise _body_error("model_server.url", "'model_server.url' must be an http(s) URL.")
        params = _strings(raw.get("params"), "model_server.params")
        headers = _strings(raw.get("headers"), "model_server.headers")
        token = raw.get("token")
        if token is not None:
            if not isinstance(token, str):
                raise _body_error("model_server.token", "'model_server.token' must be a string.")
            token_name = raw.get("token_name", "token")
            if not isinstance(token_name, str) or not token_name:
                raise _body_error(
                    "model_server.token_name", "'model_server.token_name' must be a string."
                )
            params[token_name] = token
        auth = None
        basic = raw.get("basic_auth")
        if basic is not None:
            if not (
                isinstance(basic, dict)
                and isinstance(basic.get("username"), str)
                and isinstance(basic.get("password"), str)
            ):
                raise _body_error(
                    "model_server.basic_auth",
                    "'model_server.basic_auth' must have a string username and password.",
                )
            auth = (basic["username"], basic["password"])
        wait = raw.get("wait_time_between_pulls")
        if wait is not None and (isinstance(wait, bool) or not isinstance(wait, (int, float))):
            raise _body_error(
                "model_server.wait_time_between_pulls",
                "'model_server.wait_time_between_pulls' must be a number.",
            )
        return cls(url=url, params=params, headers=headers, auth=auth)

    @property
    def shown(self) -> str:
        """The URL without its query (signed links carry their secret there)."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}{parts.path}"

    def fetch(self, directory: Path) -> Path:
        """Download the archive into `directory`; raises `LoadingError`."""
        import httpx

        name = os.path.basename(urlsplit(self.url).path) or "model.tar.gz"
        if not name.endswith((".tar.gz", ".tgz")):
            name += ".tar.gz"
        target = directory / name
        size = 0
        try:
            with (
                httpx.stream(
                    "GET",
                    self.url,
                    params=self.params or None,
                    headers=self.headers or None,
                    auth=self.auth,
                    timeout=httpx.Timeout(FETCH_TIMEOUT, connect=10.0),
                    follow_redirects=True,
                ) as response,
                target.open("wb") as out,
            ):
                if response.status_code != 200:
                    raise LoadingError(
                        f"The model server {self.shown} answered {response.status_code}."
                    )
                for chunk in response.iter_bytes(1 << 20):
                    size += len(chunk)
                    if size > MAX_MODEL_BYTES:
                        raise LoadingError(
                            f"The model at {self.shown} is larger than {MAX_MODEL_BYTES} bytes."
                        )
                    out.write(chunk)
        except httpx.HTTPError as exc:
            raise LoadingError(
                f"Cannot fetch the model from {self.shown}: {type(exc).__name__}"
            ) from None
        return target


@dataclass
class ModelSwapper:
    """What a bot needs to build its successor: the endpoints it was started with, its seed
    and limits. Used by ``PUT /model`` (`enable_model_swaps`)."""

    api: Api
    endpoints: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    max_conversations: int = DEFAULT_MAX_CONVERSATIONS
    blocked_networks: BlockedNetworks | None = None
    swaps: int = 0
    #: The app's state, whose ``bot`` follows the swaps (set by `enable_model_swaps`).
    state: Any = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _retiring: set[asyncio.Task[None]] = field(default_factory=set)

    def successor(self, live: Bot, model_path: str | os.PathLike[str]) -> Bot:
        """The bot serving the model at `model_path` with `live`'s broker and action server
        (loaded in a worker thread; `live` keeps answering meanwhile)."""
        from engine.archive import load_model
        from engine.llm import build_llm_setup

        try:
            model = load_model(model_path)
            llm = build_llm_setup(
                model.llm, model.dialogue_model, self.endpoints, blocked=self.blocked_networks
            )
        except Exception as exc:
            raise LoadingError(f"Cannot load the model: {exc}") from exc
        return Bot(
            model,
            broker=live.broker,
            action_client=live.action_client,
            seed=self.seed,
            max_conversations=self.max_conversations,
            llm=llm,
        )

    def _load(self, live: Bot, model_file: str | None, server: ModelServer | None) -> Bot:
        if model_file is not None and (server is None or os.path.isfile(model_file)):
            return self.successor(live, model_file)
        assert server is not None
        with tempfile.TemporaryDirectory(prefix="engine-swap-") as tmp:
            return self.successor(live, server.fetch(Path(tmp)))

    def switch(self, new: Bot) -> Bot:
        """Make `new` serve from the next turn on; returns the bot it replaced. Runs on the
        event loop, so no request handler runs in between its steps."""
        old = self.api.bot
        new.store = old.store
        new.reminders = old.reminders
        new.published = old.published
        new.store.rebind(new.new_tracker, new.new_tracker)
        self.api.use(new)
        if self.state is not None:
            self.state.bot = new
        self.swaps += 1
        return old

    async def retire(self, old: Bot) -> None:
        """Close what only the old model used, once the turns running on it have ended."""
        await self.api.locks.drain()
        llm = old.processor.llm
        if llm is not None and llm is not self.api.bot.processor.llm:
            await run_in_threadpool(llm.close)

    async def put_model(self, request: Request) -> Response:
        self.api.check_token(request)
        data = _json_object(await read_json(request, self.api.max_body_bytes))
        model_file = data.get("model_file")
        if model_file is not None and (not isinstance(model_file, str) or not model_file):
            raise _body_error("model_file", "'model_file' must be the path of a model archive.")
        if data.get("remote_storage") is not None:
            raise _body_error(
                "remote_storage",
                "'remote_storage' is not supported by this server; give model_file or "
                "model_server.",
            )
        server = ModelServer.parse(data["model_server"]) if data.get("model_server") else None
        if model_file is None and server is None:
            raise _body_error(
                "model_file", "No path to model file defined in request_body (model_file)."
            )
        if server is None and not os.path.isfile(str(model_file)):
            raise _body_error("model_file", f"There is no model archive at '{model_file}'.")
        async with self._lock:  # one swap at a time; messages go on meanwhile
            live = self.api.bot
            try:
                new = await run_in_threadpool(self._load, live, model_file, server)
            except LoadingError as exc:
                logger.warning("PUT /model: %s (the old model keeps serving)", exc)
                raise ApiError(
                    500, "LoadingError", f"An unexpected error occurred. Error: {exc}"
                ) from None
            old = self.switch(new)
        _say(
            f"Serving model {new.model.model_id} (assistant {new.model.assistant_id or '-'}) "
            f"in place of {old.model.model_id}"
        )
        retiring = asyncio.create_task(self.retire(old))
        self._retiring.add(retiring)
        retiring.add_done_callback(self._retiring.discard)
        return Response(status_code=204)


def _say(line: str) -> None:
    """A line on the bot's output (the running consumer keeps it with the deployment)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def enable_model_swaps(app: Starlette, swapper: ModelSwapper) -> None:
    """Add ``PUT /model`` to an app made by `engine.server.app.create_app`."""
    from engine.server.app import _guarded

    app.router.routes.append(Route("/model", _guarded(swapper.put_model), methods=["PUT"]))
    swapper.state = app.state
    app.state.swapper = swapper
