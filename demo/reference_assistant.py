"""A deterministic, synthetic Rasa project of any size, for benchmarks.

``generate_reference_project()`` returns ``{relative_path: yaml_text}`` for a
complete CALM project (config, endpoints, domain, flows, NLU). The same
arguments always give byte-identical output. The content is meaningless but
realistic in shape: flows mix collect, action, set_slots, call and link steps
with if/then/else branches, every slot/response/action they use is declared,
and the NLU data has the requested number of intents and examples, some of
them annotated with entities.

Pure Python (no Django), so benchmark scripts can import it anywhere.
"""

from __future__ import annotations

import io
import random
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import LiteralScalarString

__all__ = ["generate_reference_project"]

VERSION = "3.1"
HELPER_SHARE = 8  # one `if: False` helper flow (reached by `call`) per this many flows

VERBS = [
    "check",
    "update",
    "cancel",
    "renew",
    "book",
    "track",
    "order",
    "report",
    "change",
    "request",
    "review",
    "pause",
    "resume",
    "upgrade",
    "register",
    "schedule",
    "confirm",
    "refund",
    "transfer",
    "activate",
]
NOUNS = [
    "subscription",
    "delivery",
    "appointment",
    "invoice",
    "membership",
    "parcel",
    "reservation",
    "warranty",
    "insurance",
    "ticket",
    "device",
    "plan",
    "voucher",
    "loan",
    "claim",
    "profile",
    "order",
    "contract",
    "meter",
    "account",
    "payment",
    "booking",
    "licence",
    "pickup",
    "repair",
    "visit",
    "return",
    "policy",
    "card",
    "mandate",
]
PREFIXES = [
    "",
    "",
    "",
    "please ",
    "can you ",
    "could you ",
    "I want to ",
    "I'd like to ",
    "I need to ",
    "help me ",
    "how do I ",
    "is it possible to ",
]
SUFFIXES = ["", "", "", " please", " now", " today", " for me", " asap", " thanks", "?"]
DETERMINERS = ["my", "the", "a", "our", "this"]
ENTITY_VALUES = {
    "person": ["Alice", "Bruno", "Chen", "Dalia", "Emeka", "Farah", "Goran", "Hana"],
    "place": ["Lisbon", "Oslo", "Dakar", "Quito", "Hanoi", "Perth", "Tbilisi", "Nairobi"],
    "item": ["laptop", "sofa", "bicycle", "kettle", "printer", "router", "camera", "lamp"],
}
DETAIL_ENTITIES = sorted(ENTITY_VALUES)
AFFIRM = ["yes", "yeah", "yep", "sure", "of course", "correct", "absolutely", "ok", "go ahead"]
DENY = ["no", "nope", "nah", "not now", "never mind", "cancel", "no thanks", "don't"]
AFFIRM_DENY_TAILS = ["", " please", " thanks", "!", " for sure", " definitely", " I think"]
CHOICES = ["standard", "priority", "review"]


def generate_reference_project(
    flows: int = 40, intents: int = 60, examples: int = 3000, seed: int = 0
) -> dict[str, str]:
    """Build a synthetic Rasa project with exactly ``flows`` flows, ``intents``
    intents and ``examples`` NLU examples. Deterministic for given arguments."""
    if flows < 1 or intents < 1:
        raise ValueError("flows and intents must be at least 1")
    if examples < intents:
        raise ValueError("examples must be at least the number of intents")
    rng = random.Random(f"reference-project:{seed}")

    intent_names = _intent_names(intents, rng)
    has_affirm_deny = intents >= 3
    trigger_pool = intent_names[3:] if has_affirm_deny else list(intent_names)

    builder = _ProjectBuilder(rng, has_affirm_deny)
    n_helpers = flows // HELPER_SHARE
    n_main = flows - n_helpers
    triggers = [
        trigger_pool[i % len(trigger_pool)] if trigger_pool else None for i in range(n_main)
    ]
    main_ids = [_flow_id("flow", i, rng, triggers[i]) for i in range(n_main)]
    helper_ids = [_flow_id("helper", i, rng) for i in range(n_helpers)]

    flow_docs: dict[str, Any] = {}
    for index, flow_id in enumerate(main_ids):
        trigger = triggers[index]
        call_target = helper_ids[index % n_helpers] if n_helpers and index % 4 == 0 else None
        link_target = None
        if n_main > 1 and index % 5 == 1:
            # an offset of 1 .. n_main - 1 never links a flow to itself
            link_target = main_ids[(index + 1 + rng.randrange(n_main - 1)) % n_main]
        flow_docs[flow_id] = builder.main_flow(
            index, flow_id, trigger, call_target=call_target, link_target=link_target
        )
    for index, flow_id in enumerate(helper_ids):
        flow_docs[flow_id] = builder.helper_flow(n_main + index, flow_id)

    nlu_items = _nlu(intent_names, examples, rng, has_affirm_deny)

    domain = {
        "version": VERSION,
        "intents": list(intent_names),
        "entities": ["amount", *DETAIL_ENTITIES],
        "slots": builder.slots,
        "responses": builder.responses,
        "actions": builder.actions,
        "session_config": {
            "session_expiration_time": 60,
            "carry_over_slots_to_new_session": True,
        },
    }
    return {
        "config.yml": _dump(_config(seed)),
        "endpoints.yml": _dump(_endpoints()),
        "domain.yml": _dump(domain),
        "data/flows.yml": _dump({"version": VERSION, "flows": flow_docs}),
        "data/nlu.yml": _dump({"version": VERSION, "nlu": nlu_items}),
    }


