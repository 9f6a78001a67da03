"""Which LLM a component talks to, read as Rasa 3.21 reads it.

A component's ``llm:`` key in config.yml (a command generator's, or the rephraser's in the
``nlg`` section of endpoints.yml) is either

* ``{model_group: ID}``: the group with that ``id`` in endpoints.yml ``model_groups``, whose
  ``models`` list one or more clients (tried in order: when one fails, the next is asked), or
* a client written inline (``{provider: openai, model: gpt-4o, ...}``, Rasa's older syntax), or
* absent: the component's default (OpenAI's ``gpt-4o``, which needs ``OPENAI_API_KEY``).

A client's keys: ``provider`` (``openai``, ``azure``, ``self-hosted``, ``ollama``; any other
provider with an ``api_base`` is taken to speak OpenAI's API), ``model``, ``api_base``,
``api_key``, ``api_version`` and ``deployment`` (azure), ``timeout`` (seconds),
``max_retries``, ``temperature``, ``max_tokens`` / ``max_completion_tokens``,
``use_chat_completions_endpoint`` (self-hosted), ``grammar`` (ours: whether to send the
command grammar, default on for self-hosted servers); other keys go into the request body.
``${NAME}`` in a value is the bot's environment variable NAME (the assistant's secrets);
API keys also come from Rasa's variables (``OPENAI_API_KEY``, ``AZURE_API_KEY``...).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.formats.envrefs import ENV_REFERENCE

__all__ = [
    "PROVIDERS",
    "LlmConfigError",
    "ModelSettings",
    "default_llm",
    "llm_configured",
    "resolve_llm",
]

PROVIDERS = ("openai", "azure", "self-hosted", "ollama")
#: Provider names that mean "an OpenAI-compatible server at api_base".
_OPENAI_COMPATIBLE = {"self-hosted", "self_hosted", "hosted_vllm", "vllm", "openai_compatible"}

DEFAULT_OPENAI_BASE = "https://api.openai.com/v1"
DEFAULT_OLLAMA_BASE = "http://localhost:11434"
DEFAULT_AZURE_API_VERSION = "2024-10-21"
DEFAULT_TIMEOUT = 7.0
DEFAULT_MAX_RETRIES = 1

#: The default client of the command generators (Rasa 3.21's, for CompactLLMCommandGenerator).
DEFAULT_COMMAND_LLM: dict[str, Any] = {
    "provider": "openai",
    "model": "gpt-4o-2024-11-20",
    "temperature": 0.0,
    "max_completion_tokens": 200,
    "timeout": 7,
}
#: The rephraser's default client.
DEFAULT_REPHRASER_LLM: dict[str, Any] = {
    "provider": "openai",
    "model": "gpt-4o-2024-11-20",
    "temperature": 0.3,
    "max_completion_tokens": 256,
    "timeout": 5,
}

_CONSUMED = {
    "provider", "model", "model_name", "api_base", "api_key", "api_version", "api_type",
    "deployment", "timeout", "request_timeout", "max_retries", "temperature", "max_tokens",
    "max_completion_tokens", "use_chat_completions_endpoint", "grammar", "openai_api_base",
    "openai_api_key", "openai_api_version", "engine", "type", "cache", "reasoning_effort",
}  # fmt: skip


class LlmConfigError(ValueError):
    """The LLM configuration cannot be used; the message names the key and what is wrong."""


@dataclass(frozen=True)
class ModelSettings:
    """One client of a model group, resolved (secrets expanded, defaults applied)."""

    provider: str
    model: str
    api_base: str
    api_key: str | None = None
    api_version: str | None = None
    deployment: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    temperature: float | None = None
    max_tokens: int | None = None
    chat: bool = True
    grammar: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.provider}/{self.model or self.deployment}"


def _expand(value: Any, where: str, env: Mapping[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _expand(v, f"{where}.{k}", env) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, f"{where}[{i}]", env) for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value
    missing = sorted({m for m in ENV_REFERENCE.findall(value) if m not in env})
    if missing:
        raise LlmConfigError(
            f"{where}: the variable {', '.join(missing)} is not set (add it on the "
            "assistant's Secrets page)"
        )
    return ENV_REFERENCE.sub(lambda m: env[m.group(1)], value)


def _number(raw: dict[str, Any], key: str, where: str, default: float | None) -> float | None:
    value = raw.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise LlmConfigError(f"{where}.{key} must be a number, not {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise LlmConfigError(f"{where}.{key} must be a number, not {value!r}") from None
    if number < 0:
        raise LlmConfigError(f"{where}.{key} must not be negative")
    return number


def _api_key(provider: str, raw: dict[str, Any], env: Mapping[str, str]) -> str | None:
    key = raw.get("api_key") or raw.get("openai_api_key")
    if key:
        return str(key)
    variable = {
        "openai": "OPENAI_API_KEY",
        "azure": "AZURE_API_KEY",
        "self-hosted": "HOSTED_VLLM_API_KEY",
    }.get(provider)
    return env.get(variable) if variable else None


def _api_base(provider: str, raw: dict[str, Any], where: str, env: Mapping[str, str]) -> str:
    base = raw.get("api_base") or raw.get("openai_api_base")
    if not base:
        if provider == "openai":
            base = env.get("OPENAI_API_BASE") or DEFAULT_OPENAI_BASE
        elif provider == "azure":
            base = env.get("AZURE_API_BASE")
        elif provider == "ollama":
            base = DEFAULT_OLLAMA_BASE
    if not base:
        raise LlmConfigError(f"{where}: provider '{provider}' needs an api_base")
    base = str(base).rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise LlmConfigError(f"{where}.api_base must be an http(s) URL, not {base!r}")
    return base


def _rasa_licence(where: str, env: Mapping[str, str]) -> str:
    """Rasa's hosted models (the tutorial template's) take the Rasa Pro licence as their key,
    as Rasa does when no api_key is given."""
    licence = env.get("RASA_PRO_LICENSE")
    if not licence:
        raise LlmConfigError(
            f"{where}.provider 'rasa': Rasa's hosted models need a Rasa Pro licence "
            "(RASA_PRO_LICENSE, or an api_key)"
        )
    return licence


def _provider(raw: dict[str, Any], where: str) -> str:
    provider = raw.get("provider") or raw.get("type") or raw.get("api_type")
    if not isinstance(provider, str) or not provider:
        raise LlmConfigError(f"{where}: a model needs a 'provider' ({', '.join(PROVIDERS)})")
    provider = provider.strip().lower()
    if provider in _OPENAI_COMPATIBLE:
        return "self-hosted"
    if provider == "azure_openai":
        return "azure"
    if provider not in PROVIDERS and not raw.get("api_base"):
        raise LlmConfigError(
            f"{where}.provider '{provider}' is not one the built-in engine reaches: use "
            f"{', '.join(PROVIDERS)}, or give an api_base of a server that speaks OpenAI's API"
        )
    return provider if provider in PROVIDERS else "self-hosted"


def model_settings(raw: Any, where: str, environ: Mapping[str, str] | None = None) -> ModelSettings:
    """One client's settings from its mapping (see the module docstring)."""
    env = os.environ if environ is None else environ
    if not isinstance(raw, dict):
        raise LlmConfigError(f"{where} must be a mapping with provider and model")
    raw = _expand(raw, where, env)
    if str(raw.get("provider") or "").strip().lower() == "rasa" and not raw.get("api_key"):
        raw = {**raw, "api_key": _rasa_licence(where, env)}
    provider = _provider(raw, where)
    model = raw.get("model") or raw.get("model_name") or raw.get("engine") or ""
    deployment = raw.get("deployment") or raw.get("engine")
    if provider == "azure" and not deployment:
        raise LlmConfigError(f"{where}: provider 'azure' needs a deployment")
    if provider != "azure" and not model:
        raise LlmConfigError(f"{where}: provider '{provider}' needs a model")
    api_key = _api_key(provider, raw, env)
    if provider in ("openai", "azure") and not api_key:
        variable = "OPENAI_API_KEY" if provider == "openai" else "AZURE_API_KEY"
        raise LlmConfigError(
            f"{where}: provider '{provider}' needs an API key: set {variable}, or api_key: "
            "${A_SECRET}"
        )
    max_tokens = _number(raw, "max_completion_tokens", where, None)
    if max_tokens is None:
        max_tokens = _number(raw, "max_tokens", where, None)
    timeout = _number(raw, "timeout", where, None) or _number(
        raw, "request_timeout", where, DEFAULT_TIMEOUT
    )
    return ModelSettings(
        provider=provider,
        model=str(model),
        api_base=_api_base(provider, raw, where, env),
        api_key=api_key,
        api_version=str(
            raw.get("api_version")
            or raw.get("openai_api_version")
            or env.get("AZURE_API_VERSION")
            or DEFAULT_AZURE_API_VERSION
        )
        if provider == "azure"
        else None,
        deployment=str(deployment) if deployment else None,
        timeout=timeout or DEFAULT_TIMEOUT,
        max_retries=int(_number(raw, "max_retries", where, DEFAULT_MAX_RETRIES) or 0),
        temperature=_number(raw, "temperature", where, None),
        max_tokens=int(max_tokens) if max_tokens is not None else None,
        chat=raw.get("use_chat_completions_endpoint", True) is not False,
        grammar=bool(raw.get("grammar", provider == "self-hosted")),
        extra={k: v for k, v in raw.items() if k not in _CONSUMED},
    )


