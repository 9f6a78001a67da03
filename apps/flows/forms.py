"""Forms of the flow builder and the CMS pages (issue 7).

Forms parse and normalise: a step form's `build_step()` returns the step dict in Rasa's shape,
a condition editor returns condition text. Repeated rows (branches, rejections, set-slot pairs,
trigger intents, buttons) arrive as parallel lists of values and are read here, never in views.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django import forms

from apps.flows import services
from apps.flows.models import CustomAction, Flow, Response, Slot
from engine import formats
from engine.formats import (
    END,
    SLOT_TYPES,
    ConditionError,
    SimpleCondition,
    build_condition,
    decompose_condition,
    parse_condition,
)

limits = formats.limits  # length limits, one place for every field

STEP_ID_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")
NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")

OPERATORS = [
    ("=", "is"),
    ("!=", "is not"),
    (">", ">"),
    (">=", "≥"),
    ("<", "<"),
    ("<=", "≤"),
    ("contains", "contains"),
    ("matches", "matches"),
    ("is set", "is set"),
    ("is not set", "is not set"),
    ("true", "is true"),
    ("false", "is false"),
]
_VALUELESS = {"is set", "is not set", "true", "false"}


def _rows(data, *names: str) -> list[tuple[str, ...]]:
    """Parallel lists of values from form data as rows (blank rows dropped)."""
    columns = [data.getlist(n) if hasattr(data, "getlist") else [] for n in names]
    length = max((len(c) for c in columns), default=0)
    rows = []
    for i in range(length):
        row = tuple((c[i] if i < len(c) else "").strip() for c in columns)
        if any(row):
            rows.append(row)
    return rows


def typed_value(raw: str, slot_type: str | None) -> Any:
    """A value typed in a form, as the slot holds it."""
    text = raw.strip()
    if text.lower() in ("null", "none"):
        return None
    if slot_type == "bool":
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        raise forms.ValidationError(f"{text!r} is not true or false.")
    if slot_type == "float":
        try:
            number = float(text)
        except ValueError:
            raise forms.ValidationError(f"{text!r} is not a number.") from None
        return int(number) if re.fullmatch(r"[-+]?\d+", text) else number
    return text


# --------------------------------------------------------------------------------------------
# Conditions built in a form: slot, operator, value rows joined by and/or, or written out


@dataclass
class ConditionRow:
    slot: str = ""
    operator: str = "="
    value: str = ""


class ConditionEditor:
    """One condition in a form, under `prefix`: rows `<prefix>-slot/-op/-value`, the
    connective `<prefix>-join`, or the text `<prefix>-text` (which wins when filled)."""

    operators = OPERATORS

    def __init__(self, prefix: str, slots: dict[str, str], initial: str | bool | None = None):
        self.prefix = prefix
        self.slots = slots
        self.rows: list[ConditionRow] = []
        self.join = "and"
        self.text = ""
        self.error = ""
        if initial is not None and initial != "":
            text = str(initial).lower() if isinstance(initial, bool) else initial
            try:
                decomposed = decompose_condition(text)
            except ConditionError:
                decomposed = None
            if decomposed is None:
                self.text = text
            else:
                clauses, self.join = decomposed
                self.rows = [
                    ConditionRow(c.slot, c.operator, "" if c.value is None else _plain(c.value))
                    for c in clauses
                ]

    @property
    def slot_names(self) -> list[str]:
        return sorted(self.slots)

    @property
    def display_rows(self) -> list[ConditionRow]:
        return [*self.rows, ConditionRow()] if not self.text else self.rows

    def read(self, data) -> str | None:
        """The condition text from the submitted form (None when left empty); sets `error`."""
        self.text = (data.get(f"{self.prefix}-text") or "").strip()
        self.join = data.get(f"{self.prefix}-join") or "and"
        self.rows = [
            ConditionRow(slot, op or "=", value)
            for slot, op, value in _rows(
                data, f"{self.prefix}-slot", f"{self.prefix}-op", f"{self.prefix}-value"
            )
            if slot
        ]
        if self.text:
            try:
                parse_condition(self.text)
            except ConditionError as exc:
                self.error = (
                    f"This condition does not parse: {exc.reason} at position {exc.position}."
                )
                return None
            return self.text
        if not self.rows:
            return None
        clauses = []
        for row in self.rows:
            if row.slot not in self.slots:
                self.error = f"There is no slot called {row.slot}."
                return None
            if row.operator not in dict(OPERATORS):
                self.error = f"Unknown operator {row.operator}."
                return None
            value: Any = None
            if row.operator not in _VALUELESS:
                try:
                    value = (
                        row.value
                        if row.operator in ("matches", "contains")
                        else typed_value(row.value, self.slots[row.slot])
                    )
                except forms.ValidationError as exc:
                    self.error = f"{row.slot}: {exc.messages[0]}"
                    return None
            clauses.append(SimpleCondition(row.slot, row.operator, value))
        return build_condition(clauses, "or" if self.join == "or" else "and")


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --------------------------------------------------------------------------------------------
# Flows list


class FlowNameField(forms.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("label", "Flow id")
        kwargs.setdefault("max_length", limits.NAME)
        kwargs.setdefault(
            "help_text", "Letters, digits, underscores and hyphens, e.g. transfer_money."
        )
        super().__init__(**kwargs)


class _AssistantForm(forms.Form):
    def __init__(self, *args, assistant, **kwargs):
        super().__init__(*args, **kwargs)
        self.assistant = assistant


class FlowCreateForm(_AssistantForm):
    name = FlowNameField()
    title = forms.CharField(label="Name", required=False, max_length=limits.TITLE)
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=limits.DESCRIPTION,
        help_text="What the flow does; the assistant uses it to decide when to start the flow.",
    )

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        problem = services.check_flow_name(self.assistant, name)
        if problem:
            raise forms.ValidationError(problem)
        return name


class FlowRenameForm(_AssistantForm):
    name = FlowNameField(label="New flow id")

    def __init__(self, *args, flow: Flow, **kwargs):
        super().__init__(*args, **kwargs)
        self.flow = flow

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        problem = services.check_flow_name(self.assistant, name, exclude=self.flow)
        if problem:
            raise forms.ValidationError(problem)
        return name


class FlowDeleteForm(forms.Form):
    confirm_name = forms.CharField(label="Type the flow id to confirm", max_length=255)

    def __init__(self, *args, flow: Flow, **kwargs):
        super().__init__(*args, **kwargs)
        self.flow = flow

    def clean_confirm_name(self):
        value = self.cleaned_data["confirm_name"].strip()
        if value != self.flow.name:
            raise forms.ValidationError(f"Type {self.flow.name} exactly to delete this flow.")
        return value


class FlowStartForm(forms.Form):
    """The start node: name, description, NLU triggers with thresholds, the guard."""

    GUARD_CHOICES = [
        ("always", "Can start any time"),
        ("link_only", "Only via a link, a call or an NLU trigger"),
        ("condition", "Only when a condition holds"),
    ]
    title = forms.CharField(label="Name", required=False, max_length=limits.TITLE)
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=limits.DESCRIPTION,
    )
    guard = forms.ChoiceField(choices=GUARD_CHOICES, widget=forms.RadioSelect, initial="always")

    def __init__(self, *args, flow: Flow, slots: dict[str, str], intents: list[str], **kwargs):
        definition = flow.definition or {}
        guard = definition.get("if")
        initial = {
            "title": definition.get("name", ""),
            "description": definition.get("description", ""),
            "guard": "always"
            if guard is None or guard is True
            else ("link_only" if guard is False else "condition"),
        }
        super().__init__(*args, initial=initial, **kwargs)
        self.flow = flow
        self.intents = intents
        self.condition = ConditionEditor("guard", slots, guard if isinstance(guard, str) else None)
        self.triggers = []
        for trigger in definition.get("nlu_trigger") or []:
            intent = trigger.get("intent") if isinstance(trigger, dict) else trigger
            threshold = ""
            if isinstance(intent, dict):
                threshold = intent.get("confidence_threshold", "")
                intent = intent.get("name")
            self.triggers.append({"intent": intent, "threshold": threshold})
        self.trigger_error = ""

    @property
    def trigger_rows(self):
        return [*self.triggers, {"intent": "", "threshold": ""}]

    def clean(self):
        data = super().clean()
        triggers = []
        self.triggers = []
        for intent, threshold in _rows(self.data, "trigger-intent", "trigger-threshold"):
            self.triggers.append({"intent": intent, "threshold": threshold})
            if not intent:
                continue
            if threshold:
                try:
                    value = float(threshold)
                except ValueError:
                    value = -1
                if not 0 <= value <= 1:
                    self.trigger_error = f"The threshold for {intent} must be between 0 and 1."
                    self.add_error(None, self.trigger_error)
                    continue
                triggers.append({"intent": {"name": intent, "confidence_threshold": value}})
            else:
                triggers.append({"intent": intent})
        data["nlu_trigger"] = triggers
        if data.get("guard") == "condition":
            text = self.condition.read(self.data)
            if self.condition.error:
                self.add_error(None, self.condition.error)
            elif text is None:
                self.condition.error = "Build the condition, or choose another option."
                self.add_error(None, self.condition.error)
            data["if"] = text
        else:
            self.condition.read(self.data)
            data["if"] = False if data.get("guard") == "link_only" else None
        return data

    def definition(self) -> dict:
        """The flow definition with the start node's fields replaced."""
        data = self.cleaned_data
        out: dict[str, Any] = {}
        if data.get("title"):
            out["name"] = data["title"]
        out["description"] = data.get("description") or ""
        if data.get("if") is not None:
            out["if"] = data["if"]
        if data.get("nlu_trigger"):
            out["nlu_trigger"] = data["nlu_trigger"]
        for key, value in (self.flow.definition or {}).items():
            if key not in ("name", "description", "if", "nlu_trigger"):
                out[key] = value
        return out


