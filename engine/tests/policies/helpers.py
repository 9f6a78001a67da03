"""Small classic projects as Rasa YAML, trained policies and Rasa event lists for them."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from typing import Any

from engine.formats import load_project_files
from engine.policies import PolicyEnsemble

DOMAIN = """
version: "3.1"
intents: [greet, goodbye, faq, inform, book, stop, affirm, deny, bot_challenge, thanks]
entities: [city, count]
slots:
  city:
    type: text
    mappings: [{type: from_entity, entity: city}]
  vip:
    type: bool
    mappings: [{type: custom}]
  count:
    type: float
    min_value: 0
    max_value: 10
    mappings: [{type: from_entity, entity: count}]
  notes:
    type: any
    mappings: [{type: custom}]
forms:
  booking_form:
    required_slots: [city]
responses:
  utter_greet: [{text: hi}]
  utter_goodbye: [{text: bye}]
  utter_faq: [{text: answer}]
  utter_vip: [{text: welcome back}]
  utter_plain: [{text: hello}]
  utter_iamabot: [{text: I am a bot}]
  utter_welcome: [{text: welcome}]
  utter_city: [{text: nice city}]
  utter_done: [{text: booked}]
  utter_first: [{text: first}]
  utter_second: [{text: second}]
  utter_thanks: [{text: you are welcome}]
actions: [action_check]
"""


def project(stories: str = "", rules: str = "", policies: str = "", domain: str = DOMAIN):
    return load_project_files(project_files(stories, rules, policies, domain))


def project_files(
    stories: str = "", rules: str = "", policies: str = "", domain: str = DOMAIN
) -> dict[str, str]:
    """A classic project's files: the domain, config.yml with `policies`, stories and rules."""
    files = {
        "domain.yml": textwrap.dedent(domain),
        "config.yml": "recipe: default.v1\nlanguage: en\npipeline: []\npolicies:\n"
        + textwrap.indent(textwrap.dedent(policies), "  "),
    }
    if stories:
        files["data/stories.yml"] = 'version: "3.1"\nstories:\n' + textwrap.indent(
            textwrap.dedent(stories), "  "
        )
    if rules:
        files["data/rules.yml"] = 'version: "3.1"\nrules:\n' + textwrap.indent(
            textwrap.dedent(rules), "  "
        )
    return files


def train(stories: str = "", rules: str = "", policies: str = "- name: RulePolicy\n", **kw):
    warnings: list[str] = []
    ensemble = PolicyEnsemble.train(project(stories, rules, policies, **kw), warnings.append)
    return ensemble, warnings


def listen() -> dict[str, Any]:
    return action("action_listen")


def action(name: str) -> dict[str, Any]:
    return {"event": "action", "name": name}


def user(intent: str, entities: dict[str, Any] | None = None, confidence: float = 1.0):
    return {
        "event": "user",
        "text": f"/{intent}",
        "parse_data": {
            "intent": {"name": intent, "confidence": confidence},
            "entities": [{"entity": k, "value": v} for k, v in (entities or {}).items()],
        },
    }


def slot(name: str, value: Any) -> dict[str, Any]:
    return {"event": "slot", "name": name, "value": value}


def loop(name: str | None) -> dict[str, Any]:
    return {"event": "active_loop", "name": name}


@dataclass
class Tracker:
    events: list[dict[str, Any]] = field(default_factory=list)


def start(*events: dict[str, Any]) -> Tracker:
    """A conversation as the engine records it: session start, ``action_listen``, `events`."""
    return Tracker(
        [action("action_session_start"), {"event": "session_started"}, listen(), *events]
    )
