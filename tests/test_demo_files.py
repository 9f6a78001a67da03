"""Checks on the Harbor Bank demo project and the synthetic reference project.

Plain YAML loading only (no Django, no formats library): these tests guard the
content of ``demo/harbor_bank`` and ``generate_reference_project``.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from demo import HARBOR_BANK as DEMO_DIR
from demo.reference_assistant import generate_reference_project

STEP_TYPES = ("action", "collect", "link", "call", "set_slots", "noop")
SLOT_TYPES = {"text", "bool", "categorical", "float", "list", "any"}
ANNOTATION = re.compile(r"\[(?P<text>[^\]]+)\](?:\((?P<paren>[^)]+)\)|(?P<json>\{[^}]+\}))")
SLOT_REFERENCE = re.compile(r"slots\.([A-Za-z_][A-Za-z0-9_]*)")
LITERAL_COMPARISON = re.compile(
    r"slots\.([A-Za-z_][A-Za-z0-9_]*)\s*(?:==|=|!=|is not|is)\s*\"([^\"]*)\""
)
SET_SLOTS_PAYLOAD = re.compile(r"^/SetSlots\((?P<args>.*)\)$")
INTENT_PAYLOAD = re.compile(r"^/(?P<intent>[A-Za-z_][A-Za-z0-9_]*)(?P<entities>\{.*\})?$")
RASA_DEFAULT_ACTIONS = {"action_listen", "action_restart", "action_session_start"}


# --------------------------------------------------------------------------- loading


def _yaml() -> YAML:
    return YAML(typ="safe", pure=True)


def _load(path: Path) -> Any:
    return _yaml().load(path.read_text(encoding="utf-8"))


def _load_dir(sub: str) -> dict[str, Any]:
    files = sorted((DEMO_DIR / sub).glob("*.yml"))
    assert files, f"no YAML files in {sub}"
    return {f.name: _load(f) for f in files}


@pytest.fixture(scope="module")
def domain() -> dict[str, Any]:
    merged: dict[str, Any] = {
        "intents": [],
        "entities": [],
        "slots": {},
        "responses": {},
        "actions": [],
    }
    for name, doc in _load_dir("domain").items():
        assert doc.get("version") == "3.1", name
        for key in ("intents", "entities", "actions"):
            merged[key].extend(doc.get(key) or [])
        for key in ("slots", "responses"):
            for item, value in (doc.get(key) or {}).items():
                assert item not in merged[key], f"{item} defined twice"
                merged[key][item] = value
    return merged


@pytest.fixture(scope="module")
def flows() -> dict[str, dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    for name, doc in _load_dir("data/flows").items():
        for flow_id, flow in doc["flows"].items():
            assert flow_id not in merged, f"flow {flow_id} defined twice ({name})"
            merged[flow_id] = flow
    return merged


@pytest.fixture(scope="module")
def nlu() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for doc in _load_dir("data/nlu").values():
        items.extend(doc["nlu"])
    return items


@pytest.fixture(scope="module")
def e2e() -> dict[str, Any]:
    return _load_dir("tests/e2e")


def _names(items: list[Any]) -> list[str]:
    """Domain lists hold plain names or single-key {name: options} mappings."""
    out = []
    for item in items:
        if isinstance(item, dict):
            assert len(item) == 1, item
            out.extend(item)
        else:
            out.append(item)
    return out


def _examples(block: str) -> list[str]:
    lines = [line.strip() for line in block.splitlines() if line.strip()]
    assert all(line.startswith("- ") for line in lines), lines
    return [line[2:].strip() for line in lines]


def _walk(steps: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every step of a flow, including the steps nested in if/then/else branches."""
    for step in steps:
        yield step
        nxt = step.get("next")
        if isinstance(nxt, list):
            for branch in nxt:
                target = branch.get("then", branch.get("else"))
                if isinstance(target, list):
                    yield from _walk(target)


def _step_type(step: dict[str, Any]) -> str:
    kinds = [kind for kind in STEP_TYPES if kind in step]
    assert len(kinds) == 1, f"step must have exactly one type: {step}"
    return kinds[0]


