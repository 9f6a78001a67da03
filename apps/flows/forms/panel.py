"""What the step side panel edits besides the step itself: a response with all its variations
(the message step's response, the collect step's question), and a new intent with its examples
(the start node's NLU trigger).

A `ResponseEditor` is a response's variations as the Responses page edits them (one
`VariationForm` each, prefixed `<prefix><i>`), plus one blank variation to add. The posted
variations belong to the response named in `<prefix>-of`: when another response has been picked
since the panel was drawn, they are dropped and the picked response's stored variations are shown
instead (unless they were typed in the blank editor of a new item and the picked response has
none stored: then they are kept).
"""

from __future__ import annotations

import contextlib
from typing import Any

from django import forms

from apps.flows.forms.responses import BUTTON_KINDS, VariationForm
from apps.nlu.forms import ExamplesForm, IntentForm

NEW_ITEM = "__new__"  # the editor of a response still to be named
NOTHING_SAID = (
    "Write what the assistant says: a text, an image, buttons or a custom payload "
    "in at least one variation."
)


class ResponseEditor:
    """The variations of the response `name` (stored as `stored`), edited under `prefix`."""

    button_kinds = BUTTON_KINDS

    def __init__(
        self,
        prefix: str,
        data,
        *,
        name: str,
        stored: list | None,
        slots: dict[str, str],
        slot_values: dict[str, list] | None = None,
        uses: int = 0,
    ):
        self.prefix = prefix
        self.name = name
        self.uses = uses  # the places (steps, stories) that use this response
        self.stored = [v for v in stored or [] if isinstance(v, dict)]
        self.slots = slots
        self.slot_values = slot_values or {}
        self.error = ""
        self.help = ""
        drawn_for = data.get(f"{prefix}-of") if data is not None else None
        # What was typed in a blank editor (a new item's) carries over to a response that has
        # nothing stored yet (the slot was picked after typing the question); it never
        # replaces another response's variations.
        bound = drawn_for == name or (drawn_for == NEW_ITEM and not self.stored)
        self.bound = bound
        count = len(self.stored) + 1
        if bound:
            with contextlib.suppress(TypeError, ValueError):
                count = max(count, int(data.get(f"{prefix}-count", count)))
        self.forms = [self._form(i, data if bound else None) for i in range(count)]

    def _form(self, index: int, data) -> VariationForm:
        form = VariationForm(
            data,
            prefix=f"{self.prefix}{index}",
            variation=self.stored[index] if index < len(self.stored) else None,
            slots=self.slots,
            slot_values=self.slot_values,
        )
        return form

    @property
    def shown_forms(self) -> list[VariationForm]:
        """The variations to draw: those there are, and a blank one when the last is used."""
        for form in self.forms:
            if form.is_bound:
                form.is_valid()  # reads the button rows back, even when the step stopped early
        shown = list(self.forms)
        last = shown[-1] if shown else None
        if last is None or (last.is_bound and _filled(last)):
            shown.append(self._form(len(shown), None))
        return shown

    def clean(self) -> list[dict] | None:
        """The variations as they will be stored, or None (with `error`) when one is wrong or
        none says anything. Unbound (another response was just picked): the stored ones."""
        if not self.bound:
            return self.stored or None
        valid = all(f.is_valid() for f in self.forms)
        if not valid:
            self.error = "Fix the variation marked below."
            return None
        variations = [v for v in (f.variation() for f in self.forms) if v]
        if not variations:
            self.error = NOTHING_SAID
            return None
        return variations

    def changed(self, variations: list[dict]) -> bool:
        return variations != self.stored


def _filled(form: VariationForm) -> bool:
    """Whether a bound variation form was given anything."""
    p = form.prefix
    names = ("text", "image", "links", "custom", "cond-text", "cond-slot", "btn-title", "btn-a")
    data: Any = form.data
    return any(v.strip() for n in (*names, "btn-b", "btn-c") for v in data.getlist(f"{p}-{n}"))


class NewIntentForm(IntentForm):
    """A new intent and its first examples (one per line), made from the start node."""

    examples = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Examples",
        help_text="One per line, e.g. I want a pizza. Mark entities as [Berlin](city).",
    )

    def __init__(self, *args, entities: dict[str, dict], **kwargs):
        # Drawn inside the start form: a browser "required" check would block its Save.
        super().__init__(*args, prefix="new_intent", use_required_attribute=False, **kwargs)
        self.fields["name"].label = "New intent"
        self.entities = entities

    def clean_examples(self):
        # The examples are read as the intent page reads them (a new intent has none yet).
        reader = _FirstExamples({"text": self.cleaned_data["examples"]}, entities=self.entities)
        if not reader.is_valid():
            raise forms.ValidationError(list(reader.errors["text"]))
        return reader.cleaned_data["text"]


class _FirstExamples(ExamplesForm):
    def __init__(self, *args, entities: dict[str, dict], **kwargs):
        super().__init__(*args, intent=None, entities=entities, **kwargs)  # type: ignore[arg-type]

    def existing_texts(self) -> set[str]:
        return set()
