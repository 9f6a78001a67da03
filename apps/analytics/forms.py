from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import cast

from django import forms

PERIODS = {"7d": ("Last 7 days", 7), "30d": ("Last 30 days", 30), "90d": ("Last 90 days", 90)}
DEFAULT_PERIOD = "30d"
MAX_DAYS = 366


class AnalyticsFilterForm(forms.Form):
    """The dashboard's filters, from GET parameters (a filtered dashboard is a shareable URL).
    Days are UTC days, as the rollups are."""

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

    def __init__(self, data=None, *, channels=(), models=(), **kwargs):
        super().__init__(data, **kwargs)
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
        today = today or datetime.now(UTC).date()
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
        """The chosen channel or model ("" for all)."""
        return self._value(name) or ""