def _conditions(flows: dict[str, dict[str, Any]]) -> list[str]:
    found = []
    for flow in flows.values():
        if isinstance(flow.get("if"), str):
            found.append(flow["if"])
        for step in _walk(flow["steps"]):
            for rejection in step.get("rejections") or []:
                found.append(rejection["if"])
            if isinstance(step.get("next"), list):
                found.extend(b["if"] for b in step["next"] if isinstance(b.get("if"), str))
    return found


def _e2e_cases(e2e: dict[str, Any]) -> list[dict[str, Any]]:
    return [case for doc in e2e.values() for case in doc["test_cases"]]


# --------------------------------------------------------------------------- flows


def test_flow_count_and_required_topics(flows):
    user_flows = [f for f in flows if not f.startswith("pattern_")]
    assert len(user_flows) >= 12
    for required in (
        "check_balance",
        "transfer_money",
        "block_card",
        "replace_card",
        "list_transactions",
        "pay_bill",
        "setup_savings_goal",
        "change_address",
        "open_account",
        "verify_identity",
        "report_fraud",
        "find_atm",
        "human_handoff",
    ):
        assert required in flows


def test_flows_follow_the_schema(flows):
    flow_keys = {
        "name",
        "description",
        "if",
        "always_include_in_prompt",
        "nlu_trigger",
        "persisted_slots",
        "run_pattern_completed",
        "metadata",
        "steps",
    }
    for flow_id, flow in flows.items():
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", flow_id)
        assert set(flow) <= flow_keys, (flow_id, set(flow) - flow_keys)
        assert flow["description"].strip() and flow["steps"], flow_id
        for step in _walk(flow["steps"]):
            kind = _step_type(step)
            if kind == "action":
                assert set(step) <= {"id", "next", "action", "metadata"}, step
            if kind == "noop":
                assert step["noop"] is True and "next" in step, step
            if kind == "link":
                assert "next" not in step, f"link cannot have next: {step}"
            if kind == "set_slots":
                assert all(len(item) == 1 for item in step["set_slots"]), step
            if isinstance(step.get("next"), list):
                branches = step["next"]
                assert "else" in branches[-1], step
                assert all("if" in b and "then" in b for b in branches[:-1]), step


def test_every_step_type_and_branching_feature_is_used(flows):
    steps = [s for flow in flows.values() for s in _walk(flow["steps"])]
    used = Counter(_step_type(s) for s in steps)
    assert set(used) == set(STEP_TYPES), used

    branching = [s for s in steps if isinstance(s.get("next"), list)]
    assert branching
    assert any(
        isinstance(b.get("then", b.get("else")), list) for s in branching for b in s["next"]
    ), "no nested step list in a branch"
    collects = [s for s in steps if "collect" in s]
    assert any("description" in s for s in collects)
    assert any(s.get("ask_before_filling") is True for s in collects)
    assert any(s.get("reset_after_flow_ends") is False for s in collects)
    assert any("utter" in s for s in collects)
    assert any(s.get("rejections") for s in collects)
    assert all(set(r) == {"if", "utter"} for s in collects for r in s.get("rejections") or [])


def test_loop_back_to_an_earlier_step(flows):
    loops = []
    for flow_id, flow in flows.items():
        top_ids = [s.get("id") for s in flow["steps"]]
        for index, step in enumerate(flow["steps"]):
            for inner in _walk([step]):
                targets = _next_targets(inner)
                loops.extend(
                    (flow_id, t) for t in targets if t in top_ids and top_ids.index(t) <= index
                )
    assert loops, "expected a next that jumps back to an earlier step id"


def _next_targets(step: dict[str, Any]) -> list[str]:
    nxt = step.get("next")
    if isinstance(nxt, str):
        return [nxt]
    if isinstance(nxt, list):
        return [
            b.get("then", b.get("else"))
            for b in nxt
            if isinstance(b.get("then", b.get("else")), str)
        ]
    return []