# --------------------------------------------------------------------------- flows


class _ProjectBuilder:
    """Accumulates the slots, responses and actions that the flows need."""

    def __init__(self, rng: random.Random, has_affirm_deny: bool) -> None:
        self.rng = rng
        self.has_affirm_deny = has_affirm_deny
        self.slots: dict[str, Any] = {}
        self.responses: dict[str, Any] = {}
        self.actions: list[str] = []

    # -- declarations

    def _response(self, name: str, *texts: str, buttons: list[dict] | None = None) -> str:
        variations: list[dict[str, Any]] = [{"text": text} for text in texts]
        if buttons:
            variations[0]["buttons"] = buttons
        self.responses[name] = variations
        return name

    def _action(self, name: str) -> str:
        self.actions.append(name)
        return name

    def _detail_slot(self, prefix: str, flow_id: str, noun: str, index: int) -> str:
        name = f"{prefix}_detail"
        entity = DETAIL_ENTITIES[index % len(DETAIL_ENTITIES)]
        self.slots[name] = {
            "type": "text",
            "mappings": [
                {"type": "from_entity", "entity": entity, "conditions": [{"active_flow": flow_id}]}
            ],
        }
        self._response(
            f"utter_ask_{name}",
            f"Which {entity} is this {noun} for?",
            f"Tell me the {entity} for the {noun}, please.",
        )
        return name

    def _amount_slot(self, prefix: str, flow_id: str, noun: str) -> str:
        name = f"{prefix}_amount"
        self.slots[name] = {
            "type": "float",
            "min_value": 0.0,
            "max_value": 100000.0,
            "mappings": [
                {
                    "type": "from_entity",
                    "entity": "amount",
                    "conditions": [{"active_flow": flow_id}],
                }
            ],
        }
        self._response(f"utter_ask_{name}", f"How much is the {noun}?")
        return name

    def _confirm_slot(self, prefix: str, flow_id: str, noun: str) -> str:
        name = f"{prefix}_confirmed"
        if self.has_affirm_deny:
            mappings: list[dict[str, Any]] = [
                {
                    "type": "from_intent",
                    "intent": intent,
                    "value": value,
                    "conditions": [{"active_flow": flow_id}],
                }
                for intent, value in (("affirm", True), ("deny", False))
            ]
            buttons = [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]
        else:
            mappings = [{"type": "from_llm"}]
            buttons = [
                {"title": "Yes", "payload": f"/SetSlots({name}=true)"},
                {"title": "No", "payload": f"/SetSlots({name}=false)"},
            ]
        self.slots[name] = {"type": "bool", "mappings": mappings}
        self._response(f"utter_ask_{name}", f"Shall I go ahead with the {noun}?", buttons=buttons)
        return name

    def _choice_slot(self, prefix: str) -> str:
        name = f"{prefix}_handling"
        self.slots[name] = {
            "type": "categorical",
            "values": list(CHOICES),
            "mappings": [{"type": "controlled"}],
        }
        return name

    # -- flows

    def main_flow(
        self,
        index: int,
        flow_id: str,
        trigger: str | None,
        *,
        call_target: str | None,
        link_target: str | None,
    ) -> dict[str, Any]:
        rng = self.rng
        noun = flow_id.rsplit("_", 1)[-1]
        prefix = f"f{index:03d}"
        detail = self._detail_slot(prefix, flow_id, noun, index)
        steps: list[dict[str, Any]] = [
            {"collect": detail, "description": f"the detail that identifies the {noun}"}
        ]
        if call_target:
            steps.append({"call": call_target})

        custom_action = self._action(f"action_{prefix}_{noun}")
        done = self._response(
            f"utter_{prefix}_done",
            f"Your {noun} for {{{detail}}} is sorted.",
            f"All done with the {noun}.",
        )
        if index % 3 != 2:
            amount = self._amount_slot(prefix, flow_id, noun)
            confirm = self._confirm_slot(prefix, flow_id, noun)
            handling = self._choice_slot(prefix)
            invalid = self._response(
                f"utter_{prefix}_invalid_amount", "The amount must be positive."
            )
            cancelled = self._response(
                f"utter_{prefix}_cancelled", f"Okay, the {noun} is cancelled."
            )
            threshold = rng.choice([100, 250, 500, 1000, 2500])
            steps.append(
                {
                    "collect": amount,
                    "description": f"the amount for the {noun}",
                    "rejections": [{"if": f"slots.{amount} <= 0", "utter": invalid}],
                }
            )
            steps.append(
                {
                    "collect": confirm,
                    "ask_before_filling": True,
                    "next": [
                        {
                            "if": f"slots.{confirm} is true and slots.{amount} > {threshold}",
                            "then": [
                                {"set_slots": [{handling: "review"}]},
                                {"action": custom_action, "next": "finish"},
                            ],
                        },
                        {
                            "if": f"slots.{confirm} is true",
                            "then": [
                                {"set_slots": [{handling: rng.choice(CHOICES[:2])}], "next": "run"}
                            ],
                        },
                        {"else": [{"action": cancelled, "next": "END"}]},
                    ],
                }
            )
            steps.append({"id": "run", "action": custom_action})
            steps.append({"id": "finish", "action": done})
        else:
            steps.append({"action": custom_action})
            steps.append({"action": done})
        if link_target:
            steps.append({"link": link_target})

        verb = flow_id.split("_")[2]
        flow: dict[str, Any] = {
            "name": f"{verb} {noun}",
            "description": f"Help the user {verb} their {noun}.",
        }
        if trigger:
            threshold = rng.choice([0.0, 0.4, 0.5, 0.6])
            flow["nlu_trigger"] = [{"intent": {"name": trigger, "confidence_threshold": threshold}}]
        flow["steps"] = steps
        return flow

    def helper_flow(self, index: int, flow_id: str) -> dict[str, Any]:
        noun = flow_id.rsplit("_", 1)[-1]
        prefix = f"f{index:03d}"
        detail = self._detail_slot(prefix, flow_id, noun, index)
        action = self._action(f"action_{prefix}_{noun}")
        done = self._response(f"utter_{prefix}_done", f"The {noun} check is complete.")
        return {
            "name": f"{noun} check",
            "description": f"Reusable check of the {noun}; only started by other flows.",
            "if": False,
            "steps": [
                {"collect": detail, "description": f"the {noun} to check"},
                {"action": action},
                {"action": done},
            ],
        }


