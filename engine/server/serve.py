"""Start a bot: load the model and endpoints, then run the app under uvicorn."""

from __future__ import annotations

import gc
import logging
import os
import sys
from typing import Any

from engine.archive import load_model
from engine.brokers import broker_from_config, load_endpoints
from engine.dialogue import ActionClient
from engine.netguard import BlockedNetworks
from engine.server.app import MAX_BODY_BYTES, create_app
from engine.server.runtime import Bot
from engine.server.store import DEFAULT_MAX_CONVERSATIONS
from engine.server.swap import ModelSwapper, enable_model_swaps

__all__ = ["build_bot", "serve"]


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def build_bot(
    model_path: str | os.PathLike[str],
    *,
    endpoints: dict[str, Any] | None = None,
    seed: int | None = None,
    max_conversations: int = DEFAULT_MAX_CONVERSATIONS,
    blocked_networks: BlockedNetworks | None = None,
) -> Bot:
    """Load the archive and connect the event broker and action server of `endpoints`.

    Without an ``action_endpoint``, custom actions do nothing (`engine.actions.NoActionServer`).
    The LLM command generators and the rephraser get their LLMs from the model's config and
    the ``model_groups`` and ``nlg`` of `endpoints` (`engine.llm.build_llm_setup`).
    """
    from engine.actions import NoActionServer, action_client_from_endpoints
    from engine.llm import build_llm_setup

    model = load_model(model_path)
    endpoints = endpoints or {}
    broker = broker_from_config(endpoints.get("event_broker"))
    action_client: ActionClient | None
    try:
        action_client = action_client_from_endpoints(
            endpoints.get("action_endpoint"), blocked=blocked_networks
        )
    except Exception:
        if broker is not None:
            broker.close()
        raise
    if action_client is None:
        action_client = NoActionServer()
    llm = build_llm_setup(model.llm, model.dialogue_model, endpoints, blocked=blocked_networks)
    return Bot(
        model,
        broker=broker,
        action_client=action_client,
        seed=seed,
        max_conversations=max_conversations,
        llm=llm,
    )


def serve(
    model_path: str,
    *,
    host: str = "127.0.0.1",
    port: int = 5005,
    endpoints_path: str | None = None,
    seed: int | None = None,
    auth_token: str | None = None,
    auth_webhooks: bool = False,
    blocked_networks: BlockedNetworks | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    max_conversations: int = DEFAULT_MAX_CONVERSATIONS,
    log_level: str = "info",
) -> None:
    import uvicorn

    logging.basicConfig(
        level=getattr(logging, log_level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # One line per action server call would drown the bot's own log.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    _say(f"Loading model {model_path}")
    endpoints = load_endpoints(endpoints_path) if endpoints_path else {}
    bot = build_bot(
        model_path,
        endpoints=endpoints,
        seed=seed,
        max_conversations=max_conversations,
        blocked_networks=blocked_networks,
    )
    broker = endpoints.get("event_broker") or {}
    if broker:
        _say(f"Publishing events to the {broker.get('type')} event broker")
    url = getattr(bot.action_client, "url", None)
    if url:
        _say(f"Custom actions run on {url}")
    else:
        _say("No action_endpoint: custom actions do nothing (no events, no messages)")
    llm = bot.processor.llm
    if llm is not None and llm.generators:
        for generator in llm.generators:
            _say(f"{generator.name} understands messages with {generator.client.label}")
    else:
        _say("The offline generator understands messages (no LLM command generator configured)")
    if llm is not None and llm.rephraser is not None:
        _say(f"Responses marked rephrase are rephrased with {llm.rephraser.client.label}")
    # The loaded model is most of the heap and lives as long as the process: out of the
    # collector's sight, a full collection scans only what the conversations allocate.
    gc.collect()
    gc.freeze()
    model = bot.model
    app = create_app(
        bot,
        auth_token=auth_token,
        auth_webhooks=auth_webhooks,
        max_body_bytes=max_body_bytes,
        on_startup=[
            lambda: _say(
                f"Serving model {model.model_id} (assistant {model.assistant_id or '-'}) "
                f"on http://{host}:{port}"
            ),
            lambda: _say("Rasa server is up and running."),
        ],
    )
    # PUT /model loads another model into this process (engine.server.swap).
    enable_model_swaps(
        app,
        ModelSwapper(
            app.state.api,
            endpoints=endpoints,
            seed=seed,
            max_conversations=max_conversations,
            blocked_networks=blocked_networks,
        ),
    )
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level.lower(),
        access_log=False,
        timeout_graceful_shutdown=10,
    )