def test_flow_level_features(flows):
    triggers = [t for f in flows.values() for t in f.get("nlu_trigger") or []]
    assert any(isinstance(t["intent"], str) for t in triggers)
    assert any(
        isinstance(t["intent"], dict) and "confidence_threshold" in t["intent"] for t in triggers
    )
    assert any(isinstance(f.get("if"), str) and "slots." in f["if"] for f in flows.values())
    assert any(f.get("persisted_slots") for f in flows.values())
    assert any(
        "nlu_trigger" not in f and "if" not in f and not fid.startswith("pattern_")
        for fid, f in flows.items()
    ), "expected a flow with a description only"
    assert {"pattern_completed", "pattern_cannot_handle"} & set(flows)

    # The reusable identity check only runs through `call`.
    assert flows["verify_identity"]["if"] is False
    assert "nlu_trigger" not in flows["verify_identity"]
    callers = {
        fid
        for fid, f in flows.items()
        for s in _walk(f["steps"])
        if s.get("call") == "verify_identity"
    }
    assert "open_account" in callers
    # Reporting fraud ends by linking to blocking the card.
    assert flows["report_fraud"]["steps"][-1] == {"link": "block_card"}


def test_condition_language(flows):
    conditions = _conditions(flows)
    text = "\n".join(conditions)
    for operator in (" > ", " < ", " <= ", " >= ", " = ", " == ", " != ", " is ", " is not "):
        assert operator in text, f"operator {operator!r} unused"
    for keyword in (" contains ", " matches ", " and ", " or ", "not "):
        assert keyword in text, f"keyword {keyword!r} unused"
    for condition in conditions:
        assert condition.count("(") == condition.count(")"), condition
        assert condition.count('"') % 2 == 0, condition


# --------------------------------------------------------------------------- domain


def test_slots_cover_every_type_and_mapping(domain):
    slots = domain["slots"]
    types = Counter(s["type"] for s in slots.values())
    assert set(types) == SLOT_TYPES, types
    mappings = [m for s in slots.values() for m in s.get("mappings") or []]
    mapping_types = {m["type"] for m in mappings}
    for expected in ("from_llm", "from_entity", "from_intent", "from_text", "controlled", "custom"):
        assert expected in mapping_types
    assert any(m["type"] == "from_entity" and "role" in m for m in mappings)
    assert any("initial_value" in s for s in slots.values())
    assert any("influence_conversation" in s for s in slots.values())
    for name, slot in slots.items():
        if slot["type"] == "categorical":
            assert slot["values"], name
            if slot.get("initial_value") is not None:
                assert slot["initial_value"] in slot["values"], name
        if slot["type"] == "float":
            assert slot["min_value"] < slot["max_value"], name


def test_responses(domain):
    responses = domain["responses"]
    assert len(responses) >= 25
    assert all(name.startswith("utter_") for name in responses)
    variations = [v for vs in responses.values() for v in vs]
    assert any(len(vs) > 1 for vs in responses.values())
    payloads = [b["payload"] for v in variations for b in v.get("buttons") or []]
    assert any(INTENT_PAYLOAD.match(p) and "{" not in p for p in payloads)
    assert any(INTENT_PAYLOAD.match(p) and "{" in p for p in payloads)
    assert any(SET_SLOTS_PAYLOAD.match(p) for p in payloads)
    assert any(isinstance(v.get("condition"), list) for v in variations)
    assert any(isinstance(v.get("condition"), str) for v in variations)
    assert any("image" in v for v in variations)
    assert any("custom" in v for v in variations)
    assert any("channel" in v for v in variations)
    assert any((v.get("metadata") or {}).get("rephrase") is True for v in variations)
    assert any("{" in (v.get("text") or "") for v in variations)


