"""``PUT /model`` on a served bot: the new model takes over between two messages.

Two models of the same tiny assistant whose every response ends in its tag ("[A]" or "[B]"), so
a reply shows which model produced each of its messages.
"""

from __future__ import annotations

import re
import shutil
import threading
from pathlib import Path

import httpx
import pytest

from tests.support.processes import stop

from .conftest import TINY_PROJECT, guarded_bot_process

pytestmark = pytest.mark.slow

TOKEN = "swap-token-0123456789abcdef"
TAG = re.compile(r"\[([AB])\]$")


def tagged_project(root: Path, tag: str) -> Path:
    """The tiny project with every response ending in ``[tag]``, and a greeting of two messages
    (a reply mixing two models would show both tags)."""
    project = root / f"project-{tag}"
    shutil.copytree(TINY_PROJECT, project)
    domain = project / "domain.yml"
    text = re.sub(r'- text: "(.*)"', rf'- text: "\1 [{tag}]"', domain.read_text())
    text = text.replace(
        "responses:\n",
        f'responses:\n  utter_second:\n    - text: "How can I help? [{tag}]"\n'
        f'  utter_ask_continue_conversation:\n    - text: "Anything else? [{tag}]"\n',
        1,
    )
    domain.write_text(text)
    flows = project / "data" / "flows.yml"
    flows.write_text(
        flows.read_text().replace(
            "      - action: utter_greet\n",
            "      - action: utter_greet\n      - action: utter_second\n",
            1,
        )
    )
    (project / "endpoints.yml").write_text("")
    return project


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from engine.train import train_project

    root = tmp_path_factory.mktemp("swap-models")
    return {
        tag: train_project(tagged_project(root, tag), root / "out", fixed_model_name=f"m{tag}").path
        for tag in ("A", "B")
    }


@pytest.fixture
def bot(models, engine_env):
    with guarded_bot_process(models["A"], engine_env, TOKEN) as served:
        yield served


def _status(url: str) -> dict:
    response = httpx.get(f"{url}/status", params={"token": TOKEN})
    assert response.status_code == 200
    return response.json()


def _tags(messages: list[dict]) -> set[str]:
    tags = set()
    for message in messages:
        match = TAG.search(message.get("text") or "")
        assert match, f"a message without a model tag: {message}"
        tags.add(match.group(1))
    return tags


def test_a_swap_under_concurrent_chat_loses_no_message_and_mixes_no_models(bot, models) -> None:
    _process, url = bot
    before = _status(url)
    senders = [f"user-{n}" for n in range(12)]
    replies: dict[str, list[set[str]]] = {sender: [] for sender in senders}
    errors: list[str] = []
    swapped = threading.Event()
    rounds_after_swap = 6

    def chat(sender: str) -> None:
        try:
            talk(sender)
        except Exception as exc:  # shown by the assertion on `errors`
            errors.append(f"{sender}: {exc!r}")

    def talk(sender: str) -> None:
        with httpx.Client(base_url=url, params={"token": TOKEN}, timeout=30) as client:
            # A conversation in the middle of a flow when the swap comes: it goes on after it.
            sent = 0
            after = 0
            while after < rounds_after_swap and sent < 400:
                was_swapped = swapped.is_set()
                response = client.post(
                    "/webhooks/rest/webhook", json={"sender": sender, "message": "hello"}
                )
                sent += 1
                if response.status_code != 200:
                    errors.append(f"{sender}: {response.status_code} {response.text}")
                    return
                messages = response.json()
                if len(messages) < 2:
                    errors.append(f"{sender}: {messages}")
                replies[sender].append(_tags(messages))
                if was_swapped:
                    after += 1

    threads = [threading.Thread(target=chat, args=(sender,)) for sender in senders]
    for thread in threads:
        thread.start()
    # Swap while they talk (each conversation has answered at least once by now).
    while not all(replies[sender] for sender in senders) and not errors:
        threading.Event().wait(0.01)
    response = httpx.put(
        f"{url}/model", params={"token": TOKEN}, json={"model_file": str(models["B"])}, timeout=60
    )
    assert response.status_code == 204, response.text
    swapped.set()
    for thread in threads:
        thread.join(120)
    assert not errors, errors[:5]

    after = _status(url)
    assert after["model_file"] == "mB.tar.gz"
    assert after["model_id"] != before["model_id"]
    assert after["worker_pid"] == before["worker_pid"]  # the same process: swapped, not restarted
    for sender in senders:
        sequence = replies[sender]
        # Every reply is wholly one model's, and once B answered, A never answers again.
        assert all(len(tags) == 1 for tags in sequence), sequence
        tags = [next(iter(t)) for t in sequence]
        assert tags[0] == "A" and tags[-1] == "B"
        assert tags == sorted(tags), tags
        # The conversation kept every message across the swap.
        tracker = httpx.get(
            f"{url}/conversations/{sender}/tracker",
            params={"token": TOKEN, "include_events": "ALL"},
        ).json()
        users = [e for e in tracker["events"] if e["event"] == "user"]
        assert len(users) == len(sequence)


