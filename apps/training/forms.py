"""Forms of the training pages: train a version, name it, and the Try page's message and
start-a-flow forms."""

from __future__ import annotations

import json

from django import forms

from apps.training.models import ModelVersion
from engine import formats

limits = formats.limits  # length limits, one place for every field


class TrainForm(forms.Form):
    ALL_FLOWS, PUBLISHED_ONLY, PER_FLOW = "all", "published", "choose"
    #: The per-flow choices are posted as `source:<flow id>` (the train page's table).
    SOURCE_PREFIX = "source:"

    name = forms.CharField(max_length=limits.TITLE, required=False, label="Version name (optional)")
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=limits.DESCRIPTION
    )
    flows = forms.ChoiceField(
        label="Flows to train",
        choices=[
            (ALL_FLOWS, "Every flow as it is now, drafts included"),
            (PUBLISHED_ONLY, "Only published flows, each as it was last published"),
            (PER_FLOW, "Choose for each flow: its draft, last stable version or last published"),
        ],
        initial=ALL_FLOWS,
        required=False,
        widget=forms.RadioSelect,
    )
    isolated = forms.BooleanField(
        required=False,
        label="Test in isolation",
        help_text="A personal version: once trained, only you can try it, and it does not "
        "become the live version (the live bot keeps serving everyone else).",
    )

    def chosen_sources(self) -> dict[str, str]:
        """{flow id: "draft", "stable" or "published"} as posted in the per-flow table."""
        prefix = self.SOURCE_PREFIX
        return {
            key[len(prefix) :]: str(value)
            for key, value in self.data.items()
            if key.startswith(prefix)
        }

    def training_options(self) -> dict:
        """The cleaned form as `services.request_training`'s keyword arguments."""
        data = self.cleaned_data
        per_flow = data.get("flows") == self.PER_FLOW
        return {
            "name": data["name"],
            "description": data["description"],
            "include_drafts": data.get("flows") != self.PUBLISHED_ONLY,
            "flows": self.chosen_sources() if per_flow else None,
            "isolated": bool(data.get("isolated")),
        }


class VersionForm(forms.ModelForm):
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=limits.DESCRIPTION
    )

    class Meta:
        model = ModelVersion
        fields = ["name", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}


class MessageForm(forms.Form):
    message = forms.CharField(max_length=limits.TEXT, strip=True)
    # The title of the quick-reply button that sent `message` (its payload), if one did.
    title = forms.CharField(max_length=limits.TEXT, required=False)


class StartFlowForm(forms.Form):
    flow = forms.CharField(max_length=255)
    slots = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text='Preset slots as JSON, e.g. {"account_type": "savings"}',
    )

    def __init__(self, *args, flows, slots, **kwargs):
        super().__init__(*args, **kwargs)
        self.flow_ids, self.slot_names = set(flows), set(slots)

    def clean_flow(self):
        flow = self.cleaned_data["flow"]
        if flow not in self.flow_ids:
            raise forms.ValidationError(f"There is no flow {flow!r}.")
        return flow

    def clean_slots(self):
        raw = self.cleaned_data["slots"].strip()
        if not raw:
            return {}
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                f"Preset slots are not valid JSON (line {exc.lineno}, column {exc.colno}: "
                f'{exc.msg}). Write an object such as {{"account_type": "savings"}}.'
            ) from None
        if not isinstance(value, dict):
            raise forms.ValidationError(
                "Preset slots must be a JSON object of slot names and values, such as "
                '{"account_type": "savings"}.'
            )
        unknown = sorted(set(value) - self.slot_names)
        if unknown:
            raise forms.ValidationError(
                f"Unknown slot(s) in the preset slots: {', '.join(unknown)}."
            )
        return value