def test_response_references_resolve(domain):
    slots = domain["slots"]
    intents = set(domain["intents"])
    for name, variations in domain["responses"].items():
        for variation in variations:
            for placeholder in re.findall(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", str(variation)):
                assert placeholder in slots, (name, placeholder)
            condition = variation.get("condition")
            if isinstance(condition, list):
                for item in condition:
                    assert item["type"] == "slot" and item["name"] in slots, (name, item)
                    _assert_slot_value(slots, item["name"], item["value"])
            elif isinstance(condition, str):
                _assert_condition_slots(slots, condition)
            for button in variation.get("buttons") or []:
                _assert_payload(slots, intents, domain, button["payload"])


def _assert_payload(slots, intents, domain, payload: str) -> None:
    set_slots = SET_SLOTS_PAYLOAD.match(payload)
    if set_slots:
        for pair in set_slots["args"].split(","):
            slot, value = (part.strip() for part in pair.split("=", 1))
            assert slot in slots, payload
            _assert_slot_value(slots, slot, value)
        return
    intent = INTENT_PAYLOAD.match(payload)
    assert intent, payload
    assert intent["intent"] in intents, payload
    if intent["entities"]:
        entities = _yaml().load(io.StringIO(intent["entities"]))
        for entity, value in entities.items():
            assert entity in _names(domain["entities"]), payload
            for slot_name, slot in slots.items():
                for mapping in slot.get("mappings") or []:
                    if mapping.get("entity") == entity:
                        _assert_slot_value(slots, slot_name, value)


def _assert_slot_value(slots, name: str, value: Any) -> None:
    slot = slots[name]
    if slot["type"] == "categorical" and value is not None:
        assert value in slot["values"], (name, value)
    if slot["type"] == "bool":
        assert value in (True, False, None, "true", "false"), (name, value)


def _assert_condition_slots(slots, condition: str) -> None:
    for name in SLOT_REFERENCE.findall(condition):
        assert name in slots, (condition, name)
    for name, value in LITERAL_COMPARISON.findall(condition):
        _assert_slot_value(slots, name, value)
    for name in re.findall(r"slots\.(\w+) contains ", condition):
        assert slots[name]["type"] == "list", condition


def test_slot_mappings_resolve(domain, flows):
    intents = set(domain["intents"])
    entities = set(_names(domain["entities"]))
    roles = {
        name: set(options.get("roles") or [])
        for item in domain["entities"]
        if isinstance(item, dict)
        for name, options in item.items()
    }
    for name, slot in domain["slots"].items():
        for mapping in slot.get("mappings") or []:
            if mapping["type"] == "from_entity":
                assert mapping["entity"] in entities, name
                if "role" in mapping:
                    assert mapping["role"] in roles.get(mapping["entity"], set()), name
            if mapping["type"] == "from_intent":
                assert mapping["intent"] in intents, name
                _assert_slot_value(domain["slots"], name, mapping["value"])
            for condition in mapping.get("conditions") or []:
                if "active_flow" in condition:
                    assert condition["active_flow"] in flows, (name, condition)


# --------------------------------------------------------------------------- consistency


def test_flow_references_resolve(domain, flows):
    slots = domain["slots"]
    responses = domain["responses"]
    actions = set(_names(domain["actions"]))
    intents = set(domain["intents"])
    used_custom_actions = set()
    for flow_id, flow in flows.items():
        ids = [s["id"] for s in _walk(flow["steps"]) if "id" in s]
        assert len(ids) == len(set(ids)), f"duplicate step id in {flow_id}"
        set_or_collected = set()
        for step in _walk(flow["steps"]):
            kind = _step_type(step)
            if kind == "action":
                action = step["action"]
                if action.startswith("utter_"):
                    assert action in responses, (flow_id, action)
                else:
                    assert action in actions or action in RASA_DEFAULT_ACTIONS, (flow_id, action)
                    used_custom_actions.add(action)
            elif kind == "collect":
                slot = step["collect"]
                assert slot in slots, (flow_id, slot)
                set_or_collected.add(slot)
                utter = step.get("utter", f"utter_ask_{slot}")
                assert utter in responses or f"action_ask_{slot}" in actions, (flow_id, slot)
                for rejection in step.get("rejections") or []:
                    assert rejection["utter"] in responses, (flow_id, rejection)
            elif kind in ("link", "call"):
                assert step[kind] in flows, (flow_id, step)
            elif kind == "set_slots":
                for item in step["set_slots"]:
                    ((slot, value),) = item.items()
                    assert slot in slots, (flow_id, slot)
                    _assert_slot_value(slots, slot, value)
                    set_or_collected.add(slot)
            for target in _next_targets(step):
                assert target == "END" or target in ids, (flow_id, target)
        for slot in flow.get("persisted_slots") or []:
            assert slot in set_or_collected, (flow_id, slot)
        for trigger in flow.get("nlu_trigger") or []:
            intent = trigger["intent"]
            name = intent["name"] if isinstance(intent, dict) else intent
            assert name in intents, (flow_id, name)
    for condition in _conditions(flows):
        _assert_condition_slots(slots, condition)
    assert used_custom_actions == actions, actions ^ used_custom_actions


def test_nlu_counts_and_annotations(domain, nlu):
    intents = [item for item in nlu if "intent" in item]
    names = [item["intent"] for item in intents]
    assert len(names) == len(set(names)), "intent listed twice"
    assert len(names) >= 22
    assert set(names) == set(domain["intents"])
    for required in ("greet", "goodbye", "affirm", "deny", "check_balance", "transfer_money"):
        assert required in names

    examples = {item["intent"]: _examples(item["examples"]) for item in intents}
    assert sum(len(v) for v in examples.values()) >= 320
    assert all(len(v) >= 10 for v in examples.values()), {k: len(v) for k, v in examples.items()}
    flat = [e for v in examples.values() for e in v]
    assert len(flat) == len(set(flat)), Counter(flat).most_common(3)

    entities = set(_names(domain["entities"]))
    forms = Counter()
    for example in flat:
        for match in ANNOTATION.finditer(example):
            if match["json"]:
                data = _yaml().load(io.StringIO(match["json"]))
                assert data["entity"] in entities, example
                forms["json_role" if "role" in data else "json"] += 1
            else:
                entity, _, value = match["paren"].partition(":")
                assert entity in entities, example
                forms["value" if value else "plain"] += 1
    assert forms["plain"] and forms["value"] and forms["json_role"], forms

    synonyms = [item for item in nlu if "synonym" in item]
    regexes = [item for item in nlu if "regex" in item]
    lookups = [item for item in nlu if "lookup" in item]
    assert len(synonyms) >= 3 and regexes and lookups
    for item in regexes:
        assert item["regex"] in entities
        for pattern in _examples(item["examples"]):
            re.compile(pattern)
    assert {item["lookup"] for item in lookups} <= entities
    assert "city" in {item["lookup"] for item in lookups}


# --------------------------------------------------------------------------- e2e


def test_e2e_tests_reference_known_things(domain, flows, e2e):
    responses = domain["responses"]
    slots = domain["slots"]
    cases = _e2e_cases(e2e)
    names = [c["test_case"] for c in cases]
    assert len(names) == len(set(names))
    for doc in e2e.values():
        fixtures = {}
        for fixture in doc.get("fixtures") or []:
            ((fixture_name, values),) = fixture.items()
            fixtures[fixture_name] = values
            for item in values:
                ((slot, value),) = item.items()
                assert slot in slots, (fixture_name, slot)
                _assert_slot_value(slots, slot, value)
        for case in doc["test_cases"]:
            assert set(case.get("fixtures", [])) <= set(fixtures)
            assert case["steps"][0].keys() == {"user"}, case["test_case"]
            for step in case["steps"]:
                ((kind, value),) = step.items()
                assert kind in ("user", "utter", "bot", "slot_was_set"), step
                if kind == "utter":
                    assert value in responses, (case["test_case"], value)
                if kind == "slot_was_set":
                    for item in value:
                        slot = next(iter(item)) if isinstance(item, dict) else item
                        assert slot in slots, (case["test_case"], slot)
                if kind == "user" and value.startswith("/"):
                    _assert_payload(slots, set(domain["intents"]), domain, value)


def test_every_flow_is_exercised_by_an_e2e_test(flows, e2e):
    uttered = {
        step["utter"] for case in _e2e_cases(e2e) for step in case["steps"] if "utter" in step
    }
    for flow_id, flow in flows.items():
        utters = set()
        for step in _walk(flow["steps"]):
            if step.get("action", "").startswith("utter_"):
                utters.add(step["action"])
            if "collect" in step:
                utters.add(step.get("utter", f"utter_ask_{step['collect']}"))
        if utters:
            assert utters & uttered, f"no e2e test goes through {flow_id}"


# --------------------------------------------------------------------------- config


def test_config_and_endpoints():
    config = _load(DEMO_DIR / "config.yml")
    assert config["recipe"] == "default.v1"
    assert config["language"] == "en"
    assert config["assistant_id"] == "harbor_bank"
    components = [c["name"] for c in config["pipeline"]]
    for name in (
        "WhitespaceTokenizer",
        "CountVectorsFeaturizer",
        "LogisticRegressionClassifier",
        "CRFEntityExtractor",
        "RegexEntityExtractor",
        "EntitySynonymMapper",
        "NLUCommandAdapter",
    ):
        assert name in components
    analyzers = {c.get("analyzer") for c in config["pipeline"]}
    assert {"word", "char_wb"} <= analyzers
    assert [p["name"] for p in config["policies"]] == ["FlowPolicy"]

    endpoints = _load(DEMO_DIR / "endpoints.yml")
    assert endpoints["action_endpoint"]["url"] == "http://localhost:5055/webhook"
    assert endpoints["event_broker"]["type"] == "file"
    assert endpoints["event_broker"]["path"]


# --------------------------------------------------------------------------- reference


def _parse_project(files: dict[str, str]) -> dict[str, Any]:
    return {path: _yaml().load(text) for path, text in files.items()}


def test_reference_project_is_deterministic():
    first = generate_reference_project(flows=12, intents=20, examples=400, seed=3)
    again = generate_reference_project(flows=12, intents=20, examples=400, seed=3)
    other = generate_reference_project(flows=12, intents=20, examples=400, seed=4)
    assert first == again
    assert first != other
    assert set(first) == {
        "config.yml",
        "endpoints.yml",
        "domain.yml",
        "data/flows.yml",
        "data/nlu.yml",
    }


@pytest.mark.parametrize(
    ("n_flows", "n_intents", "n_examples"),
    [(40, 60, 3000), (5, 8, 80), (12, 20, 400), (1, 3, 3)],
)
def test_reference_project_counts_and_consistency(n_flows, n_intents, n_examples):
    docs = _parse_project(
        generate_reference_project(flows=n_flows, intents=n_intents, examples=n_examples)
    )
    domain = docs["domain.yml"]
    flows = docs["data/flows.yml"]["flows"]
    nlu = docs["data/nlu.yml"]["nlu"]

    assert len(flows) == n_flows
    intents = [item for item in nlu if "intent" in item]
    assert len(intents) == n_intents
    assert [i["intent"] for i in intents] == domain["intents"]
    assert sum(len(_examples(i["examples"])) for i in intents) == n_examples
    assert docs["config.yml"]["assistant_id"]

    slots = domain["slots"]
    responses = domain["responses"]
    actions = set(_names(domain["actions"]))
    kinds = Counter()
    for flow_id, flow in flows.items():
        ids = [s["id"] for s in _walk(flow["steps"]) if "id" in s]
        for step in _walk(flow["steps"]):
            kind = _step_type(step)
            kinds[kind] += 1
            if kind == "action":
                name = step["action"]
                assert name in responses or name in actions, (flow_id, name)
            if kind == "collect":
                assert step["collect"] in slots
                assert step.get("utter", f"utter_ask_{step['collect']}") in responses
            if kind in ("link", "call"):
                assert step[kind] in flows and step[kind] != flow_id
            if kind == "set_slots":
                for item in step["set_slots"]:
                    ((slot, value),) = item.items()
                    _assert_slot_value(slots, slot, value)
            for target in _next_targets(step):
                assert target == "END" or target in ids
        for trigger in flow.get("nlu_trigger") or []:
            assert trigger["intent"]["name"] in domain["intents"]
    for condition in _conditions(flows):
        _assert_condition_slots(slots, condition)
    if n_flows >= 12:
        assert {"action", "collect", "set_slots", "link", "call"} <= set(kinds), kinds
        assert any(isinstance(s.get("next"), list) for f in flows.values() for s in f["steps"])
