"""Forms of the NLU pages (issue 7): they parse and check; apps.nlu.services stores."""

from __future__ import annotations

import re

from django import forms

from apps.nlu.models import Entity, Example, Intent
from apps.projects.forms import ContentProblemsMixin
from engine import formats
from engine.formats import AnnotationError, parse_example

limits = formats.limits  # length limits, one place for every field

NAME_RE = re.compile(r"^[^\s/{}\[\]()]+$")


class _AssistantForm(ContentProblemsMixin, forms.Form):
    def __init__(self, *args, assistant, **kwargs):
        super().__init__(*args, **kwargs)
        self.assistant = assistant


def _check_name(value: str, what: str) -> str:
    value = value.strip()
    if not NAME_RE.match(value):
        raise forms.ValidationError(
            f"An {what} name has no spaces and none of / {{ }} [ ] ( ) (e.g. check_balance)."
        )
    return value


class IntentForm(_AssistantForm):
    name = forms.CharField(max_length=limits.NAME, label="New intent")
    description = forms.CharField(max_length=limits.DESCRIPTION, required=False)

    def clean_name(self):
        name = _check_name(self.cleaned_data["name"], "intent")
        if Intent.objects.filter(assistant=self.assistant, name=name).exists():
            raise forms.ValidationError(f"There is already an intent called {name}.")
        return name


class ExamplesForm(forms.Form):
    """One or many examples, one per line, in Rasa's markup ([Berlin](city) is annotated)."""

    text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Add examples",
        help_text="One per line. Mark entities as [Berlin](city) or select text after adding.",
    )

    def __init__(self, *args, intent: Intent, entities: dict[str, dict], **kwargs):
        super().__init__(*args, **kwargs)
        self.intent = intent
        self.entities = entities

    def existing_texts(self) -> set[str]:
        return set(Example.objects.filter(intent=self.intent).values_list("text", flat=True))

    def clean_text(self):
        existing = self.existing_texts()
        parsed = []
        errors = []
        seen = set()
        for number, line in enumerate(self.cleaned_data["text"].splitlines(), 1):
            line = line.strip().removeprefix("- ").strip()
            if not line:
                continue
            if len(line) > limits.EXAMPLE:
                errors.append(f"Line {number}: {limits.too_long(line, limits.EXAMPLE)}.")
                continue
            try:
                example = parse_example(line)
            except AnnotationError as exc:
                errors.append(f"Line {number}: {exc}")
                continue
            for ent in example.entities:
                if ent.entity not in self.entities:
                    errors.append(f"Line {number}: there is no entity called {ent.entity}.")
                elif ent.role and ent.role not in (self.entities[ent.entity].get("roles") or []):
                    errors.append(f"Line {number}: {ent.entity} has no role {ent.role}.")
            if example.text in existing or example.text in seen:
                errors.append(f"Line {number}: {example.text!r} is already an example.")
                continue
            seen.add(example.text)
            parsed.append(example)
        if errors:
            raise forms.ValidationError(errors)
        if not parsed:
            raise forms.ValidationError("Write at least one example.")
        return parsed


class SubIntentForm(ContentProblemsMixin, ExamplesForm):
    """A new sub-intent of a retrieval intent (``chitchat/ask_name`` under ``chitchat``) with its
    first examples: Rasa trains a response selector on each sub-intent's examples, and answers
    it with the response ``utter_<intent>/<sub-intent>``."""

    name = forms.CharField(
        max_length=limits.NAME,
        label="New sub-intent",
        help_text="The part after the slash, e.g. ask_name.",
    )
    field_order = ["name", "text"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, prefix="sub", **kwargs)
        self.fields["text"].label = "Its examples"
        self.fields["text"].help_text = "One per line, as for any intent."

    @property
    def full_name(self) -> str:
        return f"{self.intent.name}/{self.cleaned_data['name']}"

    def existing_texts(self) -> set[str]:
        return set()  # a new sub-intent has no examples yet

    def clean_name(self):
        name = _check_name(self.cleaned_data["name"], "intent")
        full = f"{self.intent.name}/{name}"
        if len(full) > limits.NAME:
            raise forms.ValidationError(f"{full} is {limits.too_long(full, limits.NAME)}.")
        if Intent.objects.filter(assistant=self.intent.assistant, name=full).exists():
            raise forms.ValidationError(f"There is already a sub-intent called {full}.")
        return name


