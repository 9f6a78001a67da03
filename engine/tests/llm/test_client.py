"""The LLM client over HTTP: the request each provider gets, and what happens when a server
is down, slow, broken or answers garbage (retries, the next model of the group, a clear
error). The last tests talk to the real local LLM server."""

from __future__ import annotations

import time

import pytest

from engine.llm import LlmClient, LlmError, gbnf_grammar, model_settings, parse_commands
from engine.netguard import BlockedNetworks
from tests.support.processes import free_port


def client(*configs, blocked=None):
    return LlmClient(
        [model_settings(c, f"models[{i}]", {}) for i, c in enumerate(configs)],
        blocked=blocked or BlockedNetworks([]),
    )


def local(base, **extra):
    return {"provider": "self-hosted", "model": "m", "api_base": f"{base}/v1", **extra}


def test_it_sends_an_openai_chat_completion_with_the_grammar(fake_llm):
    base, behaviour = fake_llm
    llm = client(local(base, api_key="secret", max_tokens=20, temperature=0, top_p=0.9))
    response = llm.complete("the prompt", grammar='root ::= "x"')
    assert response.text == "start flow transfer_money"
    assert behaviour.paths == ["/v1/chat/completions"]
    assert behaviour.requests == [
        {
            "model": "m",
            "top_p": 0.9,
            "temperature": 0.0,
            "max_tokens": 20,
            "messages": [{"role": "user", "content": "the prompt"}],
            "grammar": 'root ::= "x"',
        }
    ]
    assert behaviour.headers[0]["Authorization"] == "Bearer secret"


def test_the_grammar_goes_only_where_it_is_wanted(fake_llm):
    base, behaviour = fake_llm
    client(local(base, grammar=False)).complete("p", grammar="root ::= x")
    client({"provider": "openai", "model": "m", "api_key": "k", "api_base": base}).complete(
        "p", grammar="root ::= x"
    )
    assert all("grammar" not in r for r in behaviour.requests)


def test_the_completions_endpoint_azure_and_ollama(fake_llm):
    base, behaviour = fake_llm
    behaviour.body = {"choices": [{"text": "cancel flow"}]}
    completions = client(local(base, use_chat_completions_endpoint=False))
    assert completions.complete("p").text == "cancel flow"
    assert behaviour.paths[-1] == "/v1/completions" and behaviour.requests[-1]["prompt"] == "p"

    behaviour.body = {"choices": [{"message": {"content": "cancel flow"}}]}
    azure = {"provider": "azure", "deployment": "d", "api_base": base, "api_key": "k",
             "api_version": "2024-10-21"}  # fmt: skip
    client(azure).complete("p")
    assert behaviour.paths[-1] == "/openai/deployments/d/chat/completions?api-version=2024-10-21"
    assert behaviour.headers[-1]["api-key"] == "k" and "model" not in behaviour.requests[-1]

    behaviour.body = {"message": {"role": "assistant", "content": "offtopic reply"}}
    ollama = {"provider": "ollama", "model": "llama3", "api_base": base, "max_tokens": 9}
    assert client(ollama).complete("p").text == "offtopic reply"
    assert behaviour.paths[-1] == "/api/chat"
    assert behaviour.requests[-1]["options"] == {"num_predict": 9}
    assert behaviour.requests[-1]["stream"] is False


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (500, {"error": {"message": "model crashed"}}, "HTTP 500: model crashed"),
        (401, {"error": "bad key"}, "HTTP 401: bad key"),
        (200, b"<html>not json</html>", "the answer is not JSON"),
        (200, {"choices": []}, "the answer has no choices"),
        (200, {"choices": [{"message": {"content": None}}]}, "holds no completion text"),
        (200, [1, 2], "not a JSON object"),
    ],
)
def test_a_broken_answer_is_a_clear_error_after_the_retries(fake_llm, status, body, message):
    base, behaviour = fake_llm
    behaviour.status, behaviour.body = status, body
    with pytest.raises(LlmError, match=message):
        client(local(base, max_retries=2)).complete("p")
    # A refused request (401) is not repeated; everything else is retried twice.
    assert len(behaviour.requests) == (1 if status == 401 else 3)


def test_a_slow_server_times_out(fake_llm):
    base, behaviour = fake_llm
    behaviour.delay = 2.0
    began = time.monotonic()
    with pytest.raises(LlmError, match=r"did not answer within 0.3 s"):
        client(local(base, timeout=0.3, max_retries=0)).complete("p")
    assert time.monotonic() - began < 1.5


def test_a_server_that_is_down_fails_over_to_the_next_model(fake_llm):
    base, _behaviour = fake_llm
    down = local(f"http://127.0.0.1:{free_port()}", max_retries=0)
    response = client(down, local(base)).complete("p")
    assert response.text == "start flow transfer_money" and response.model == "self-hosted/m"
    with pytest.raises(LlmError, match=r"cannot reach self-hosted/m at http://127\.0\.0\.1"):
        client(down).complete("p")


def test_blocked_networks_are_refused_without_a_request(fake_llm):
    base, behaviour = fake_llm
    blocked = BlockedNetworks(["127.0.0.0/8"])
    with pytest.raises(LlmError, match=r"in the blocked network 127\.0\.0\.0/8"):
        client(local(base, max_retries=3), blocked=blocked).complete("p")
    assert behaviour.requests == []


# -- the real local LLM server --------------------------------------------------------------


def test_the_real_server_completes_a_prompt(llm_server):
    llm = client(llm_server.client_config(max_tokens=8))
    response = llm.complete("Say hello.")
    assert isinstance(response.text, str) and response.text.strip()
    assert response.usage.get("completion_tokens", 0) >= 1


def test_the_real_server_keeps_to_the_command_grammar(llm_server):
    flows, slots = ["transfer_money", "check_balance"], ["recipient", "amount"]
    grammar = gbnf_grammar(flows=flows, slots=slots, syntax="v2", max_lines=2)
    llm = client(llm_server.client_config(max_tokens=24))
    response = llm.complete(
        "User: I want to send 50 dollars to Jane.\nWrite the actions, one per line:",
        grammar=grammar,
    )
    result = parse_commands(response.text, flows=flows, slots=slots, syntax="v2")
    lines = [line for line in response.text.splitlines() if line.strip()]
    # Every complete line is a valid command; only a line cut by max_tokens may be dropped.
    assert result.commands, response.text
    assert len(result.dropped) <= 1 and all(line in lines[-1:] for line, _ in result.dropped)