# --------------------------------------------------------------------------------------------
# Steps

STEP_KINDS = [
    ("message", "Message", "Send a response"),
    ("collect", "Collect", "Ask for a slot value"),
    ("action", "Custom action", "Run code on the action server"),
    ("logic", "Logic", "Branch on conditions"),
    ("set_slots", "Set slots", "Give slots values"),
    ("link", "Link", "Hand over to another flow (ends this one)"),
    ("call", "Call", "Run another flow, then come back"),
]
KIND_OF_FIELD = {
    "collect": "slot",
    "utter": "question",
    "rejections": "rejections",
    "set_slots": "set_slots",
    "link": "flow",
    "call": "flow",
    "id": "step_id",
    "next": "next_target",
}
NEW = "__new__"
KEEP = "__keep__"


def step_kind(step: dict) -> str:
    if "action" in step:
        return "message" if str(step["action"]).startswith("utter_") else "action"
    for kind in ("collect", "link", "call", "set_slots"):
        if kind in step:
            return kind
    return "logic"


class StepForm(forms.Form):
    """Adds or edits one step of kind `kind`. `step` is the step being edited (None to add);
    `context` gives the names to pick from (slots with types, responses, actions, flows,
    step ids)."""

    step_id = forms.CharField(
        label="Label (step id)",
        required=False,
        max_length=limits.NAME,
        help_text="Name the step to jump to it from elsewhere.",
    )
    next_target = forms.ChoiceField(label="Then", required=False)

    def __init__(self, *args, kind: str, step: dict | None, context: dict, **kwargs):
        self.kind = kind
        self.step = step or {}
        self.ctx = context
        initial = {"step_id": self.step.get("id", "")}
        nxt = self.step.get("next")
        initial["next_target"] = nxt if isinstance(nxt, str) else ""
        super().__init__(*args, initial=initial, **kwargs)
        self.has_branches = kind == "logic" or isinstance(nxt, list)
        self.fields["next_target"].choices = [
            ("", "Continue with the next step"),
            (END, "End the flow"),
            *[(sid, f"Go to {label}") for sid, label in context["step_choices"]],
        ]
        if kind == "link" or self.has_branches:
            del self.fields["next_target"]
        getattr(self, f"_fields_{kind}")()
        self.branches: list[dict] = []
        self.else_target = KEEP
        if self.has_branches:
            self._init_branches(nxt if isinstance(nxt, list) else [])
        self.rejections = [
            {"if": r.get("if", ""), "utter": r.get("utter", "")}
            for r in self.step.get("rejections") or []
            if isinstance(r, dict)
        ]
        self.set_slot_rows = [
            {"slot": k, "value": "null" if v is None else _plain(v)}
            for item in self.step.get("set_slots") or []
            if isinstance(item, dict)
            for k, v in item.items()
        ]
        self.row_errors: dict[str, str] = {}

    # -- per kind fields

    def _choice(self, name, label, names, *, new_label=None, initial=None, required=True):
        choices = [(n, n) for n in names]
        if new_label:
            choices = [(NEW, new_label), *choices]
        elif not required:
            choices = [("", "—"), *choices]
        self.fields[name] = forms.ChoiceField(
            label=label, choices=choices, required=False, initial=initial
        )

    def _fields_message(self):
        current = self.step.get("action")
        self._choice(
            "response",
            "Response",
            self.ctx["responses"],
            new_label="Create a new response…",
            initial=current or NEW,
        )
        self.fields["new_response"] = forms.CharField(
            label="New response name",
            required=False,
            initial="utter_",
            max_length=limits.NAME,
        )
        self.fields["new_text"] = forms.CharField(
            label="Text",
            required=False,
            widget=forms.Textarea(attrs={"rows": 2}),
            max_length=limits.TEXT,
        )

    def _fields_action(self):
        self._choice(
            "action",
            "Custom action",
            self.ctx["actions"],
            new_label="Create a new custom action…",
            initial=self.step.get("action") or NEW,
        )
        self.fields["new_action"] = forms.CharField(
            label="New action name",
            required=False,
            initial="action_",
            max_length=limits.NAME,
        )

    def _fields_collect(self):
        slot = self.step.get("collect")
        self._choice(
            "slot",
            "Slot",
            list(self.ctx["slots"]),
            new_label="Create a new slot…",
            initial=slot or NEW,
        )
        self.fields["new_slot"] = forms.CharField(
            label="New slot name", required=False, max_length=limits.NAME
        )
        self.fields["new_slot_type"] = forms.ChoiceField(
            label="New slot type",
            choices=[(t, t) for t in SLOT_TYPES],
            required=False,
            initial="text",
        )
        utter = self.step.get("utter") or (f"utter_ask_{slot}" if slot else "")
        variations = self.ctx["response_variations"].get(utter) or []
        first = variations[0] if variations and isinstance(variations[0], dict) else {}
        self.fields["question"] = forms.CharField(
            label="Question",
            required=False,
            widget=forms.Textarea(attrs={"rows": 2}),
            max_length=limits.TEXT,
            initial=first.get("text", ""),
            help_text=f"The text of {utter or 'utter_ask_<slot>'}.",
        )
        self.fields["buttons"] = forms.CharField(
            label="Buttons",
            required=False,
            widget=forms.Textarea(attrs={"rows": 2}),
            max_length=limits.TEXT,
            initial="\n".join(
                f"{b.get('title', '')} = {b.get('payload', '')}"
                for b in first.get("buttons") or []
                if isinstance(b, dict)
            ),
            help_text="One per line: Title = payload (e.g. Yes = /SetSlots(confirm=true)).",
        )
        self.fields["description"] = forms.CharField(
            label="Description",
            required=False,
            max_length=limits.DESCRIPTION,
            initial=self.step.get("description", ""),
            help_text="Helps the assistant fill the slot from what the user says.",
        )
        self.fields["ask_before_filling"] = forms.BooleanField(
            label="Always ask, even if the slot is already filled",
            required=False,
            initial=self.step.get("ask_before_filling", False),
        )
        self.fields["reset_after_flow_ends"] = forms.BooleanField(
            label="Reset the slot when the flow ends",
            required=False,
            initial=self.step.get("reset_after_flow_ends", True),
        )

    def _fields_set_slots(self):
        pass

    def _fields_link(self):
        self._choice(
            "flow", "Flow", self.ctx["flows"], initial=self.step.get("link"), required=False
        )

    def _fields_call(self):
        self._choice(
            "flow", "Flow", self.ctx["flows"], initial=self.step.get("call"), required=False
        )

    def _fields_logic(self):
        self.fields["description"] = forms.CharField(
            label="Description",
            required=False,
            max_length=limits.DESCRIPTION,
            initial=self.step.get("description", ""),
        )

    def _init_branches(self, branches: list):
        slots = self.ctx["slots"]
        for index, branch in enumerate(branches):
            if not isinstance(branch, dict):
                continue
            if "else" in branch:
                target = branch["else"]
                self.else_target = target if isinstance(target, str) else KEEP
                continue
            target = branch.get("then")
            self.branches.append(
                {
                    "index": index,
                    "condition": ConditionEditor(f"b{index}", slots, branch.get("if")),
                    "target": target if isinstance(target, str) else KEEP,
                    "has_steps": isinstance(target, list),
                    "remove": False,
                }
            )
        new_index = len(branches) + 1
        self.branches.append(
            {
                "index": new_index,
                "condition": ConditionEditor(f"b{new_index}", slots),
                "target": END,
                "has_steps": False,
                "new": True,
                "remove": False,
            }
        )

    # -- cleaning

    def clean_step_id(self):
        value = self.cleaned_data["step_id"].strip()
        if value and not STEP_ID_RE.match(value):
            raise forms.ValidationError("Use letters, digits, underscores and hyphens.")
        if value and value != self.step.get("id") and value in self.ctx["explicit_ids"]:
            raise forms.ValidationError(f"Another step is already labelled {value}.")
        return value

    def clean(self):
        data = super().clean()
        self.additions = services.Additions()
        getattr(self, f"_clean_{self.kind}")(data)
        if self.has_branches:
            self._clean_branches()
        return data

    def _new_name(self, field: str, prefix: str, existing: list[str]) -> str | None:
        name = (self.cleaned_data.get(field) or "").strip()
        if not name or name == prefix:
            self.add_error(field, "Give the new item a name.")
            return None
        if not NAME_RE.match(name):
            self.add_error(field, "Use letters, digits, '_', '-' and '.', with no spaces.")
            return None
        if name in existing:
            self.add_error(field, f"{name} already exists: pick it from the list.")
            return None
        return name

    def _clean_message(self, data):
        if data.get("response") in (None, "", NEW):
            name = self._new_name("new_response", "utter_", self.ctx["responses"])
            text = (data.get("new_text") or "").strip()
            if name and not name.startswith("utter_"):
                self.add_error("new_response", "A response name starts with utter_.")
            elif name and not text:
                self.add_error("new_text", "Write what the assistant says.")
            elif name:
                self.additions.responses[name] = [{"text": text}]
                data["response"] = name
        elif data["response"] not in self.ctx["responses"]:
            self.add_error("response", "Pick a response.")

    def _clean_action(self, data):
        if data.get("action") in (None, "", NEW):
            name = self._new_name("new_action", "action_", self.ctx["actions"])
            if name:
                self.additions.actions.append(name)
                data["action"] = name
        elif data["action"] not in self.ctx["actions"]:
            self.add_error("action", "Pick a custom action.")

    def _clean_collect(self, data):
        slots = self.ctx["slots"]
        if data.get("slot") in (None, "", NEW):
            name = self._new_name("new_slot", "", list(slots))
            if name:
                self.additions.slots[name] = {
                    "type": data.get("new_slot_type") or "text",
                    "mappings": [{"type": "from_llm"}],
                }
                data["slot"] = name
        slot = data.get("slot")
        if not slot or slot == NEW:
            return
        utter = self.step.get("utter") or f"utter_ask_{slot}"
        question = (data.get("question") or "").strip()
        buttons = []
        for line in (data.get("buttons") or "").splitlines():
            if not line.strip():
                continue
            title, sep, payload = line.partition("=")
            if not sep or not title.strip():
                self.add_error("buttons", f"Write {line.strip()!r} as Title = payload.")
                return
            buttons.append({"title": title.strip(), "payload": payload.strip()})
        existing = self.ctx["response_variations"].get(utter)
        if question or buttons:
            variations = [dict(v) for v in existing or [{}]]
            if question:
                variations[0]["text"] = question
            if buttons or "buttons" in variations[0]:
                if buttons:
                    variations[0]["buttons"] = buttons
                else:
                    variations[0].pop("buttons")
            if variations != existing:
                self.additions.responses[utter] = variations
        elif existing is None and f"action_ask_{slot}" not in self.ctx["actions"]:
            self.add_error("question", f"Write the question that asks for {slot}.")
        rejections = []
        for condition, response in _rows(self.data, "rejection-if", "rejection-utter"):
            if not condition or not response:
                self.row_errors["rejections"] = "Each rejection needs a condition and a response."
                self.add_error(None, self.row_errors["rejections"])
                continue
            try:
                parse_condition(condition)
            except ConditionError as exc:
                self.row_errors["rejections"] = (
                    f"The rejection condition {condition!r} does not parse: {exc.reason}."
                )
                self.add_error(None, self.row_errors["rejections"])
                continue
            rejections.append({"if": condition, "utter": response})
        self.rejections = [{"if": r["if"], "utter": r["utter"]} for r in rejections]
        data["rejections"] = rejections

    def _clean_set_slots(self, data):
        pairs = []
        self.set_slot_rows = []
        for slot, value in _rows(self.data, "set-slot", "set-value"):
            self.set_slot_rows.append({"slot": slot, "value": value})
            if slot not in self.ctx["slots"]:
                self.row_errors["set_slots"] = f"There is no slot called {slot}."
                self.add_error(None, self.row_errors["set_slots"])
                continue
            try:
                pairs.append({slot: typed_value(value, self.ctx["slots"][slot])})
            except forms.ValidationError as exc:
                self.row_errors["set_slots"] = f"{slot}: {exc.messages[0]}"
                self.add_error(None, self.row_errors["set_slots"])
        if not pairs and "set_slots" not in self.row_errors:
            self.row_errors["set_slots"] = "Set at least one slot."
            self.add_error(None, self.row_errors["set_slots"])
        data["set_slots"] = pairs

    def _clean_link(self, data):
        if not data.get("flow"):
            self.add_error("flow", "Pick the flow to link to.")

    def _clean_call(self, data):
        if not data.get("flow"):
            self.add_error("flow", "Pick the flow to call.")

    def _clean_logic(self, data):
        pass

    def _clean_branches(self):
        targets = {END, KEEP, *dict(self.ctx["step_choices"])}
        for branch in self.branches:
            prefix = f"b{branch['index']}"
            text = branch["condition"].read(self.data)
            branch["remove"] = bool(self.data.get(f"{prefix}-remove"))
            branch["target"] = self.data.get(f"{prefix}-target") or branch["target"]
            branch["text"] = text
            if branch.get("new") and text is None and not branch["condition"].error:
                continue
            if branch["remove"]:
                continue
            if branch["condition"].error:
                self.add_error(None, branch["condition"].error)
            elif text is None:
                branch["condition"].error = "Build a condition, or remove the branch."
                self.add_error(None, branch["condition"].error)
            if branch["target"] not in targets:
                self.add_error(None, "Pick where the branch goes.")
        self.else_target = self.data.get("else-target") or self.else_target
        if self.else_target not in targets:
            self.add_error(None, "Pick where the Else branch goes.")
        live = [b for b in self.branches if not b["remove"] and b.get("text")]
        if self.kind == "logic" and not live:
            self.add_error(None, "A logic step needs at least one condition.")

    # -- result

    def build_step(self) -> dict:
        """The step as Rasa's YAML has it. Keys the form does not edit are kept."""
        data = self.cleaned_data
        kind = self.kind
        edited = {"id", "next", "description", "action", "collect", "link", "call"}
        edited |= {"set_slots", "noop", "rejections", "ask_before_filling"}
        edited |= {"reset_after_flow_ends"}
        step: dict[str, Any] = {}
        if data.get("step_id"):
            step["id"] = data["step_id"]
        if kind == "message":
            step["action"] = data["response"]
        elif kind == "action":
            step["action"] = data["action"]
        elif kind == "collect":
            step["collect"] = data["slot"]
            if data.get("description"):
                step["description"] = data["description"]
            if data.get("ask_before_filling"):
                step["ask_before_filling"] = True
            if not data.get("reset_after_flow_ends"):
                step["reset_after_flow_ends"] = False
            if data.get("rejections"):
                step["rejections"] = data["rejections"]
        elif kind == "set_slots":
            step["set_slots"] = data["set_slots"]
        elif kind in ("link", "call"):
            step[kind] = data["flow"]
        else:
            step["noop"] = True
            if data.get("description"):
                step["description"] = data["description"]
        for key, value in self.step.items():
            if key not in edited and key not in step:
                step[key] = value
        if self.has_branches:
            step["next"] = self._build_next()
        elif data.get("next_target"):
            step["next"] = data["next_target"]
        return step

    def _build_next(self) -> list:
        old = self.step.get("next") if isinstance(self.step.get("next"), list) else []
        out = []
        for branch in self.branches:
            if branch["remove"] or not branch.get("text"):
                continue
            target = branch["target"]
            if target == KEEP:
                original = old[branch["index"]] if branch["index"] < len(old) else {}
                target = original.get("then", END)
            out.append({"if": branch["text"], "then": target})
        otherwise: Any = self.else_target
        if otherwise == KEEP:
            original_else = next((b for b in old if isinstance(b, dict) and "else" in b), None)
            otherwise = original_else["else"] if original_else else END
        out.append({"else": otherwise})
        return out

    def jump_targets(self) -> list[str]:
        """Step ids this step now jumps to (they must become explicit ids)."""
        targets = []
        if self.has_branches:
            targets = [b["target"] for b in self.branches if not b["remove"]]
            targets.append(self.else_target)
        elif self.cleaned_data.get("next_target"):
            targets.append(self.cleaned_data["next_target"])
        return [t for t in targets if t not in (END, KEEP)]

    def show_problems(self, problems, step_path: str) -> None:
        """Put validation problems (relative to the flow) at their field."""
        for problem in problems:
            rest = None
            if problem.path == step_path:
                rest = ""
            elif problem.path.startswith(step_path + "."):
                rest = problem.path[len(step_path) + 1 :]
            field = None
            if rest:
                key = re.split(r"[.\[]", rest, maxsplit=1)[0]
                field = KIND_OF_FIELD.get(key)
                if key == "action":
                    field = "response" if self.kind == "message" else "action"
            if field in self.fields:
                self.add_error(field, problem.message)
            elif field in ("rejections", "set_slots"):
                self.row_errors[field] = problem.message
                self.add_error(None, problem.message)
            else:
                self.add_error(None, problem.message)


