"""The form of the custom action pages: an action's name and description."""

from __future__ import annotations

from django import forms

from apps.flows.forms.base import NAME_RE, AssistantForm, limits
from apps.flows.models import CustomAction


class ActionForm(AssistantForm):
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