def _flow_id(kind: str, index: int, rng: random.Random, intent: str | None = None) -> str:
    """`flow_007_renew_plan`: named after the triggering intent when there is one."""
    if intent and intent.count("_") == 1:
        return f"{kind}_{index:03d}_{intent}"
    return f"{kind}_{index:03d}_{rng.choice(VERBS)}_{rng.choice(NOUNS)}"


# --------------------------------------------------------------------------- NLU


def _intent_names(count: int, rng: random.Random) -> list[str]:
    pairs = [f"{verb}_{noun}" for verb in VERBS for noun in NOUNS]
    rng.shuffle(pairs)
    fixed = ["affirm", "deny", "inform"] if count >= 3 else []
    names = list(fixed)
    for i in range(count - len(fixed)):
        base = pairs[i % len(pairs)]
        names.append(base if i < len(pairs) else f"{base}_{i // len(pairs)}")
    return names


def _nlu(
    intents: list[str], total: int, rng: random.Random, has_affirm_deny: bool
) -> list[dict[str, Any]]:
    per_intent, extra = divmod(total, len(intents))
    items: list[dict[str, Any]] = []
    for i, intent in enumerate(intents):
        wanted = per_intent + (1 if i < extra else 0)
        if has_affirm_deny and intent in ("affirm", "deny"):
            make = _affirm_deny_maker(AFFIRM if intent == "affirm" else DENY, rng)
        elif has_affirm_deny and intent == "inform":
            make = _inform_maker(rng)
        else:
            make = _request_maker(intent, rng)
        seen: set[str] = set()
        lines: list[str] = []
        attempts = 0
        while len(lines) < wanted:
            text = make()
            attempts += 1
            if text in seen:
                if attempts < wanted * 20:
                    continue
                text = f"{text} (variant {len(lines)})"
            seen.add(text)
            lines.append(text)
        block = "".join(f"- {line}\n" for line in lines)
        items.append({"intent": intent, "examples": LiteralScalarString(block)})
    items.append({"regex": "amount", "examples": LiteralScalarString("- \\b\\d{1,6}\\b\n")})
    for entity in DETAIL_ENTITIES:
        block = "".join(f"- {value}\n" for value in ENTITY_VALUES[entity])
        items.append({"lookup": entity, "examples": LiteralScalarString(block)})
    return items


