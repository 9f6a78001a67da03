"""Forms of the response pages: the response's name, and one form per variation (text, image,
buttons built from rows, links, a custom payload, a condition)."""

from __future__ import annotations

import re
from typing import Any

from django import forms

from apps.flows.forms.base import NAME_RE, AssistantForm, limits, rows
from apps.flows.forms.conditions import ConditionEditor, SlotValueConditions
from apps.flows.models import Response
from engine import formats


class ResponseNameForm(AssistantForm):
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

    def __init__(
        self,
        *args,
        variation: dict | None = None,
        slots=None,
        slot_values: dict[str, list] | None = None,
        **kwargs,
    ):
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
        # Rasa's list form (`- type: slot, name, value`) is edited as slot = value rows; the
        # condition text (Rasa Pro's) with the condition builder.
        self.slot_conditions = (
            SlotValueConditions(f"{self.prefix}-sc", slots or {}, condition, slot_values)
            if isinstance(condition, list)
            else None
        )
        self.condition = ConditionEditor(
            f"{self.prefix}-cond",
            slots or {},
            condition if isinstance(condition, str) else None,
            slot_values=slot_values,
        )
        self.button_error = ""

    @property
    def button_rows(self):
        return [*self.buttons, {"kind": "intent", "title": "", "a": "", "b": "", "c": ""}]

    def clean_custom(self):
        text = self.cleaned_data["custom"]
        if not text.strip():
            return None
        try:
            value = formats.load_yaml(text, "custom").data
        except formats.FormatError as exc:
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
        for kind, title, a, b, c in rows(
            self.data, f"{p}-btn-kind", f"{p}-btn-title", f"{p}-btn-a", f"{p}-btn-b", f"{p}-btn-c"
        ):
            row = {"kind": kind or "intent", "title": title, "a": a, "b": b, "c": c}
            if not (title or a or b or c):
                continue
            self.buttons.append(row)
            if not title:
                self.button_error = "Each button needs a title."
            elif row["kind"] in ("intent", "entity") and not re.fullmatch(r"[A-Za-z0-9_.-]+", a):
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
        editor = self.slot_conditions or self.condition
        condition = editor.read(self.data)
        if editor.error:
            self.add_error(None, editor.error)
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
    return formats.dump_yaml(value)