class GotoForm(forms.Form):
    """Connect the end of a branch to another step (a loop or a merge)."""

    target = forms.ChoiceField(label="Go to")

    def __init__(self, *args, step_choices, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target"].choices = [(END, "End the flow"), *step_choices]


# --------------------------------------------------------------------------------------------
# Responses, slots, actions


class ResponseNameForm(_AssistantForm):
    name = forms.CharField(
        max_length=limits.NAME, help_text="Starts with utter_, e.g. utter_greet."
    )

    def __init__(self, *args, response: Response | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.response = response
        if response is not None:
            self.initial.setdefault("name", response.name)

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name.startswith("utter_") or not NAME_RE.match(name):
            raise forms.ValidationError(
                "A response name starts with utter_ and has no spaces (e.g. utter_greet)."
            )
        others = Response.objects.filter(assistant=self.assistant, name=name)
        if self.response is not None:
            others = others.exclude(pk=self.response.pk)
        if others.exists():
            raise forms.ValidationError(f"There is already a response called {name}.")
        return name


BUTTON_KINDS = [
    ("intent", "Intent"),
    ("entity", "Intent with entity"),
    ("slot", "Set slot"),
    ("text", "Free text"),
]


def button_payload(kind: str, a: str, b: str, c: str) -> str:
    """The payload for a button built in the form."""
    if kind == "intent":
        return f"/{a}"
    if kind == "entity":
        return f'/{a}{{"{b}": "{c}"}}'
    if kind == "slot":
        return f"/SetSlots({b}={c})"
    return a


_ENTITY_PAYLOAD_RE = re.compile(
    r'^/(?P<intent>[^{(\s]+)\{"(?P<entity>[^"]+)":\s*"(?P<value>[^"]*)"\}$'
)
_SLOT_PAYLOAD_RE = re.compile(r"^/SetSlots\((?P<slot>[^=,()]+)=(?P<value>[^,()]*)\)$")


def button_parts(payload: str) -> tuple[str, str, str, str]:
    """(kind, intent or text, entity or slot, value) of a payload, for the form."""
    payload = payload or ""
    if m := _SLOT_PAYLOAD_RE.match(payload):
        return "slot", "", m["slot"], m["value"]
    if m := _ENTITY_PAYLOAD_RE.match(payload):
        return "entity", m["intent"], m["entity"], m["value"]
    if re.fullmatch(r"/[A-Za-z0-9_.-]+", payload):
        return "intent", payload[1:], "", ""
    return "text", payload, "", ""


class VariationForm(forms.Form):
    """One variation of a response (the form is prefixed `v<i>`)."""

    text = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=limits.TEXT
    )
    image = forms.URLField(required=False, label="Image URL", assume_scheme="https")
    links = forms.CharField(
        required=False,
        label="Links",
        widget=forms.Textarea(attrs={"rows": 1}),
        help_text="One per line: Title = https://… (shown as buttons that open the page).",
    )
    custom = forms.CharField(
        required=False,
        label="Custom payload (YAML)",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    channel = forms.CharField(required=False, max_length=100)
    rephrase = forms.BooleanField(
        required=False, label="Let the assistant rephrase this text (metadata rephrase: true)"
    )
    delete = forms.BooleanField(required=False, label="Remove this variation")

    def __init__(self, *args, variation: dict | None = None, slots=None, **kwargs):
        variation = variation or {}
        self.original = variation
        buttons = [b for b in variation.get("buttons") or [] if isinstance(b, dict)]
        links = [b for b in buttons if b.get("url")]
        initial = {
            "text": variation.get("text", ""),
            "image": variation.get("image", ""),
            "channel": variation.get("channel", ""),
            "rephrase": bool((variation.get("metadata") or {}).get("rephrase")),
            "links": "\n".join(f"{b.get('title', '')} = {b['url']}" for b in links),
            "custom": _yaml(variation["custom"]) if variation.get("custom") is not None else "",
        }
        super().__init__(*args, initial=initial, **kwargs)
        self.buttons = [
            dict(zip(("kind", "a", "b", "c"), button_parts(b.get("payload", "")), strict=True))
            | {"title": b.get("title", "")}
            for b in buttons
            if not b.get("url")
        ]
        condition = variation.get("condition")
        self.legacy_condition = condition if isinstance(condition, list) else None
        self.condition = ConditionEditor(
            f"{self.prefix}-cond", slots or {}, condition if isinstance(condition, str) else None
        )
        self.button_error = ""

    @property
    def button_rows(self):
        return [*self.buttons, {"kind": "intent", "title": "", "a": "", "b": "", "c": ""}]

    def clean_custom(self):
        text = self.cleaned_data["custom"]
        if not text.strip():
            return None
        from engine.formats import FormatError
        from engine.formats.yamlio import load_yaml

        try:
            value = load_yaml(text, "custom").data
        except FormatError as exc:
            problem = exc.problems[0]
            line = f" (line {problem.line})" if problem.line else ""
            raise forms.ValidationError(
                f"This is not valid YAML{line}: {problem.message}"
            ) from None
        if not isinstance(value, dict):
            raise forms.ValidationError("A custom payload must be a YAML mapping (key: value).")
        return value

    def clean(self):
        data = super().clean()
        p = self.prefix
        self.buttons = []
        out = []
        for kind, title, a, b, c in _rows(
            self.data, f"{p}-btn-kind", f"{p}-btn-title", f"{p}-btn-a", f"{p}-btn-b", f"{p}-btn-c"
        ):
            row = {"kind": kind or "intent", "title": title, "a": a, "b": b, "c": c}
            if not (title or a or b or c):
                continue
            self.buttons.append(row)
            if not title:
                self.button_error = "Each button needs a title."
            elif kind in ("intent", "entity") and not re.fullmatch(r"[A-Za-z0-9_.-]+", a):
                self.button_error = f"Button {title}: name the intent."
            elif kind == "entity" and not (b and c):
                self.button_error = f"Button {title}: name the entity and its value."
            elif kind == "slot" and not (b and c):
                self.button_error = f"Button {title}: name the slot and its value."
            else:
                out.append({"title": title, "payload": button_payload(row["kind"], a, b, c)})
        if self.button_error:
            self.add_error(None, self.button_error)
        for line in (data.get("links") or "").splitlines():
            if not line.strip():
                continue
            title, sep, url = line.partition("=")
            if not sep or not url.strip().startswith(("http://", "https://")):
                self.add_error("links", f"Write {line.strip()!r} as Title = https://…")
                break
            out.append({"title": title.strip(), "url": url.strip(), "type": "web_url"})
        data["buttons"] = out
        condition = self.condition.read(self.data)
        if self.condition.error:
            self.add_error(None, self.condition.error)
        data["condition"] = condition
        return data

    def variation(self) -> dict | None:
        data = self.cleaned_data
        if data.get("delete"):
            return None
        out: dict[str, Any] = {}
        if self.original.get("id"):
            out["id"] = self.original["id"]
        if data.get("text"):
            out["text"] = data["text"]
        if data.get("image"):
            out["image"] = data["image"]
        if data.get("buttons"):
            out["buttons"] = data["buttons"]
        if data.get("custom") is not None:
            out["custom"] = data["custom"]
        if data.get("channel"):
            out["channel"] = data["channel"]
        if data.get("condition"):
            out["condition"] = data["condition"]
        elif self.legacy_condition is not None:
            out["condition"] = self.legacy_condition
        metadata = dict(self.original.get("metadata") or {})
        if data.get("rephrase"):
            metadata["rephrase"] = True
        else:
            metadata.pop("rephrase", None)
        if metadata:
            out["metadata"] = metadata
        for key, value in self.original.items():
            skip = ("id", "text", "image", "buttons", "custom", "channel", "condition", "metadata")
            if key not in skip:
                out.setdefault(key, value)
        if not any(k in out for k in ("text", "image", "custom", "buttons")):
            return {}
        return out


def _yaml(value) -> str:
    from engine.formats.yamlio import dump_yaml

    return dump_yaml(value)


MAPPING_TYPES = [
    ("from_llm", "From the conversation (LLM)"),
    ("from_entity", "From an entity"),
    ("from_intent", "From an intent"),
    ("from_trigger_intent", "From the intent that started the flow"),
    ("from_text", "From the user's whole message"),
    ("controlled", "Set by the flow or an action only"),
]


class SlotForm(_AssistantForm):
    name = forms.CharField(max_length=limits.NAME)
    type = forms.ChoiceField(choices=[(t, t) for t in SLOT_TYPES])
    values = forms.CharField(
        required=False,
        label="Values (categorical)",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One per line.",
    )
    initial_value = forms.CharField(
        required=False, label="Initial value", max_length=limits.EXAMPLE
    )
    influence_conversation = forms.BooleanField(required=False, label="Influences the conversation")

    def __init__(self, *args, slot: Slot | None = None, intents=(), entities=(), **kwargs):
        definition = slot.definition if slot else {}
        initial = {
            "name": slot.name if slot else "",
            "type": definition.get("type", "text"),
            "values": "\n".join(str(v) for v in definition.get("values") or []),
            "initial_value": ""
            if definition.get("initial_value") is None
            else _plain(definition["initial_value"]),
            "influence_conversation": bool(definition.get("influence_conversation")),
        }
        super().__init__(*args, initial=initial, **kwargs)
        self.slot = slot
        self.intents, self.entities = list(intents), list(entities)
        self.mappings = [
            self._mapping_row(m) for m in definition.get("mappings") or [] if isinstance(m, dict)
        ]
        self.mapping_error = ""

    @staticmethod
    def _mapping_row(mapping: dict) -> dict:
        intent = mapping.get("intent")
        not_intent = mapping.get("not_intent")
        conditions = mapping.get("conditions") or []
        first = conditions[0] if conditions and isinstance(conditions[0], dict) else {}
        return {
            "type": mapping.get("type", "from_llm"),
            "entity": mapping.get("entity", ""),
            "role": mapping.get("role", ""),
            "group": mapping.get("group", ""),
            "intent": ", ".join(intent) if isinstance(intent, list) else (intent or ""),
            "not_intent": ", ".join(not_intent)
            if isinstance(not_intent, list)
            else (not_intent or ""),
            "value": "" if mapping.get("value") is None else _plain(mapping["value"]),
            "active_flow": first.get("active_flow", ""),
            "original": mapping,
        }

    @property
    def mapping_rows(self):
        blank = dict.fromkeys(("entity", "role", "group", "intent", "not_intent", "value"), "")
        return [*self.mappings, {"type": "", "active_flow": "", **blank}]

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise forms.ValidationError("Use letters, digits and underscores (e.g. account_type).")
        others = Slot.objects.filter(assistant=self.assistant, name=name)
        if self.slot is not None:
            others = others.exclude(pk=self.slot.pk)
        if others.exists():
            raise forms.ValidationError(f"There is already a slot called {name}.")
        return name

    def clean(self):
        data = super().clean()
        slot_type = data.get("type")
        values = [v.strip() for v in (data.get("values") or "").splitlines() if v.strip()]
        if slot_type in ("categorical", "strict_categorical") and not values:
            self.add_error("values", "A categorical slot needs at least one value.")
        data["values_list"] = values
        raw = (data.get("initial_value") or "").strip()
        data["initial"] = None
        if raw:
            try:
                data["initial"] = typed_value(raw, slot_type)
            except forms.ValidationError as exc:
                self.add_error("initial_value", exc)
            if (
                slot_type in ("categorical", "strict_categorical")
                and values
                and str(raw).lower() not in [v.lower() for v in values]
            ):
                self.add_error("initial_value", f"{raw} is not one of the values.")
        mappings = []
        self.mappings = []
        for row in _rows(
            self.data,
            "map-type",
            "map-entity",
            "map-role",
            "map-group",
            "map-intent",
            "map-not_intent",
            "map-value",
            "map-active_flow",
        ):
            mtype, entity, role, group, intent, not_intent, value, active_flow = row
            if not mtype:
                continue
            shown = dict(
                zip(
                    ("type", "entity", "role", "group", "intent", "not_intent", "value"),
                    row[:7],
                    strict=True,
                )
            ) | {"active_flow": active_flow}
            self.mappings.append(shown)
            mapping: dict[str, Any] = {"type": mtype}
            if mtype == "from_entity":
                if not entity:
                    self.mapping_error = "A from_entity mapping needs an entity."
                    continue
                mapping["entity"] = entity
                if role:
                    mapping["role"] = role
                if group:
                    mapping["group"] = group
            for key, text in (("intent", intent), ("not_intent", not_intent)):
                names = [n.strip() for n in text.split(",") if n.strip()]
                if names:
                    mapping[key] = names[0] if len(names) == 1 else names
            if mtype == "from_intent":
                if not value:
                    self.mapping_error = "A from_intent mapping needs a value."
                    continue
                try:
                    mapping["value"] = typed_value(value, slot_type)
                except forms.ValidationError as exc:
                    self.mapping_error = exc.messages[0]
                    continue
            if active_flow:
                mapping["conditions"] = [{"active_flow": active_flow}]
            mappings.append(mapping)
        if self.mapping_error:
            self.add_error(None, self.mapping_error)
        data["mappings"] = mappings
        return data

    def definition(self) -> dict:
        data = self.cleaned_data
        out: dict[str, Any] = {"type": data["type"]}
        if data["type"] in ("categorical", "strict_categorical"):
            out["values"] = data["values_list"]
        if data.get("initial") is not None:
            out["initial_value"] = data["initial"]
        if data.get("influence_conversation"):
            out["influence_conversation"] = True
        if data["mappings"]:
            out["mappings"] = data["mappings"]
        original = self.slot.definition if self.slot else {}
        for key, value in original.items():
            skip = ("type", "values", "initial_value", "influence_conversation", "mappings")
            if key not in skip:
                out.setdefault(key, value)
        return out


class ActionForm(_AssistantForm):
    name = forms.CharField(max_length=limits.NAME, help_text="e.g. action_check_balance")
    description = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Description",
        max_length=limits.DESCRIPTION,
    )

    def __init__(self, *args, action: CustomAction | None = None, **kwargs):
        initial = {"name": action.name, "description": action.description} if action else {}
        super().__init__(*args, initial=initial, **kwargs)
        self.action = action

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not NAME_RE.match(name):
            raise forms.ValidationError("Use letters, digits, '_', '-' and '.', with no spaces.")
        if name.startswith("utter_"):
            raise forms.ValidationError("Names starting with utter_ are responses.")
        others = CustomAction.objects.filter(assistant=self.assistant, name=name)
        if self.action is not None:
            others = others.exclude(pk=self.action.pk)
        if others.exists():
            raise forms.ValidationError(f"There is already a custom action called {name}.")
        return name


class DeleteForm(forms.Form):
    """Type the name to confirm."""

    confirm_name = forms.CharField(label="Type the name to confirm", max_length=255)

    def __init__(self, *args, name: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.name = name

    def clean_confirm_name(self):
        value = self.cleaned_data["confirm_name"].strip()
        if value != self.name:
            raise forms.ValidationError(f"Type {self.name} exactly to delete it.")
        return value


class AssistantFileForm(forms.Form):
    """config.yml or endpoints.yml as text, checked with engine.formats before saving."""

    text = forms.CharField(
        required=False,
        strip=False,  # the file is stored exactly as written
        widget=forms.Textarea(attrs={"rows": 22, "spellcheck": "false"}),
    )

    def __init__(
        self, *args, file_name: str, env_names=(), assistant=None, stored: str = "", **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.file_name = file_name
        self.env_names = set(env_names)  # what ${NAME} may use
        self.assistant = assistant
        self.stored = stored
        self.fields["text"].label = file_name
        self.warnings: list = []
        # (stored assistant_id, new one) while a change that stops routing awaits confirmation.
        self.assistant_id_change: tuple[str | None, str | None] | None = None

    def _check_assistant_id(self, config) -> None:
        """Conversations reach this assistant by `assistant_id` = its name: a change away from
        it is saved only once the user confirms it (the form posts confirm_assistant_id)."""
        from engine.formats import ConfigFile, FormatError

        if self.assistant is None:
            return
        try:
            before = ConfigFile.parse(self.stored, self.file_name).assistant_id
        except FormatError:
            before = None
        after = config.assistant_id
        if after == before or (after or "").lower() == self.assistant.name.lower():
            return
        if self.data.get("confirm_assistant_id") == (after or ""):
            return
        self.assistant_id_change = (before, after)
        change = (
            f"assistant_id changes from '{before}' to '{after}'"
            if before is not None and after is not None
            else f"assistant_id '{before}' is removed"
            if after is None
            else f"assistant_id becomes '{after}'"
        )
        raise forms.ValidationError(
            f"{change}. Studio routes conversations to this assistant by its name "
            f"'{self.assistant.name}': the conversations of bots trained with this config will "
            "no longer reach it (they are kept as unrouted events). Save anyway to confirm."
        )

    def clean_text(self):
        from engine.formats import (
            ConfigFile,
            EndpointsFile,
            FormatError,
            check_config,
            check_endpoints,
            check_env_references,
        )

        text = self.cleaned_data["text"]
        if not text.strip():
            return ""
        config = None
        try:
            if self.file_name == "config.yml":
                parsed = config = ConfigFile.parse(text, self.file_name)
                problems = check_config(config)
            else:
                parsed = EndpointsFile.parse(text, self.file_name)
                problems = check_endpoints(parsed)
            problems += check_env_references(text, parsed.data, self.file_name, self.env_names)
        except FormatError as exc:
            problems = exc.problems
        errors = [p for p in problems if p.severity == "error"]
        self.warnings = [p for p in problems if p.severity != "error"]
        if errors:
            raise forms.ValidationError(
                [
                    (f"Line {p.line}: " if p.line else "")
                    + p.message
                    + (f" ({p.path})" if p.path else "")
                    for p in errors
                ]
            )
        if config is not None:
            self._check_assistant_id(config)
        return text