def _annotated(entity: str, rng: random.Random) -> str:
    return f"[{rng.choice(ENTITY_VALUES[entity])}]({entity})"


def _request_maker(intent: str, rng: random.Random):
    verb, _, noun = intent.partition("_")
    noun = noun.rsplit("_", 1)[0] if noun.rsplit("_", 1)[-1].isdigit() else noun

    def make() -> str:
        text = f"{rng.choice(PREFIXES)}{verb} {rng.choice(DETERMINERS)} {noun}"
        roll = rng.random()
        if roll < 0.2:
            entity = rng.choice(DETAIL_ENTITIES)
            joiner = {"person": "for", "place": "in", "item": "for the"}[entity]
            text = f"{text} {joiner} {_annotated(entity, rng)}"
        elif roll < 0.3:
            text = f"{text} of [{rng.randrange(5, 5000)}](amount) dollars"
        elif roll < 0.35 and len(noun) > 4:
            cut = rng.randrange(1, len(noun) - 1)
            text = text.replace(noun, noun[:cut] + noun[cut + 1 :], 1)  # a typo
        return (text + rng.choice(SUFFIXES)).strip()

    return make


def _affirm_deny_maker(words: list[str], rng: random.Random):
    def make() -> str:
        return f"{rng.choice(words)}{rng.choice(AFFIRM_DENY_TAILS)}"

    return make


def _inform_maker(rng: random.Random):
    def make() -> str:
        roll = rng.random()
        if roll < 0.3:
            return f"[{rng.randrange(1, 9999)}](amount)"
        entity = rng.choice(DETAIL_ENTITIES)
        lead = rng.choice(["", "it's ", "it is ", "that would be ", "the answer is "])
        return f"{lead}{_annotated(entity, rng)}"

    return make


# --------------------------------------------------------------------------- config


def _config(seed: int) -> dict[str, Any]:
    return {
        "recipe": "default.v1",
        "language": "en",
        "assistant_id": f"reference_{seed}",
        "pipeline": [
            {"name": "WhitespaceTokenizer"},
            {"name": "CountVectorsFeaturizer", "analyzer": "word", "min_ngram": 1, "max_ngram": 2},
            {
                "name": "CountVectorsFeaturizer",
                "analyzer": "char_wb",
                "min_ngram": 2,
                "max_ngram": 4,
            },
            {"name": "LogisticRegressionClassifier"},
            {"name": "RegexEntityExtractor", "use_lookup_tables": True, "use_regexes": True},
            {"name": "NLUCommandAdapter"},
        ],
        "policies": [{"name": "FlowPolicy"}],
    }


def _endpoints() -> dict[str, Any]:
    return {
        "action_endpoint": {"url": "http://localhost:5055/webhook"},
        "event_broker": {"type": "file", "path": "rasa_events.jsonl"},
    }


def _dump(data: Any) -> str:
    yaml = YAML()
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    stream = io.StringIO()
    yaml.dump(data, stream)
    return stream.getvalue()
