from __future__ import annotations

from datetime import date, timedelta
from typing import cast

from django import forms
from django.utils import timezone

from apps.analytics.models import SuccessCriterion

PERIODS = {"7d": ("Last 7 days", 7), "30d": ("Last 30 days", 30), "90d": ("Last 90 days", 90)}
DEFAULT_PERIOD = "30d"
MAX_DAYS = 366


class AnalyticsFilterForm(forms.Form):
    """The dashboard's filters, from GET parameters (a filtered dashboard is a shareable URL).
    Days are days in settings.TIME_ZONE, as the rollups' are."""

    period = forms.ChoiceField(
        label="Period",
        choices=[(k, v[0]) for k, v in PERIODS.items()] + [("custom", "Between dates")],
        required=False,
    )
    start = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label="Until", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    model = forms.ChoiceField(label="Model version", required=False)
    channel = forms.ChoiceField(label="Channel", required=False)
    language = forms.ChoiceField(label="Language", required=False)

    def __init__(self, data=None, *, channels=(), models=(), languages=(), **kwargs):
        super().__init__(data, **kwargs)
        language = cast(forms.ChoiceField, self.fields["language"])
        language.choices = [("", "All languages")] + [(code, code) for code in languages]
        channel = cast(forms.ChoiceField, self.fields["channel"])
        channel.choices = [("", "All channels")] + [(c, c) for c in channels]
        model = cast(forms.ChoiceField, self.fields["model"])
        model.choices = [("", "All versions")] + [(m, m) for m in models]
        self.is_valid()

    def clean(self):
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            self.add_error("end", "The end date is before the start date.")
        elif start and end and (end - start).days >= MAX_DAYS:
            self.add_error("end", f"Choose at most {MAX_DAYS} days.")
        return data

    def _value(self, name: str):
        return (
            None if name in self.errors else (getattr(self, "cleaned_data", None) or {}).get(name)
        )

    def days(self, today: date | None = None) -> tuple[date, date]:
        """The first and last day of the period (inclusive)."""
        today = today or timezone.localdate(timezone=timezone.get_default_timezone())
        period = self._value("period") or ""
        start, end = self._value("start"), self._value("end")
        if period == "custom" or (not period and (start or end)):
            end = end or today
            start = start or end - timedelta(days=PERIODS[DEFAULT_PERIOD][1] - 1)
            if "end" not in self.errors and start <= end:
                return start, end
        length = PERIODS.get(period, PERIODS[DEFAULT_PERIOD])[1]
        return today - timedelta(days=length - 1), today

    def dimension(self, name: str) -> str:
        """The chosen channel, model or language ("" for all)."""
        return self._value(name) or ""


class SuccessCriterionForm(forms.ModelForm):
    """A new version of the success criterion: every condition filled in must hold."""

    class Meta:
        model = SuccessCriterion
        fields = [
            "flow_id",
            "flow_outcome",
            "no_handoff",
            "no_fallback",
            "min_csat",
            "slot_name",
            "slot_value",
            "note",
        ]
        labels = {
            "flow_id": "This flow",
            "flow_outcome": "was",
            "no_handoff": "No handoff to a human",
            "no_fallback": "No fallback or cannot-handle",
            "min_csat": "CSAT answer of at least",
            "slot_name": "Slot",
            "slot_value": "is set to",
            "note": "Note (why it changed)",
        }
        widgets = {"min_csat": forms.NumberInput(attrs={"min": 1, "max": 5})}

    def __init__(self, *args, flows=(), **kwargs):
        super().__init__(*args, **kwargs)
        flow = self.fields["flow_id"]
        flow.widget = forms.Select(choices=[("", "(any flow)")] + [(f, f) for f in flows])
        outcome = cast(forms.ChoiceField, self.fields["flow_outcome"])
        outcome.choices = list(SuccessCriterion.FlowOutcome.choices)
        outcome.required = False
        self.flows = set(flows)

    def clean_flow_id(self):
        flow = (self.cleaned_data.get("flow_id") or "").strip()
        if flow and flow not in self.flows:
            raise forms.ValidationError(f"There is no flow {flow!r} in this assistant.")
        return flow

    def clean_min_csat(self):
        score = self.cleaned_data.get("min_csat")
        if score is not None and not 1 <= score <= 5:
            raise forms.ValidationError("CSAT answers are 1 to 5.")
        return score

    def clean(self):
        data = super().clean() or {}
        slot = data["slot_name"] = (data.get("slot_name") or "").strip()
        if data.get("slot_value") and not slot:
            self.add_error("slot_name", "Name the slot whose value counts.")
        elif slot and not data.get("slot_value"):
            self.add_error("slot_value", "Give the value the slot must be set to.")
        if not data.get("flow_outcome"):
            data["flow_outcome"] = SuccessCriterion.FlowOutcome.COMPLETED
        chosen = (
            data.get("flow_id"),
            data.get("no_handoff"),
            data.get("no_fallback"),
            data.get("min_csat") is not None,
            slot,
        )
        if not any(chosen) and not self.errors:
            raise forms.ValidationError("Choose at least one condition of success.")
        return data

    def fields_to_save(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}
