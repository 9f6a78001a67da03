"""Forms of the annotation pages: they read and check; apps.annotation.services changes."""

from __future__ import annotations

from typing import cast

from django import forms

from apps.annotation import services
from apps.annotation.models import Annotation
from apps.nlu.forms import NAME_RE
from engine import formats


def _date(label: str) -> forms.DateField:
    return forms.DateField(
        label=label, required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


def _confidence(label: str) -> forms.FloatField:
    return forms.FloatField(
        label=label,
        min_value=0.0,
        max_value=1.0,
        required=False,
        widget=forms.NumberInput(attrs={"step": "0.01"}),
    )


def _check_range(form: forms.Form, data: dict | None, low: str, high: str, message: str) -> None:
    if data is None:
        return
    if data.get(low) is not None and data.get(high) is not None and data[low] > data[high]:
        form.add_error(high, message)


class AnnotatorChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        full = obj.get_full_name()
        return f"{full} ({obj.username})" if full else obj.username


class BatchForm(forms.Form):
    """Which messages to hand out, how many, and to whom."""

    start = _date("From")
    end = _date("Until")
    channel = forms.CharField(label="Channel", max_length=64, required=False)
    keywords = forms.CharField(
        label="Keywords",
        max_length=200,
        required=False,
        help_text="Messages with any of these words.",
    )
    intent = forms.CharField(
        label="Predicted intent",
        max_length=255,
        required=False,
        widget=forms.TextInput(attrs={"list": "intent-names"}),
    )
    min_confidence = _confidence("Confidence from")
    max_confidence = _confidence("Confidence up to")
    size = forms.IntegerField(
        label="Sample size", min_value=1, max_value=services.MAX_BATCH_SIZE, initial=50
    )
    assignee = AnnotatorChoice(label="Assign to", queryset=None, empty_label=None)

    def __init__(self, *args, assistant, **kwargs):
        super().__init__(*args, **kwargs)
        self.assistant = assistant
        assignee = cast(forms.ModelChoiceField, self.fields["assignee"])
        assignee.queryset = services.annotators(assistant).order_by("username")

    def clean(self):
        data = super().clean()
        _check_range(self, data, "start", "end", "The end date is before the start date.")
        _check_range(
            self, data, "min_confidence", "max_confidence", "The maximum is below the minimum."
        )
        return data

    def filters(self) -> services.BatchFilters:
        data = self.cleaned_data
        return services.BatchFilters(
            start=data.get("start"),
            end=data.get("end"),
            channel=(data.get("channel") or "").strip(),
            keywords=data.get("keywords") or "",
            intent=(data.get("intent") or "").strip(),
            min_confidence=data.get("min_confidence"),
            max_confidence=data.get("max_confidence"),
            size=data.get("size") or 50,
        )


class LabelForm(forms.Form):
    """The intent of one message: an existing one, or the name of a new one."""

    intent = forms.CharField(
        label="Intent",
        max_length=formats.limits.NAME,
        required=False,
        help_text="Pick one, or type the name of a new intent.",
        widget=forms.TextInput(attrs={"list": "intent-names", "autocomplete": "off"}),
    )

    def __init__(self, *args, assistant, **kwargs):
        super().__init__(*args, **kwargs)
        self.assistant = assistant

    def clean_intent(self):
        name = (self.cleaned_data.get("intent") or "").strip()
        if name and not NAME_RE.match(name):
            raise forms.ValidationError(
                "An intent name has no spaces and none of / { } [ ] ( ) (e.g. check_balance)."
            )
        return name


class SelectionForm(forms.Form):
    """Messages picked on a list, and what to do with them."""

    ids = forms.ModelMultipleChoiceField(queryset=Annotation.objects.none())
    action = forms.ChoiceField(choices=[])

    def __init__(self, *args, annotations, actions, **kwargs):
        super().__init__(*args, **kwargs)
        ids = cast(forms.ModelMultipleChoiceField, self.fields["ids"])
        ids.queryset = annotations
        ids.error_messages["required"] = "Select at least one message."
        cast(forms.ChoiceField, self.fields["action"]).choices = actions


class HistoryFilterForm(forms.Form):
    status = forms.ChoiceField(
        label="Status", choices=[("", "Any"), *Annotation.Status.choices], required=False
    )
    intent = forms.CharField(label="Intent", max_length=255, required=False)
    min_confidence = _confidence("Confidence from")
    max_confidence = _confidence("Confidence up to")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.is_valid()  # invalid filters are reported at their field and ignored

    def clean(self):
        data = super().clean()
        _check_range(
            self, data, "min_confidence", "max_confidence", "The maximum is below the minimum."
        )
        return data

    def filters(self) -> services.HistoryFilters:
        data = {k: v for k, v in self.cleaned_data.items() if k not in self.errors}
        return services.HistoryFilters(
            status=data.get("status") or "",
            intent=(data.get("intent") or "").strip(),
            min_confidence=data.get("min_confidence"),
            max_confidence=data.get("max_confidence"),
        )