def test_a_conversation_in_a_flow_goes_on_with_the_new_model(bot, models) -> None:
    _process, url = bot
    params = {"token": TOKEN}

    def say(text: str) -> list[str]:
        response = httpx.post(
            f"{url}/webhooks/rest/webhook", params=params, json={"sender": "ann", "message": text}
        )
        assert response.status_code == 200, response.text
        return [m["text"] for m in response.json()]

    assert say("I want to order a pizza") == ["Which size would you like? [A]"]
    response = httpx.put(f"{url}/model", params=params, json={"model_file": str(models["B"])})
    assert response.status_code == 204, response.text
    # The collect step is still waiting for the size: the new model finishes the flow.
    assert say("large") == ["One large pizza coming up. [B]", "Anything else? [B]"]


def test_a_model_that_fails_to_load_leaves_the_old_one_answering(bot, models, tmp_path) -> None:
    _process, url = bot
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(b"this is not an archive")
    params = {"token": TOKEN}
    response = httpx.put(f"{url}/model", params=params, json={"model_file": str(broken)})
    assert response.status_code == 500
    body = response.json()
    assert body["reason"] == "LoadingError"
    assert "broken.tar.gz" in body["message"]
    assert _status(url)["model_file"] == "mA.tar.gz"
    reply = httpx.post(
        f"{url}/webhooks/rest/webhook", params=params, json={"sender": "bo", "message": "hi"}
    )
    assert _tags(reply.json()) == {"A"}


def test_put_model_needs_the_token_and_a_good_body(bot, models) -> None:
    process, url = bot
    good = {"model_file": str(models["B"])}
    assert httpx.put(f"{url}/model", json=good).status_code == 401
    assert httpx.put(f"{url}/model", params={"token": "wrong"}, json=good).status_code == 401

    def bad(body: object) -> dict:
        response = httpx.put(f"{url}/model", params={"token": TOKEN}, json=body)
        assert response.status_code == 400, response.text
        return response.json()

    assert bad({})["details"] == {"parameter": "model_file", "in": "body"}
    assert bad({"model_file": 7})["details"]["parameter"] == "model_file"
    missing = bad({"model_file": "/nowhere/model.tar.gz"})
    assert "/nowhere/model.tar.gz" in missing["message"]
    assert bad({"model_server": "http://x"})["details"]["parameter"] == "model_server"
    assert bad({"model_server": {"url": "ftp://x"}})["details"]["parameter"] == "model_server.url"
    assert bad({"model_server": {"url": "http://x", "basic_auth": {"username": "u"}}})["details"][
        "parameter"
    ] == ("model_server.basic_auth")
    assert bad({"model_file": "m", "remote_storage": "aws"})["details"]["parameter"] == (
        "remote_storage"
    )
    assert bad([1])["reason"] == "BadRequest"
    assert _status(url)["model_file"] == "mA.tar.gz"
    # The token never shows in what the bot printed.
    assert TOKEN not in stop(process)


def test_a_model_server_serves_the_new_model(bot, models) -> None:
    """``model_server``: the bot fetches the archive (a signed link's query is its secret)."""
    import http.server

    _process, url = bot
    archive = models["B"].read_bytes()
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            if "sig=ok" not in self.path:
                self.send_response(403)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(archive)))
            self.end_headers()
            self.wfile.write(archive)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_port}/models/b.tar.gz"
        params = {"token": TOKEN}
        refused = httpx.put(
            f"{url}/model", params=params, json={"model_server": {"url": base + "?sig=no"}}
        )
        assert refused.status_code == 500
        assert "answered 403" in refused.json()["message"]
        assert "sig=no" not in refused.text  # the link's secret is not echoed
        response = httpx.put(
            f"{url}/model",
            params=params,
            json={"model_server": {"url": base, "params": {"sig": "ok"}}},
            timeout=60,
        )
        assert response.status_code == 204, response.text
        assert _status(url)["model_file"] == "b.tar.gz"
        reply = httpx.post(
            f"{url}/webhooks/rest/webhook", params=params, json={"sender": "cy", "message": "hi"}
        )
        assert _tags(reply.json()) == {"B"}
        assert seen[-1] == "/models/b.tar.gz?sig=ok"
    finally:
        server.shutdown()
