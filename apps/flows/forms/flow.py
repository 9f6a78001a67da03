"""Forms of the flows list and the start node: create and rename a flow, its name, description,
NLU triggers and guard; and connecting the end of a branch to another step."""

from __future__ import annotations

from typing import Any

from django import forms

from apps.flows import services
from apps.flows.forms.base import AssistantForm, limits, rows
from apps.flows.forms.conditions import ConditionEditor
from apps.flows.models import Flow
from apps.projects.forms import ContentProblemsMixin
from engine import formats


class FlowNameField(forms.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("label", "Flow id")
        kwargs.setdefault("max_length", limits.NAME)
        kwargs.setdefault(
            "help_text", "Letters, digits, underscores and hyphens, e.g. transfer_money."
        )
        super().__init__(**kwargs)


class FlowCreateForm(AssistantForm):
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


class FlowRenameForm(AssistantForm):
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


class FlowStartForm(ContentProblemsMixin, forms.Form):
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

    def __init__(
        self,
        *args,
        flow: Flow,
        slots: dict[str, str],
        intents: list[str],
        slot_values: dict[str, list] | None = None,
        **kwargs,
    ):
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
        self.condition = ConditionEditor(
            "guard", slots, guard if isinstance(guard, str) else None, slot_values=slot_values
        )
        self.triggers = []
        self.stored_triggers = _triggers_by_intent(definition.get("nlu_trigger"))
        for trigger in formats.trigger_intents(definition.get("nlu_trigger")):
            threshold = trigger.confidence_threshold
            self.triggers.append(
                {"intent": trigger.intent, "threshold": "" if threshold is None else threshold}
            )
        self.trigger_error = ""

    @property
    def trigger_rows(self):
        return [*self.triggers, {"intent": "", "threshold": ""}]

    def clean(self):
        data = super().clean()
        triggers = []
        self.triggers = []
        for intent, threshold in rows(self.data, "trigger-intent", "trigger-threshold"):
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
                item = {"intent": {"name": intent, "confidence_threshold": value}}
                triggers.append(_with_kept_keys(item, self.stored_triggers.get(intent)))
            else:
                triggers.append(
                    _with_kept_keys({"intent": intent}, self.stored_triggers.get(intent))
                )
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


class GotoForm(ContentProblemsMixin, forms.Form):
    """Connect the end of a branch to another step (a loop or a merge)."""

    target = forms.ChoiceField(label="Go to")

    def __init__(self, *args, step_choices, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target"].choices = [(formats.END, "End the flow"), *step_choices]


def _triggers_by_intent(value: Any) -> dict[str, dict]:
    """The stored nlu_trigger items by intent name (an item may hold keys Rasa's schema allows
    that the form does not edit)."""
    items = value if isinstance(value, list) else []
    out: dict[str, dict] = {}
    for item in items:
        intent = item.get("intent") if isinstance(item, dict) else None
        name = intent.get("name") if isinstance(intent, dict) else intent
        if isinstance(name, str):
            out.setdefault(name, item)
    return out


def _with_kept_keys(item: dict, stored: dict | None) -> dict:
    """`item` as the form builds it, with the other keys of the stored item for the same intent
    kept unchanged (beside the intent, and inside its mapping)."""
    if stored is None:
        return item
    stored_intent = stored.get("intent")
    intent = item["intent"]
    if isinstance(stored_intent, dict):
        extra = {
            k: v for k, v in stored_intent.items() if k not in ("name", "confidence_threshold")
        }
        if extra:
            base = intent if isinstance(intent, dict) else {"name": intent}
            intent = {**base, **extra}
    return {"intent": intent, **{k: v for k, v in stored.items() if k != "intent"}}