class AnnotateForm(forms.Form):
    """Mark text[start:end] of an example as an entity (posted by static/studio/annotate.js)."""

    start = forms.IntegerField(min_value=0, widget=forms.HiddenInput)
    end = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    entity = forms.ChoiceField()
    role = forms.CharField(required=False, max_length=255)
    synonym = forms.CharField(
        required=False,
        max_length=255,
        help_text="The value to store instead of the selected text (a synonym).",
    )

    def __init__(self, *args, example: Example, entities: dict[str, dict], **kwargs):
        super().__init__(*args, **kwargs)
        self.example = example
        self.entities = entities
        self.fields["entity"].choices = [(e, e) for e in entities]

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start is None or end is None:
            return data
        text = self.example.text
        if not start < end <= len(text):
            raise forms.ValidationError("Select some text of the example.")
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start == end:
            raise forms.ValidationError("Select some text of the example, not only spaces.")
        for ent in self.example.entities:
            same = (ent["start"], ent["end"]) == (start, end)
            if start < ent["end"] and ent["start"] < end and not same:
                raise forms.ValidationError(
                    f"The selection overlaps the entity {ent['entity']} "
                    f"({text[ent['start'] : ent['end']]!r}); remove that one first."
                )
        entity = data.get("entity")
        role = (data.get("role") or "").strip()
        if entity and role and role not in (self.entities.get(entity, {}).get("roles") or []):
            self.add_error("role", f"{entity} has no role {role}; add it on the Entities page.")
        data["start"], data["end"], data["role"] = start, end, role
        data["synonym"] = (data.get("synonym") or "").strip()
        return data


class MoveExamplesForm(_AssistantForm):
    examples = forms.ModelMultipleChoiceField(queryset=Example.objects.none())
    target = forms.ModelChoiceField(queryset=Intent.objects.none(), label="Move to")

    def __init__(self, *args, intent: Intent, **kwargs):
        super().__init__(*args, **kwargs)
        self.intent = intent
        self.fields["examples"].queryset = Example.objects.filter(intent=intent)
        self.fields["target"].queryset = Intent.objects.filter(assistant=self.assistant).exclude(
            pk=intent.pk
        )


class EntityForm(_AssistantForm):
    name = forms.CharField(max_length=limits.NAME)
    roles = forms.CharField(
        required=False,
        max_length=limits.DESCRIPTION,
        help_text="Comma-separated, e.g. departure, arrival.",
    )
    groups = forms.CharField(
        required=False, max_length=limits.DESCRIPTION, help_text="Comma-separated."
    )

    def __init__(self, *args, entity: Entity | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.entity = entity

    def clean_name(self):
        name = _check_name(self.cleaned_data["name"], "entity")
        others = Entity.objects.filter(assistant=self.assistant, name=name)
        if self.entity is not None:
            others = others.exclude(pk=self.entity.pk)
        if others.exists():
            raise forms.ValidationError(f"There is already an entity called {name}.")
        return name

    def _names(self, key):
        return [n.strip() for n in (self.cleaned_data.get(key) or "").split(",") if n.strip()]

    def clean_roles(self):
        return self._names("roles")

    def clean_groups(self):
        return self._names("groups")


class LexiconForm(_AssistantForm):
    """A synonym, a regex or a lookup table: a name and its values, one per line."""

    item_id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    name = forms.CharField(max_length=limits.NAME)
    values = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, model, label: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.model = model
        self.label = label
        self.fields["values"].label = {
            "synonym": "Texts that mean this value",
            "regex": "Patterns",
            "lookup table": "Elements",
        }[label]
        self.fields["name"].label = "Value" if label == "synonym" else "Name"

    def clean_values(self):
        values = []
        for line in self.cleaned_data["values"].splitlines():
            line = line.strip()
            if line and line not in values:
                values.append(line)
        if not values:
            raise forms.ValidationError("Add at least one line.")
        if self.label == "regex":
            for value in values:
                try:
                    re.compile(value)
                except re.error as exc:
                    raise forms.ValidationError(
                        f"{value!r} is not a valid pattern: {exc}."
                    ) from None
        return values

    def clean(self):
        data = super().clean()
        name = (data.get("name") or "").strip()
        others = self.model.objects.filter(assistant=self.assistant, name=name)
        if data.get("item_id"):
            others = others.exclude(pk=data["item_id"])
        if name and others.exists():
            self.add_error("name", f"There is already a {self.label} called {name}.")
        data["name"] = name
        return data
