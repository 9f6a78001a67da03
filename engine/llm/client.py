"""Completions over HTTP from the clients of a model group (`engine.llm.config`).

Providers: OpenAI (``/chat/completions``), Azure OpenAI (``/openai/deployments/D/chat/
completions?api-version=V``, ``api-key`` header), self-hosted OpenAI-compatible servers
(llama.cpp, vLLM, LM Studio...: ``/chat/completions`` or ``/completions``), Ollama
(``/api/chat``). A command grammar (GBNF) is sent to self-hosted servers as ``grammar``
(llama.cpp's field); other servers ignore or never see it.

Every failure (refused connection, timeout, a server error, a body that is not a completion)
is retried `max_retries` times (a refused request, 4xx but 408/409/429, is not), then the next
client of the group is asked; when all fail,
`LlmError` says what happened with each. Calls to blocked networks (`engine.netguard`) fail.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx

from engine.llm.config import ModelSettings
from engine.netguard import BlockedAddress, BlockedNetworks

__all__ = ["LlmClient", "LlmError", "LlmResponse"]

logger = logging.getLogger(__name__)

#: Largest answer read from an LLM server.
MAX_RESPONSE_BYTES = 4 * 1024 * 1024
_RETRY_PAUSE = 0.2


class LlmError(Exception):
    """No client of the group gave a completion; the message says why for each."""


@dataclass
class LlmResponse:
    text: str
    model: str
    latency_ms: float
    usage: dict[str, Any]


class _BadAnswer(Exception):
    def __init__(self, message: str, *, retry: bool = True) -> None:
        super().__init__(message)
        self.retry = retry


class LlmClient:
    """Completions from the first client of `models` that answers."""

    def __init__(
        self,
        models: list[ModelSettings],
        *,
        blocked: BlockedNetworks | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not models:
            raise ValueError("an LLM client needs at least one model")
        self.models = models
        self.blocked = blocked if blocked is not None else BlockedNetworks()
        self._http = httpx.Client(follow_redirects=False, transport=transport)

    def close(self) -> None:
        self._http.close()

    @property
    def label(self) -> str:
        return ", ".join(m.label for m in self.models)

    def complete(self, prompt: str, *, grammar: str | None = None) -> LlmResponse:
        """The completion of `prompt` (sent as one user message); raises `LlmError`."""
        failures: list[str] = []
        for settings in self.models:
            for attempt in range(settings.max_retries + 1):
                began = time.perf_counter()
                try:
                    text, usage = self._call(settings, prompt, grammar)
                except (httpx.HTTPError, _BadAnswer, BlockedAddress) as exc:
                    reason = _describe(settings, exc)
                    logger.warning("LLM call failed (attempt %d): %s", attempt + 1, reason)
                    failures.append(reason)
                    if isinstance(exc, BlockedAddress) or not getattr(exc, "retry", True):
                        break
                    if attempt < settings.max_retries:
                        time.sleep(_RETRY_PAUSE * (attempt + 1))
                    continue
                latency = (time.perf_counter() - began) * 1000
                return LlmResponse(text=text, model=settings.label, latency_ms=latency, usage=usage)
        raise LlmError("; ".join(dict.fromkeys(failures)))

    # -- one call ------------------------------------------------------------------------------

    def _call(
        self, settings: ModelSettings, prompt: str, grammar: str | None
    ) -> tuple[str, dict[str, Any]]:
        url, headers, body, params = _request(settings, prompt, grammar)
        self.blocked.check_url(url)
        response = self._http.post(
            url,
            content=json.dumps(body, ensure_ascii=False).encode("utf-8"),
            headers={"Content-Type": "application/json", **headers},
            params=params,
            timeout=settings.timeout,
        )
        if len(response.content) > MAX_RESPONSE_BYTES:
            raise _BadAnswer(f"the answer is larger than {MAX_RESPONSE_BYTES} bytes")
        if response.status_code >= 400:
            # A refused request (bad key, unknown model...) fails the same way when repeated.
            retry = response.status_code >= 500 or response.status_code in (408, 409, 429)
            raise _BadAnswer(f"HTTP {response.status_code}: {_error_detail(response)}", retry=retry)
        try:
            data = response.json()
        except ValueError:
            raise _BadAnswer("the answer is not JSON") from None
        return _completion_text(settings, data), _usage(data)


def _request(
    settings: ModelSettings, prompt: str, grammar: str | None
) -> tuple[str, dict[str, str], dict[str, Any], dict[str, str]]:
    """URL, headers, JSON body and query parameters of one completion request."""
    headers: dict[str, str] = {}
    params: dict[str, str] = {}
    messages = [{"role": "user", "content": prompt}]
    if settings.provider == "ollama":
        options: dict[str, Any] = {}
        if settings.temperature is not None:
            options["temperature"] = settings.temperature
        if settings.max_tokens is not None:
            options["num_predict"] = settings.max_tokens
        body: dict[str, Any] = {
            "model": settings.model,
            "messages": messages,
            "stream": False,
            **({"options": options} if options else {}),
            **settings.extra,
        }
        return f"{settings.api_base}/api/chat", headers, body, params
    body = {"model": settings.model, **settings.extra}
    if settings.temperature is not None:
        body["temperature"] = settings.temperature
    if settings.max_tokens is not None:
        body["max_tokens"] = settings.max_tokens
    if settings.chat:
        body["messages"] = messages
        path = "/chat/completions"
    else:
        body["prompt"] = prompt
        path = "/completions"
    if grammar and settings.grammar:
        body["grammar"] = grammar
    if settings.provider == "azure":
        headers["api-key"] = settings.api_key or ""
        params["api-version"] = settings.api_version or ""
        body.pop("model", None)
        url = f"{settings.api_base}/openai/deployments/{settings.deployment}{path}"
        return url, headers, body, params
    if settings.api_key:
        headers["Authorization"] = f"Bearer {settings.api_key}"
    return f"{settings.api_base}{path}", headers, body, params


def _completion_text(settings: ModelSettings, data: Any) -> str:
    if not isinstance(data, dict):
        raise _BadAnswer("the answer is not a JSON object")
    if settings.provider == "ollama":
        message = data.get("message")
        text = message.get("content") if isinstance(message, dict) else None
    else:
        choices = data.get("choices")
        first = choices[0] if isinstance(choices, list) and choices else None
        if not isinstance(first, dict):
            raise _BadAnswer("the answer has no choices")
        message = first.get("message")
        text = message.get("content") if isinstance(message, dict) else first.get("text")
    if not isinstance(text, str):
        raise _BadAnswer("the answer holds no completion text")
    return text


def _usage(data: Any) -> dict[str, Any]:
    usage = data.get("usage") if isinstance(data, dict) else None
    return dict(usage) if isinstance(usage, dict) else {}


def _error_detail(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:300].strip()
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])[:300]
        if isinstance(error, str):
            return error[:300]
    return json.dumps(data)[:300]


def _describe(settings: ModelSettings, exc: Exception) -> str:
    where = f"{settings.label} at {settings.api_base}"
    if isinstance(exc, httpx.TimeoutException):
        return f"{where} did not answer within {settings.timeout:g} s"
    if isinstance(exc, httpx.HTTPError):
        return f"cannot reach {where}: {exc}"
    return f"{where}: {exc}"
