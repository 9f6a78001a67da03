"""The form of the slot pages: a slot's type, values, initial value, and its mappings, which
arrive as rows (`MappingRows` reads them)."""

from __future__ import annotations

import re
from typing import Any

from django import forms

from apps.flows.forms.base import AssistantForm, limits, plain, rows
from apps.flows.forms.conditions import typed_value
from apps.flows.models import Slot
from engine import formats

MAPPING_TYPES = [
    ("from_llm", "From the conversation (LLM)"),
    ("from_entity", "From an entity"),
    ("from_intent", "From an intent"),
    ("from_trigger_intent", "From the intent that started the flow"),
    ("from_text", "From the user's whole message"),
    ("controlled", "Set by the flow or an action only"),
]

_SHOWN = ("type", "entity", "role", "group", "intent", "not_intent", "value")
_COLUMNS = (*(f"map-{name}" for name in _SHOWN), "map-active_flow")


class MappingRows:
    """A slot's mappings as the form shows them (one row each, plus a blank one) and as they
    are read back from the submitted rows `map-type`, `map-entity`, ... `map-active_flow`."""

    def __init__(self, mappings: list):
        self.rows = [self.row(m) for m in mappings if isinstance(m, dict)]
        self.error = ""

    @staticmethod
    def row(mapping: dict) -> dict:
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
            "value": "" if mapping.get("value") is None else plain(mapping["value"]),
            "active_flow": first.get("active_flow", ""),
            "original": mapping,
        }

    @property
    def display_rows(self) -> list[dict]:
        blank = dict.fromkeys(("entity", "role", "group", "intent", "not_intent", "value"), "")
        return [*self.rows, {"type": "", "active_flow": "", **blank}]

    def read(self, data, slot_type: str | None) -> list[dict]:
        """The mappings in the submitted rows; a row in error is left out and sets `error`
        (the last one wins)."""
        mappings = []
        self.rows = []
        for row in rows(data, *_COLUMNS):
            mtype, entity, role, group, intent, not_intent, value, active_flow = row
            if not mtype:
                continue
            self.rows.append(dict(zip(_SHOWN, row[:7], strict=True)) | {"active_flow": active_flow})
            mapping: dict[str, Any] = {"type": mtype}
            if mtype == "from_entity":
                if not entity:
                    self.error = "A from_entity mapping needs an entity."
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
                    self.error = "A from_intent mapping needs a value."
                    continue
                try:
                    mapping["value"] = typed_value(value, slot_type)
                except forms.ValidationError as exc:
                    self.error = exc.messages[0]
                    continue
            if active_flow:
                mapping["conditions"] = [{"active_flow": active_flow}]
            mappings.append(mapping)
        return mappings


class SlotForm(AssistantForm):
    name = forms.CharField(max_length=limits.NAME)
    type = forms.ChoiceField(choices=[(t, t) for t in formats.SLOT_TYPES])
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
            else plain(definition["initial_value"]),
            "influence_conversation": bool(definition.get("influence_conversation")),
        }
        super().__init__(*args, initial=initial, **kwargs)
        self.slot = slot
        self.intents, self.entities = list(intents), list(entities)
        self.mapping_editor = MappingRows(definition.get("mappings") or [])

    @property
    def mappings(self) -> list[dict]:
        return self.mapping_editor.rows

    @property
    def mapping_error(self) -> str:
        return self.mapping_editor.error

    @property
    def mapping_rows(self):
        return self.mapping_editor.display_rows

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
        data["initial"] = self._initial(data.get("initial_value"), slot_type, values)
        data["mappings"] = self.mapping_editor.read(self.data, slot_type)
        if self.mapping_editor.error:
            self.add_error(None, self.mapping_editor.error)
        return data

    def _initial(self, raw, slot_type, values: list[str]) -> Any:
        raw = (raw or "").strip()
        if not raw:
            return None
        initial = None
        try:
            initial = typed_value(raw, slot_type)
        except forms.ValidationError as exc:
            self.add_error("initial_value", exc)
        if (
            slot_type in ("categorical", "strict_categorical")
            and values
            and str(raw).lower() not in [v.lower() for v in values]
        ):
            self.add_error("initial_value", f"{raw} is not one of the values.")
        return initial

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
