"""The LLM a component names: model groups of endpoints.yml, inline clients, providers,
secrets from the bot's environment, and clear errors for settings that cannot work."""

from __future__ import annotations

import pytest

from engine.llm import LlmConfigError, resolve_llm
from engine.llm.config import llm_configured

GROUPS = [
    {
        "id": "fast",
        "models": [
            {"provider": "self-hosted", "model": "llama", "api_base": "http://10.0.0.5:8000/v1/"},
            {"provider": "openai", "model": "gpt-4o", "api_key": "${OPENAI_KEY}", "timeout": 3},
        ],
    },
    {"id": "azure", "models": [{"provider": "azure", "deployment": "gpt4", "api_base": "https://x.openai.azure.com"}]},
]  # fmt: skip


def resolve(llm, env=None, groups=GROUPS):
    return resolve_llm(llm, groups, "config.yml pipeline[0].llm", environ=env or {})


def test_it_resolves_a_model_group_in_order_with_secrets():
    first, second = resolve({"model_group": "fast"}, {"OPENAI_KEY": "sk-1"})
    assert (first.provider, first.model, first.api_base) == (
        "self-hosted", "llama", "http://10.0.0.5:8000/v1",
    )  # fmt: skip
    assert first.grammar is True and first.api_key is None
    assert (second.provider, second.api_key, second.timeout) == ("openai", "sk-1", 3.0)
    assert second.api_base == "https://api.openai.com/v1" and second.grammar is False


def test_an_unset_secret_is_named():
    with pytest.raises(LlmConfigError, match=r"models\[1\].api_key: the variable OPENAI_KEY"):
        resolve({"model_group": "fast"})


def test_a_missing_or_twice_defined_group_is_an_error():
    with pytest.raises(LlmConfigError, match=r"no model group 'slow' in endpoints\.yml"):
        resolve({"model_group": "slow"})
    with pytest.raises(LlmConfigError, match="defines the model group 'fast' twice"):
        resolve({"model_group": "fast"}, groups=[GROUPS[0], GROUPS[0]])


def test_azure_reads_its_deployment_key_and_version():
    (azure,) = resolve({"model_group": "azure"}, {"AZURE_API_KEY": "k", "AZURE_API_VERSION": "v1"})
    assert (azure.deployment, azure.api_key, azure.api_version) == ("gpt4", "k", "v1")
    with pytest.raises(
        LlmConfigError, match="provider 'azure' needs an API key: set AZURE_API_KEY"
    ):
        resolve({"model_group": "azure"})


def test_an_inline_client_and_rasas_default():
    (ollama,) = resolve({"provider": "ollama", "model": "llama3.1", "temperature": 0.2})
    assert (ollama.api_base, ollama.temperature) == ("http://localhost:11434", 0.2)
    (default,) = resolve(None, {"OPENAI_API_KEY": "sk"})
    assert (default.provider, default.model, default.timeout) == (
        "openai",
        "gpt-4o-2024-11-20",
        7.0,
    )
    with pytest.raises(LlmConfigError, match="set OPENAI_API_KEY"):
        resolve(None)


def test_any_provider_with_an_api_base_speaks_openais_api():
    (other,) = resolve(
        {"provider": "lmstudio", "model": "m", "api_base": "https://llm.example.com"}
    )
    assert other.provider == "self-hosted"
    with pytest.raises(LlmConfigError, match="provider 'anthropic' is not one the built-in engine"):
        resolve({"provider": "anthropic", "model": "claude"})


def test_rasas_hosted_models_take_the_rasa_pro_licence_as_their_key():
    tutorial = {"provider": "rasa", "model": "rasa/cmd_gen", "api_base": "https://llm.example.com"}
    with pytest.raises(LlmConfigError, match="need a Rasa Pro licence"):
        resolve(tutorial)
    (rasa,) = resolve(tutorial, {"RASA_PRO_LICENSE": "lic"})
    assert (rasa.provider, rasa.api_key) == ("self-hosted", "lic")
    (keyed,) = resolve({**tutorial, "api_key": "own"}, {"RASA_PRO_LICENSE": "lic"})
    assert keyed.api_key == "own"


@pytest.mark.parametrize(
    ("llm", "message"),
    [
        ("gpt-4o", "must be a mapping"),
        ({"model": "x"}, "needs a 'provider'"),
        ({"provider": "self-hosted", "model": "x"}, "needs an api_base"),
        ({"provider": "self-hosted", "api_base": "http://h"}, "needs a model"),
        ({"provider": "ollama", "model": "x", "api_base": "ftp://h"}, "must be an http"),
        ({"provider": "ollama", "model": "x", "timeout": "soon"}, r"\.timeout must be a number"),
        ({"provider": "ollama", "model": "x", "temperature": -1}, "must not be negative"),
    ],
)
def test_bad_settings_say_what_is_wrong(llm, message):
    with pytest.raises(LlmConfigError, match=message):
        resolve(llm)


def test_extra_keys_go_into_the_request_and_rasa_keys_do_not():
    (model,) = resolve(
        {"provider": "ollama", "model": "x", "top_p": 0.5, "cache": {"no-cache": True}}
    )
    assert model.extra == {"top_p": 0.5}


def test_an_llm_is_configured_by_a_setting_or_an_openai_key():
    assert llm_configured({"model_group": "fast"}, {})
    assert not llm_configured(None, {})
    assert llm_configured(None, {"OPENAI_API_KEY": "sk"})