def resolve_llm(
    llm: Any,
    model_groups: Any,
    where: str,
    *,
    default: dict[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> list[ModelSettings]:
    """The clients a component's `llm` setting names, in the order they are tried.

    `model_groups` is endpoints.yml's list; `where` names the setting in messages
    (``config.yml pipeline[1] (CompactLLMCommandGenerator).llm``).
    """
    if llm is None:
        llm = dict(default or DEFAULT_COMMAND_LLM)
    if not isinstance(llm, dict):
        raise LlmConfigError(f"{where} must be a mapping (model_group: ID, or provider/model)")
    group_id = llm.get("model_group")
    if group_id is None:
        return [model_settings({**(default or {}), **llm}, where, environ)]
    groups = [g for g in (model_groups or []) if isinstance(g, dict) and g.get("id") == group_id]
    if not groups:
        raise LlmConfigError(f"{where}: no model group '{group_id}' in endpoints.yml model_groups")
    if len(groups) > 1:
        raise LlmConfigError(f"{where}: endpoints.yml defines the model group '{group_id}' twice")
    models = groups[0].get("models")
    if not isinstance(models, list) or not models:
        raise LlmConfigError(f"endpoints.yml model_groups '{group_id}' needs a list of models")
    return [
        model_settings(m, f"endpoints.yml model_groups '{group_id}' models[{i}]", environ)
        for i, m in enumerate(models)
    ]


def default_llm(kind: str) -> dict[str, Any]:
    return dict(DEFAULT_REPHRASER_LLM if kind == "rephraser" else DEFAULT_COMMAND_LLM)


def llm_configured(llm: Any, environ: Mapping[str, str] | None = None) -> bool:
    """Whether `llm` names a client at all: a model group, an inline client, or (absent)
    Rasa's default, which needs ``OPENAI_API_KEY``."""
    env = os.environ if environ is None else environ
    if isinstance(llm, dict) and llm:
        return True
    return bool(env.get("OPENAI_API_KEY"))
