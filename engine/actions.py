"""Custom actions over the Rasa SDK action server protocol.

The engine POSTs ``{"next_action", "sender_id", "tracker", "domain", "version"}`` to the
``action_endpoint`` URL of endpoints.yml; the server answers ``{"events": [...],
"responses": [...]}``, or a 4xx with ``{"action_name", "error"}`` when the action rejected its
execution (400) or is not registered (404). Everything that is not a usable answer (an error
status, a timeout, a refused connection, a body that is not the expected JSON) becomes an
`ActionError` whose message says what happened, so the dialogue can run its internal-error
pattern and the bot keeps serving.

Without an ``action_endpoint`` the bot runs custom actions with `NoActionServer`: each one does
nothing (no events, no messages) and the flow goes on, the way the e2e runner's null client
behaves, and the first run of each action is logged as a warning. (Rasa fails the action and
runs ``pattern_internal_error`` instead; to get that behaviour, point ``action_endpoint`` at a
server that is not running.)
"""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx

from engine.dialogue import ActionError, ActionResult, NullActionClient
from engine.netguard import BlockedAddress, BlockedNetworks

__all__ = [
    "DEFAULT_TIMEOUT",
    "PROTOCOL_VERSION",
    "ActionExecutionRejected",
    "HttpActionClient",
    "NoActionServer",
    "action_client_from_endpoints",
]

logger = logging.getLogger(__name__)

#: The Rasa version the action server is told it talks to (the SDK only warns on a mismatch).
PROTOCOL_VERSION = "3.21.0"
#: Seconds to wait for one action. Rasa waits up to 300 s; a chat user does not.
DEFAULT_TIMEOUT = 30.0
#: Largest action server answer we read.
MAX_RESPONSE_BYTES = 10 * 1024 * 1024


class ActionExecutionRejected(ActionError):
    """The action server answered 400: the action refused to run (``ActionExecutionRejection``)."""

    def __init__(self, action_name: str, message: str) -> None:
        self.action_name = action_name
        super().__init__(message)


class HttpActionClient:
    """Runs custom actions on a Rasa SDK action server (implements ``ActionClient``)."""

    def __init__(
        self,
        url: str,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        verify: bool | str = True,
        transport: httpx.BaseTransport | None = None,
        blocked: BlockedNetworks | None = None,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.blocked = blocked if blocked is not None else BlockedNetworks()
        self._client = httpx.Client(
            timeout=timeout,
            headers=headers,
            params=params,
            auth=auth,
            verify=verify,
            transport=transport,
            follow_redirects=False,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpActionClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def run(
        self, action_name: str, tracker: dict[str, Any], domain: dict[str, Any]
    ) -> ActionResult:
        payload = {
            "next_action": action_name,
            "sender_id": tracker.get("sender_id"),
            "tracker": tracker,
            "domain": domain,
            "version": PROTOCOL_VERSION,
        }
        try:
            self.blocked.check_url(self.url)  # on every call: what a name resolves to changes
        except BlockedAddress as exc:
            raise ActionError(f"cannot run '{action_name}': {exc}") from None
        try:
            body = json.dumps(payload, ensure_ascii=False, default=str).encode("utf-8")
            response = self._client.post(
                self.url, content=body, headers={"Content-Type": "application/json"}
            )
        except httpx.TimeoutException as exc:
            raise ActionError(
                f"the action server at {self.url} did not answer '{action_name}' within "
                f"{self.timeout:g} s"
            ) from exc
        except httpx.HTTPError as exc:
            raise ActionError(
                f"cannot reach the action server at {self.url} to run '{action_name}': {exc}"
            ) from exc

        if len(response.content) > MAX_RESPONSE_BYTES:
            raise ActionError(
                f"the action server's answer to '{action_name}' is larger than "
                f"{MAX_RESPONSE_BYTES} bytes"
            )
        if response.status_code >= 400:
            raise self._error(action_name, response)
        try:
            data = response.json()
        except ValueError as exc:
            raise ActionError(
                f"the action server answered '{action_name}' with a body that is not JSON"
            ) from exc
        return self._result(action_name, data)

    def _error(self, action_name: str, response: httpx.Response) -> ActionError:
        detail = ""
        try:
            data = response.json()
        except ValueError:
            data = None
        if isinstance(data, dict) and data.get("error"):
            detail = str(data["error"])
        else:
            detail = response.text[:500].strip()
        if response.status_code == 400:
            return ActionExecutionRejected(
                action_name, f"custom action '{action_name}' rejected execution: {detail}"
            )
        if response.status_code == 404:
            return ActionError(f"the action server has no action '{action_name}' (404): {detail}")
        return ActionError(
            f"the action server failed to run '{action_name}' "
            f"(HTTP {response.status_code}): {detail}"
        )

    @staticmethod
    def _result(action_name: str, data: Any) -> ActionResult:
        if not isinstance(data, dict):
            raise ActionError(
                f"the action server answered '{action_name}' with {type(data).__name__}, "
                "not an object with events and responses"
            )
        events = data.get("events") or []
        responses = data.get("responses") or []
        if not isinstance(events, list) or not all(
            isinstance(e, dict) and isinstance(e.get("event"), str) for e in events
        ):
            raise ActionError(f"'{action_name}' returned events that are not Rasa events")
        if not isinstance(responses, list) or not all(isinstance(r, dict) for r in responses):
            raise ActionError(f"'{action_name}' returned responses that are not objects")
        return ActionResult(events=events, responses=responses)


class NoActionServer(NullActionClient):
    """Runs custom actions when no action server is configured: they do nothing.

    The first run of each action is logged as a warning, so a missing ``action_endpoint`` does
    not go unnoticed.
    """

    def __init__(self) -> None:
        self.warned: set[str] = set()

    def run(
        self, action_name: str, tracker: dict[str, Any], domain: dict[str, Any]
    ) -> ActionResult:
        if action_name not in self.warned:
            self.warned.add(action_name)
            logger.warning(
                "custom action '%s' did nothing: endpoints.yml has no action_endpoint",
                action_name,
            )
        return super().run(action_name, tracker, domain)


def action_client_from_endpoints(
    config: dict[str, Any] | None, *, blocked: BlockedNetworks | None = None
) -> HttpActionClient | None:
    """The client for an ``action_endpoint`` section (None without a url).

    Reads Rasa's endpoint keys: ``url``, ``headers``, ``params``, ``token`` (sent as the query
    parameter ``token_name``, default ``token``), ``basic_auth`` {username, password},
    ``cafile``, and ``timeout`` (seconds, our addition). Calls to an address in `blocked`
    (default: link-local and cloud metadata networks) fail with an `ActionError`.
    """
    if not isinstance(config, dict) or not config.get("url"):
        return None
    params = {str(k): str(v) for k, v in (config.get("params") or {}).items()}
    if config.get("token") is not None:
        params[str(config.get("token_name") or "token")] = str(config["token"])
    headers = {str(k): str(v) for k, v in (config.get("headers") or {}).items()}
    auth = None
    basic = config.get("basic_auth")
    if isinstance(basic, dict) and basic.get("username") is not None:
        auth = (str(basic["username"]), str(basic.get("password") or ""))
    timeout = float(config.get("timeout") or DEFAULT_TIMEOUT)
    return HttpActionClient(
        str(config["url"]),
        timeout,
        headers=headers or None,
        params=params or None,
        auth=auth,
        verify=str(config["cafile"]) if config.get("cafile") else True,
        blocked=blocked,
    )
