"""Serving a trained model over Rasa's HTTP API (`create_app`) and from the command line (`serve`).

``python -m engine serve MODEL.tar.gz --port 5005 [--endpoints endpoints.yml] [--seed N]``

Endpoints (bodies as Rasa's; errors as Rasa's error object, see `engine.server.app`):

=========================================================  =====================================
``GET /``                                                  "Hello from Rasa: <api version>"
``GET /version``                                           version, minimum_compatible_version
``GET /status``                                            model_id, model_file, fingerprint...
``GET /domain``                                            JSON, or YAML with ``Accept: *yaml``
``GET /webhooks/rest/``                                    ``{"status": "ok"}``
``POST /webhooks/rest/webhook[?stream=true]``              ``{"sender", "message", "metadata"?}``
``POST /model/parse``                                      ``{"text", "message_id"?}``
``PUT /model``                                             ``{"model_file"}`` or
                                                           ``{"model_server": {"url"...}}``:
                                                           204 once the new model serves
                                                           (`engine.server.swap`)
``GET /conversations/{id}/tracker``                        ``?include_events=...&until=...``
``POST /conversations/{id}/tracker/events``                one event or a list;
                                                           ``?execute_side_effects=true`` runs
                                                           the bot until it listens
``PUT /conversations/{id}/tracker/events``                 replace the events
``DELETE /conversations/{id}/tracker``                     204, or 404 for an unknown id
``POST /conversations/{id}/trigger_intent``                ``{"name", "entities"?}``;
                                                           ``?output_channel=``; answers
                                                           ``{"tracker", "messages"}``
=========================================================  =====================================

Studio extensions: ``{"event": "studio_start_flow", "flow": "<id>", "slots": {...}}`` posted to
``.../tracker/events`` starts that flow with the slots preset and answers the tracker plus
``"messages"`` (the bot's messages, REST channel shape). Rasa's own way works too: post slot
events and ``{"event": "flow_started", "flow_id": "<id>"}`` with ``execute_side_effects=true``.
``--auth-token`` protects every endpoint except ``/``, ``/version`` and the REST channel.

Custom actions run on the ``action_endpoint`` of the endpoints file. Without one they do nothing
(no events, no messages; the first run of each is logged as a warning), as in the in-process e2e
runner, so a bot can be tried without its action server. The ``reminder`` events they return
are scheduled in the bot and fire as Rasa's do (`engine.server.reminders`).

``create_app(Bot.from_processor(processor))`` serves a `Processor` built elsewhere (its own NLU,
action client and seed), for tests that drive a dialogue through the HTTP API.
"""

from engine.server.app import API_VERSION, create_app
from engine.server.runtime import STUDIO_START_FLOW, Bot
from engine.server.serve import build_bot, serve

__all__ = ["API_VERSION", "STUDIO_START_FLOW", "Bot", "build_bot", "create_app", "serve"]
