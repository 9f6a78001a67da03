"""The command generator's prompt: what the LLM is told about the assistant and the
conversation, rendered from a Jinja template.

The template gets the variables Rasa 3.21's single-step generators give theirs, so a project's
own ``prompt_template`` file renders here as it does in Rasa Pro:

``available_flows``   the startable flows: ``[{name, description, slots: [{name,
                      description, allowed_values}]}]`` (all, or the top-k of flow retrieval)
``current_flow``      the active flow's id (None outside a flow)
``current_slot``, ``current_slot_description``, ``current_slot_type``,
``current_slot_allowed_values``   the slot being asked for
``flow_slots``        the active flow's slots: ``[{name, value, type, description,
                      allowed_values}]`` (value ``undefined`` when unset)
``current_conversation``  the transcript, ``USER: ...`` / ``AI: ...`` lines
``user_message``      the latest message
``current_datetime``  when the component says ``include_date_time: true``

Templates are rendered in Jinja's sandbox (they are authored by the assistant's editors);
the filter ``to_json_escaped_string`` is available as in Rasa.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import TemplateError
from jinja2.sandbox import SandboxedEnvironment

__all__ = ["DEFAULT_TEMPLATES", "PromptError", "PromptTemplate", "current_datetime"]

#: How the actions are written in each command syntax, for the default template.
_ACTIONS = {
    "v1": [
        ("StartFlow(flow_name)", "start a flow, e.g. StartFlow(transfer_money)"),
        (
            "SetSlot(slot_name, slot_value)",
            "fill or change a slot, e.g. SetSlot(recipient, Freddy)",
        ),
        ("CancelFlow()", "cancel the active flow"),
        ("Clarify(flow_a, flow_b)", "ask which of several flows the user means"),
        ("SkipQuestion()", "the user wants to skip the question being asked"),
        ("SearchAndReply()", "answer a knowledge question"),
        ("ChitChat()", "answer small talk"),
        ("HumanHandoff()", "the user asks for a human"),
        ("RepeatLastBotMessages()", "repeat what the assistant just said"),
    ],
    "v2": [
        ("start flow flow_name", "start a flow, e.g. start flow transfer_money"),
        ("set slot slot_name slot_value", "fill or change a slot, e.g. set slot recipient Freddy"),
        ("cancel flow", "cancel the active flow"),
        ("disambiguate flows flow_a flow_b", "ask which of several flows the user means"),
        ("skip question", "the user wants to skip the question being asked"),
        ("provide info", "answer a question about the business or its services"),
        ("offtopic reply", "answer small talk that no flow is about"),
        ("hand over", "the user asks for a human"),
        ("repeat message", "repeat what the assistant just said"),
    ],
}
_ACTIONS["v3"] = [
    (a, d) if a != "provide info" else ("search and reply", "answer from the knowledge base")
    for a, d in _ACTIONS["v2"]
    if a != "offtopic reply"
]

_TEMPLATE = """\
You turn a user's message into actions for an assistant that runs business processes \
called flows. Write one action per line and nothing else.

Flows you may start:
{%- for flow in available_flows %}
- {{ flow.name }}: {{ flow.description or "(no description)" }}
{%- for slot in flow.slots %}
    slot {{ slot.name }}{% if slot.description %}: {{ slot.description }}{% endif %}\
{% if slot.allowed_values %} (one of {{ slot.allowed_values }}){% endif %}
{%- endfor %}
{%- endfor %}

{% if current_flow %}Active flow: {{ current_flow }}.
{%- if current_slot %} The assistant just asked for the slot {{ current_slot }}\
{% if current_slot_description %} ({{ current_slot_description }}){% endif %}.{% endif %}
{%- if flow_slots %}
Slots of the active flow:
{%- for slot in flow_slots %}
- {{ slot.name }} = {{ slot.value }} ({{ slot.type }}{% if slot.allowed_values %}, one of \
{{ slot.allowed_values }}{% endif %})
{%- endfor %}
{%- endif %}
{%- else %}No flow is active: to set a slot, start its flow first.{% endif %}

Actions:
{%- for action, meaning in actions %}
- `{{ action }}`: {{ meaning }}
{%- endfor %}

Rules: use only what the user said; set slots of categorical type to one of their values; \
booleans are True or False; text values exactly as the user wrote them; do not cancel a flow \
unless the user asks to.

Conversation:
{{ current_conversation }}

The user's last message: \"\"\"{{ user_message }}\"\"\"
Actions:
"""

DEFAULT_TEMPLATES = dict.fromkeys(_ACTIONS, _TEMPLATE)


class PromptError(ValueError):
    """A prompt template that does not compile or render; the message says where."""


def _json_string(value: Any) -> str:
    return json.dumps("" if value is None else str(value), ensure_ascii=False)


_ENV = SandboxedEnvironment(autoescape=False, keep_trailing_newline=True)
_ENV.filters["to_json_escaped_string"] = _json_string


class PromptTemplate:
    """A compiled prompt template; ``render(**inputs)`` gives the prompt."""

    def __init__(self, text: str, source: str = "the prompt template") -> None:
        self.source = source
        try:
            self.template = _ENV.from_string(text)
        except TemplateError as exc:
            line = getattr(exc, "lineno", None)
            where = f"{source}:{line}" if line else source
            raise PromptError(f"{where}: {exc}") from exc

    def render(self, syntax: str, **inputs: Any) -> str:
        try:
            return self.template.render(actions=_ACTIONS.get(syntax, _ACTIONS["v2"]), **inputs)
        except Exception as exc:  # a template is user input: whatever it raises is its error
            raise PromptError(f"{self.source}: {type(exc).__name__}: {exc}") from exc


def current_datetime(timezone: str | None) -> datetime:
    return datetime.now(ZoneInfo(timezone or "UTC"))
