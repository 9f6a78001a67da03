"""The training cache: a component is reused exactly when the inputs it learns from are unchanged."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import pytest

from engine.archive import load_model
from engine.cache import MANIFEST, ComponentCache, prune
from engine.server.runtime import Bot
from engine.train import train_project

from .conftest import REPO

COEXISTENCE = REPO / "engine" / "tests" / "rasa_projects" / "coexistence"
COMPONENTS = (
    "nlu_classifier",
    "response_selector",
    "entity_extractor",
    "flow_retrieval",
    "policies",
)
NLU_LEARNED = ("nlu_classifier", "response_selector", "entity_extractor")
LINE = re.compile(r"^component (\w+): (reused \(key [0-9a-f]{8}\)|trained \(\d+\.\d s\))$")
SAMPLE = [
    "hello",
    "I want to send money",
    "what is my balance",
    "book a table",
    "italian",
    "we are 4",
    "tai food",
    "bye",
]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    target = tmp_path / "project"
    shutil.copytree(COEXISTENCE, target)
    return target


def train(project: Path, out: Path, cache: Path | None, name: str = "m") -> tuple[dict, Path]:
    """What the cache did per component (``reused`` / ``trained``) and the archive."""
    lines: list[str] = []
    result = train_project(project, out, fixed_model_name=name, progress=lines.append, cache=cache)
    outcome = {}
    for line in lines:
        if line.startswith("component "):
            assert LINE.match(line), line
            component, what = line[len("component ") :].split(": ", 1)
            outcome[component] = what.split(" ", 1)[0]
    return outcome, result.path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def retrained_after(project: Path, tmp_path: Path, change) -> dict[str, str]:
    cache = tmp_path / "cache"
    first, _ = train(project, tmp_path / "out", cache, "before")
    assert first == dict.fromkeys(COMPONENTS, "trained")
    change(project)
    after, _ = train(project, tmp_path / "out", cache, "after")
    return after


def test_an_unchanged_project_reuses_every_component(project, tmp_path) -> None:
    after = retrained_after(project, tmp_path, lambda _p: None)
    assert after == dict.fromkeys(COMPONENTS, "reused")


def test_a_response_text_edit_retrains_nothing(project, tmp_path) -> None:
    after = retrained_after(
        project,
        tmp_path,
        lambda p: edit(p / "domain.yml", "Your balance is 120 dollars.", "You have 95 dollars."),
    )
    assert after == dict.fromkeys(COMPONENTS, "reused")


def test_a_new_flow_step_reuses_what_learns_from_nlu_data_and_the_flow_index(
    project, tmp_path
) -> None:
    after = retrained_after(
        project,
        tmp_path,
        lambda p: edit(
            p / "data" / "flows.yml",
            "      - action: utter_balance",
            "      - action: utter_balance\n      - action: utter_greet",
        ),
    )
    for component in (*NLU_LEARNED, "flow_retrieval"):
        assert after[component] == "reused", after


def test_a_slot_change_reuses_the_nlu_but_retrains_the_policies(project, tmp_path) -> None:
    def add_slot(p: Path) -> None:
        edit(
            p / "domain.yml",
            "slots:\n",
            "slots:\n  vip:\n    type: bool\n    mappings:\n      - type: controlled\n",
        )

    after = retrained_after(project, tmp_path, add_slot)
    assert {c: after[c] for c in (*NLU_LEARNED, "flow_retrieval")} == dict.fromkeys(
        (*NLU_LEARNED, "flow_retrieval"), "reused"
    )
    assert after["policies"] == "trained"  # the policies featurise the slots


def test_a_new_example_retrains_the_classifier(project, tmp_path) -> None:
    after = retrained_after(
        project,
        tmp_path,
        lambda p: edit(
            p / "data" / "nlu.yml",
            "      - balance please\n",
            "      - balance please\n      - my funds\n",
        ),
    )
    assert after["nlu_classifier"] == "trained"
    assert after["response_selector"] == "reused"  # it learns from retrieval intents only
    assert after["policies"] == "reused"


def test_an_example_of_a_triggering_intent_retrains_the_flow_index(project, tmp_path) -> None:
    after = retrained_after(
        project,
        tmp_path,
        lambda p: edit(
            p / "data" / "nlu.yml",
            "      - pay someone\n",
            "      - pay someone\n      - wire it\n",
        ),
    )
    assert after["flow_retrieval"] == "trained"  # nlu_trigger examples describe the flow


def test_a_changed_synonym_retrains_the_extractor_only(project, tmp_path) -> None:
    def synonym(words: str):
        return lambda p: (p / "data" / "nlu.yml").write_text(
            (p / "data" / "nlu.yml").read_text()
            + f"  - synonym: italian\n    examples: |\n{words}",
            encoding="utf-8",
        )

    cache = tmp_path / "cache"
    synonym("      - tuscan\n")(project)
    train(project, tmp_path / "out", cache, "one")
    edit(project / "data" / "nlu.yml", "      - tuscan\n", "      - roman\n")
    after, archive = train(project, tmp_path / "out", cache, "two")
    assert after["entity_extractor"] == "trained"
    assert after["nlu_classifier"] == after["flow_retrieval"] == after["policies"] == "reused"
    synonyms = load_model(archive).nlu.synonyms.synonyms
    assert synonyms.get("roman") == "italian" and "tuscan" not in synonyms


def test_a_changed_config_retrains_what_reads_it(project, tmp_path) -> None:
    cache = tmp_path / "cache"
    train(project, tmp_path / "out", cache, "one")
    edit(project / "config.yml", "max_history: 5", "max_history: 3")
    after, _ = train(project, tmp_path / "out", cache, "two")
    assert after["policies"] == "trained"
    assert all(after[c] == "reused" for c in (*NLU_LEARNED, "flow_retrieval")), after

    edit(
        project / "config.yml",
        "  - name: NLUCommandAdapter\n",
        "  - name: NLUCommandAdapter\n  - name: ResponseSelector\n    ranking_length: 3\n",
    )
    after, _ = train(project, tmp_path / "out", cache, "three")
    assert after["response_selector"] == "trained"
    assert after["nlu_classifier"] == after["entity_extractor"] == after["policies"] == "reused"


def test_a_corrupted_entry_is_trained_again_not_loaded(project, tmp_path) -> None:
    cache = tmp_path / "cache"
    train(project, tmp_path / "out", cache, "one")
    (entry,) = (cache / "nlu_classifier").iterdir()
    model_file = entry / "intent_classifier.joblib"
    model_file.write_bytes(model_file.read_bytes()[:100])
    (flow_entry,) = (cache / "flow_retrieval").iterdir()
    (flow_entry / MANIFEST).write_text("{not json", encoding="utf-8")

    lines: list[str] = []
    train_project(project, tmp_path / "out", fixed_model_name="two", progress=lines.append,
                  cache=cache)  # fmt: skip
    assert "component nlu_classifier: trained" in "\n".join(lines)
    assert "component flow_retrieval: trained" in "\n".join(lines)
    assert any("cached nlu_classifier" in line and "unusable" in line for line in lines)
    # The entry is whole again: the next training reuses it.
    again, archive = train(project, tmp_path / "out", cache, "three")
    assert again == dict.fromkeys(COMPONENTS, "reused")
    assert Bot(load_model(archive), seed=1).parse("what is my balance")["intent"]["name"] == (
        "check_balance"
    )


def test_two_concurrent_writes_of_one_key_leave_one_whole_entry(tmp_path) -> None:
    gate = threading.Barrier(2)
    results: list[str] = []

    def write(value: str, directory: Path) -> None:
        (directory / "part-1").write_text(value, encoding="utf-8")
        gate.wait(timeout=30)  # both are half written at the same moment
        (directory / "part-2").write_text(value * 1000, encoding="utf-8")

    def one(value: str) -> None:
        cache = ComponentCache(tmp_path / "cache")
        got = cache.fetch_or_train(
            "thing",
            "k" * 64,
            train=lambda _say: value,
            persist=write,
            load=lambda d: (d / "part-1").read_text(encoding="utf-8"),
        )
        results.append(got)

    threads = [threading.Thread(target=one, args=(v,)) for v in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["a", "b"]
    entries = list((tmp_path / "cache" / "thing").iterdir())
    assert [e.name for e in entries] == ["k" * 64]  # no temporary directory left
    kept = (entries[0] / "part-1").read_text(encoding="utf-8")
    assert (entries[0] / "part-2").read_text(encoding="utf-8") == kept * 1000
    reader = ComponentCache(tmp_path / "cache")
    loaded = reader.fetch_or_train(
        "thing",
        "k" * 64,
        train=lambda _say: pytest.fail("a whole entry must be reused"),
        persist=write,
        load=lambda d: (d / "part-1").read_text(encoding="utf-8"),
    )
    assert loaded == kept


def test_a_model_from_a_cached_training_answers_like_a_cold_one(project, tmp_path) -> None:
    cache = tmp_path / "cache"
    train(project, tmp_path / "out", cache, "first")
    edit(project / "domain.yml", "Hello from the harbour.", "Welcome to the harbour.")
    cached, cached_archive = train(project, tmp_path / "out", cache, "cached")
    assert cached == dict.fromkeys(COMPONENTS, "reused")
    cold, cold_archive = train(project, tmp_path / "cold", None, "cold")
    assert cold == {}  # without a cache nothing is said per component

    warm_bot, cold_bot = (Bot(load_model(a), seed=1) for a in (cached_archive, cold_archive))
    for text in SAMPLE:
        assert warm_bot.parse(text) == cold_bot.parse(text), text
        assert warm_bot.processor.flow_classifier.rank(
            text
        ) == cold_bot.processor.flow_classifier.rank(text)
    warm, cold_answers = (
        [bot.handle_message("u1", text) for text in SAMPLE[:4]] for bot in (warm_bot, cold_bot)
    )
    assert warm == cold_answers
    assert "Welcome to the harbour." in json.dumps(warm)


def test_prune_evicts_by_age_then_by_size(tmp_path) -> None:
    cache = ComponentCache(tmp_path)
    for index, size in enumerate((10_000, 20_000, 30_000)):
        cache.fetch_or_train(
            "blob",
            f"{index:064d}",
            train=lambda _say, size=size: b"x" * size,
            persist=lambda value, d: (d / "data").write_bytes(value),
            load=lambda d: (d / "data").read_bytes(),
        )
    now = time.time()
    old = tmp_path / "blob" / f"{0:064d}" / MANIFEST
    os.utime(old, (now - 40 * 86400, now - 40 * 86400))
    removed = prune(tmp_path, max_age_seconds=30 * 86400, now=now)
    assert [p.name for p in removed] == [f"{0:064d}"]
    os.utime(tmp_path / "blob" / f"{1:064d}" / MANIFEST, (now - 60, now - 60))
    removed = prune(tmp_path, max_bytes=35_000, now=now)
    assert [p.name for p in removed] == [f"{1:064d}"]  # the least recently used goes first
    assert [p.name for p in (tmp_path / "blob").iterdir()] == [f"{2:064d}"]


def test_the_command_line_trains_with_a_cache(project, tmp_path) -> None:
    command = [sys.executable, "-m", "engine", "train", str(project), "--out", str(tmp_path)]
    command += ["--cache", str(tmp_path / "cache"), "--cache-max-mb", "50"]
    first = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=True)
    second = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=True)
    assert "component nlu_classifier: trained (" in first.stdout
    for component in COMPONENTS:
        assert f"component {component}: reused (key " in second.stdout


def test_a_reused_component_still_reports_its_training_warnings(project, tmp_path) -> None:
    edit(
        project / "config.yml",
        "  - name: RulePolicy\n",
        "  - name: RulePolicy\n  - name: UnexpecTEDIntentPolicy\n",
    )
    cache = tmp_path / "cache"
    runs = []
    for name in ("one", "two"):
        lines: list[str] = []
        train_project(project, tmp_path / "out", fixed_model_name=name, progress=lines.append,
                      cache=cache)  # fmt: skip
        runs.append(lines)
    assert any(line.startswith("component policies: reused") for line in runs[1])
    warning = [line for line in runs[0] if "Warning" in line and "UnexpecTED" in line]
    assert warning and warning == [line for line in runs[1] if "UnexpecTED" in line]


# Each component against each of its inputs: retrained when one changes, reused otherwise.

EVERYTHING_BUT = {
    "nlu_classifier": ("flow_retrieval", "policies"),
    "entity_extractor": ("nlu_classifier", "response_selector", "flow_retrieval", "policies"),
    "response_selector": ("flow_retrieval", "policies", "entity_extractor"),
    "flow_retrieval": (*NLU_LEARNED, "policies"),
    "policies": (*NLU_LEARNED, "flow_retrieval"),
}


def _nlu(p: Path, old: str, new: str) -> None:
    edit(p / "data" / "nlu.yml", old, new)


def _relabel(p: Path) -> None:  # the same texts, one of them under another intent
    _nlu(p, "      - see you\n", "")
    _nlu(p, "      - hey there\n", "      - hey there\n      - see you\n")


CHANGES = {
    "an example moved to another intent": ("nlu_classifier", _relabel),
    "an entity annotation (same text)": (
        "entity_extractor",
        lambda p: _nlu(p, "[thai](cuisine) food", "[thai food](cuisine)"),
    ),
    "a regex": ("entity_extractor", lambda p: _nlu(p, "\\d{1,2}", "\\d{1,3}")),
    "a lookup table": (
        "entity_extractor",
        lambda p: (p / "data" / "nlu.yml").write_text(
            (p / "data" / "nlu.yml").read_text(encoding="utf-8")
            + "  - lookup: cuisine\n    examples: |\n      - greek\n      - thai\n",
            encoding="utf-8",
        ),
    ),
    "a flow's description": (
        "flow_retrieval",
        lambda p: edit(
            p / "data" / "flows.yml", "Send money to someone.", "Wire money to a person."
        ),
    ),
    "a story": (
        "policies",
        lambda p: edit(p / "data" / "stories.yml", "          - cuisine: italian\n      - slot",
                       "          - cuisine: thai\n      - slot"),
    ),
}  # fmt: skip


@pytest.mark.parametrize("what", sorted(CHANGES))
def test_a_change_to_one_input_retrains_exactly_the_components_that_read_it(
    project, tmp_path, what
) -> None:
    component, change = CHANGES[what]
    after = retrained_after(project, tmp_path, change)
    assert after[component] == "trained", after
    for other in EVERYTHING_BUT[component]:
        assert after[other] == "reused", (other, after)


def _with_retrieval_intent(p: Path) -> None:
    edit(
        p / "config.yml",
        "  - name: NLUCommandAdapter\n",
        "  - name: NLUCommandAdapter\n  - name: ResponseSelector\n",
    )
    (p / "data" / "nlu.yml").write_text(
        (p / "data" / "nlu.yml").read_text(encoding="utf-8")
        + "  - intent: chitchat/ask_name\n    examples: |\n      - what is your name\n"
        "      - who are you\n",
        encoding="utf-8",
    )
    edit(p / "domain.yml", "intents:\n", "intents:\n  - chitchat\n")
    edit(
        p / "domain.yml",
        "responses:\n",
        "responses:\n  utter_chitchat/ask_name:\n    - text: I am the harbour bot.\n",
    )


def test_a_retrieval_intents_example_retrains_the_response_selector(project, tmp_path) -> None:
    _with_retrieval_intent(project)
    after = retrained_after(
        project, tmp_path, lambda p: _nlu(p, "      - who are you\n", "      - your name?\n")
    )
    assert after["response_selector"] == "trained"
    assert after["flow_retrieval"] == after["policies"] == "reused"
    # ...and a change to the selector's settings retrains it too, nothing else.
    edit(project / "config.yml", "  - name: ResponseSelector\n",
         "  - name: ResponseSelector\n    ranking_length: 2\n")  # fmt: skip
    again, _ = train(project, tmp_path / "out", tmp_path / "cache", "again")
    assert again["response_selector"] == "trained"
    assert all(again[c] == "reused" for c in EVERYTHING_BUT["response_selector"]), again
    assert again["nlu_classifier"] == "reused"


def test_config_outside_a_components_inputs_retrains_nothing(project, tmp_path) -> None:
    after = retrained_after(
        project, tmp_path, lambda p: edit(p / "config.yml", "assistant_id: harbour-coexistence",
                                          "assistant_id: harbour-renamed")
    )  # fmt: skip
    assert after == dict.fromkeys(COMPONENTS, "reused")


def test_a_reused_component_is_archived_as_a_copy_of_its_entry(project, tmp_path) -> None:
    cache = tmp_path / "cache"
    train(project, tmp_path / "out", cache, "first")
    edit(project / "domain.yml", "Hello from the harbour.", "Welcome to the harbour.")
    (entry,) = (cache / "flow_retrieval").iterdir()
    listed = json.loads((entry / MANIFEST).read_text(encoding="utf-8"))["files"]
    # A mark in the entry's file (its manifest updated to match) shows in the archive: the
    # file was copied, not persisted again from the loaded component.
    name = sorted(listed)[0]
    content = (entry / name).read_bytes() + b"\n"
    (entry / name).write_bytes(content)
    manifest = json.loads((entry / MANIFEST).read_text(encoding="utf-8"))
    manifest["files"][name] = {"size": len(content), "sha256": hashlib.sha256(content).hexdigest()}
    (entry / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    outcome, archive = train(project, tmp_path / "out", cache, "cached")
    assert outcome["flow_retrieval"] == "reused"
    with tarfile.open(archive) as tar:
        member = next(m for m in tar if m.name.endswith(f"/flow_classifier/{name}"))
        handle = tar.extractfile(member)
        assert handle is not None and handle.read() == content


# -- training alongside (ComponentCache.train_ahead) -------------------------------------------


def _pid_component(cache: ComponentCache, key: str, train) -> int:
    """`fetch_or_train` of a component whose value is the id of the process that trained it."""
    return cache.fetch_or_train(
        "pid",
        key,
        train=train,
        persist=lambda value, d: (d / "pid").write_text(str(value), encoding="utf-8"),
        load=lambda d: int((d / "pid").read_text(encoding="utf-8")),
    )


def _write_pid(value: int, directory: Path) -> None:
    (directory / "pid").write_text(str(value), encoding="utf-8")


def test_a_component_trained_ahead_trains_in_another_process_and_is_taken_from_its_entry(
    tmp_path,
) -> None:
    lines: list[str] = []
    cache = ComponentCache(tmp_path / "cache", lines.append)

    def train(say) -> int:
        say("  learning in a process of its own")
        return os.getpid()

    assert cache.train_ahead("pid", "a" * 64, train=train, persist=_write_pid)
    got = _pid_component(cache, "a" * 64, lambda _say: pytest.fail("it was trained ahead"))
    assert got != os.getpid()
    [outcome] = cache.outcomes
    assert not outcome.reused and outcome.alongside
    # Its progress lines come out in its turn, then the one line per component.
    assert lines[0] == "  learning in a process of its own"
    assert LINE.match(lines[-1]) and lines[-1].startswith("component pid: trained (")
    # An entry is there now: nothing is started for it again, and it is reused.
    assert not cache.train_ahead("pid", "a" * 64, train=train, persist=_write_pid)
    again = ComponentCache(tmp_path / "cache")
    assert _pid_component(again, "a" * 64, lambda _say: pytest.fail("reuse it")) == got
    assert again.outcomes[0].reused


def test_a_component_whose_process_fails_is_trained_in_line(tmp_path) -> None:
    cache = ComponentCache(tmp_path / "cache")

    def fails(_say) -> int:
        raise RuntimeError("out of luck")

    assert cache.train_ahead("pid", "b" * 64, train=fails, persist=_write_pid)
    assert _pid_component(cache, "b" * 64, lambda _say: os.getpid()) == os.getpid()
    assert not cache.outcomes[0].alongside


def test_an_nlu_edit_trains_the_extractor_and_the_flow_index_alongside_the_classifier(
    project, tmp_path
) -> None:
    cache = tmp_path / "cache"
    train(project, tmp_path / "out", cache, "first")
    _nlu(project, "      - pay someone\n", "      - pay someone\n      - wire it\n")  # a trigger
    result = train_project(project, tmp_path / "out", fixed_model_name="edit", cache=cache)
    done = {o.component: o for o in result.components}
    assert not done["nlu_classifier"].reused and not done["nlu_classifier"].alongside
    assert done["entity_extractor"].alongside and done["flow_retrieval"].alongside
    assert done["policies"].reused


def test_a_training_that_fails_stops_what_it_started_ahead(tmp_path) -> None:
    cache = ComponentCache(tmp_path / "cache")
    assert cache.train_ahead(
        "pid", "c" * 64, train=lambda _say: time.sleep(600), persist=_write_pid
    )
    [ahead] = cache._ahead.values()
    cache.stop_ahead()
    with pytest.raises(ProcessLookupError):  # gone, and reaped
        os.kill(ahead.pid, 0)
    assert not (tmp_path / "cache" / "pid" / ("c" * 64)).exists()
