from __future__ import annotations

from datetime import datetime, time, timedelta

from django import forms
from django.utils import timezone

from apps.analytics import drilldown
from apps.ingestion.models import Conversation, Tag
from engine import formats

PERIODS = {
    "24h": ("Last 24 hours", timedelta(hours=24)),
    "7d": ("Last 7 days", timedelta(days=7)),
    "30d": ("Last 30 days", timedelta(days=30)),
    "90d": ("Last 90 days", timedelta(days=90)),
    "all": ("All time", None),
    "custom": ("Between dates", None),
}
DEFAULT_PERIOD = "7d"
PAGE_SIZE = 100
MAX_PAGE = 10_000


def _text(label: str, max_length: int = 255, **kwargs) -> forms.CharField:
    return forms.CharField(label=label, max_length=max_length, required=False, **kwargs)


class ConversationFilterForm(forms.Form):
    """The list's filters, from GET parameters (so a filtered list is a shareable URL).

    `filters()` returns only the valid, non-empty ones; invalid ones are reported at their
    field and ignored."""

    period = forms.ChoiceField(
        label="Timeframe", choices=[(k, v[0]) for k, v in PERIODS.items()], required=False
    )
    start = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label="Until", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    sender = _text("Conversation ID")
    user = _text("User ID")
    intent = _text("Intent")
    flow = _text("Flow")
    action = _text("Response or action")
    tag = forms.ModelChoiceField(
        label="Tag", queryset=Tag.objects.none(), to_field_name="name", required=False
    )
    channel = _text("Channel", 64)
    language = _text("Language", 16)
    model = _text("Model version", 128)
    slot = _text("Slot")
    slot_value = _text("Slot value", 1000)
    reviewed = forms.ChoiceField(
        label="Reviewed",
        choices=[("", "Any"), ("yes", "Reviewed"), ("no", "Not reviewed")],
        required=False,
    )
    min_messages = forms.IntegerField(
        label="At least N user messages", min_value=0, max_value=1_000_000, required=False
    )
    max_messages = forms.IntegerField(
        label="At most N user messages", min_value=0, max_value=1_000_000, required=False
    )
    text = _text("Text", 200)
    # The analytics drill-downs: what the session counted for in the rollups of its day.
    outcome = forms.ChoiceField(
        label="Outcome", choices=drilldown.outcome_choices(), required=False
    )
    flow_outcome = forms.ChoiceField(
        label="What the flow did", choices=drilldown.flow_outcome_choices(), required=False
    )
    page = forms.IntegerField(
        min_value=1, max_value=MAX_PAGE, required=False, widget=forms.HiddenInput
    )

    def __init__(self, data=None, *, assistant, **kwargs):
        super().__init__(data, **kwargs)
        self.assistant = assistant
        self.fields["tag"].queryset = Tag.objects.filter(assistant=assistant)
        self.is_valid()  # fills cleaned_data and errors; invalid fields are left out

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            self.add_error("end", "The end date is before the start date.")
        chosen = data or {}
        if chosen.get("flow_outcome") and not chosen.get("flow") and "flow" not in self.errors:
            self.add_error("flow_outcome", "Name the flow (the Flow filter) as well.")
        low, high = data.get("min_messages"), data.get("max_messages")
        if low is not None and high is not None and low > high:
            self.add_error("max_messages", "The maximum is below the minimum.")
        return data

    def filters(self) -> dict:
        data = {}
        for name in self.fields:
            if name in self.errors:
                continue
            value = self.cleaned_data.get(name)
            if value not in (None, ""):
                data[name] = value
        period = data.get("period") or (
            "custom" if data.get("start") or data.get("end") else DEFAULT_PERIOD
        )
        data["period"] = period
        if period != "custom":
            data.pop("start", None)
            data.pop("end", None)
        return data

    def with_outcomes(self, qs, filters: dict):
        """`qs` narrowed by the outcome filters (the analytics session facts)."""
        if "outcome" not in filters and "flow_outcome" not in filters:
            return qs
        ids = drilldown.conversation_ids(
            self.assistant,
            outcome=filters.get("outcome", ""),
            flow=filters.get("flow", ""),
            flow_outcome=filters.get("flow_outcome", ""),
        )
        return qs.filter(pk__in=ids)

    def time_range(self, filters: dict) -> tuple[datetime | None, datetime | None]:
        period = filters["period"]
        if period == "custom":
            zone = timezone.get_current_timezone()
            start = filters.get("start")
            end = filters.get("end")
            return (
                datetime.combine(start, time.min, tzinfo=zone) if start else None,
                datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone) if end else None,
            )
        span = PERIODS[period][1]
        return (timezone.now() - span if span else None, None)


class SelectionForm(forms.Form):
    """Conversations picked on the list (or the one being viewed)."""

    ids = forms.ModelMultipleChoiceField(queryset=Conversation.objects.none())
    next = forms.CharField(required=False, max_length=4000)

    def __init__(self, *args, assistant, **kwargs):
        super().__init__(*args, **kwargs)
        self.assistant = assistant
        self.fields["ids"].queryset = Conversation.objects.filter(assistant=assistant)
        self.fields["ids"].error_messages["required"] = "Select at least one conversation."

    def clean_ids(self):
        chosen = self.cleaned_data["ids"]
        if len(chosen) > 1000:
            raise forms.ValidationError("Select at most 1000 conversations at a time.")
        return chosen


class ReviewForm(SelectionForm):
    ACTIONS = [
        ("reviewed", "Mark reviewed"),
        ("unreviewed", "Mark not reviewed"),
        ("tag", "Add tag"),
        ("untag", "Remove tag"),
    ]
    action = forms.ChoiceField(choices=ACTIONS)
    tag = forms.ModelChoiceField(queryset=Tag.objects.none(), required=False)

    def __init__(self, *args, assistant, **kwargs):
        super().__init__(*args, assistant=assistant, **kwargs)
        self.fields["tag"].queryset = Tag.objects.filter(assistant=assistant)

    def clean(self):
        data = super().clean()
        if data.get("action") in ("tag", "untag") and not data.get("tag"):
            self.add_error("tag", "Choose a tag.")
        return data


class TagForm(forms.ModelForm):
    class Meta:
        model = Tag
        fields = ["name", "colour"]
        widgets = {"colour": forms.TextInput(attrs={"type": "color"})}

    def __init__(self, *args, assistant, **kwargs):
        super().__init__(*args, **kwargs)
        self.assistant = assistant

    def clean_name(self):
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise forms.ValidationError("Give the tag a name.")
        clash = Tag.objects.filter(assistant=self.assistant, name__iexact=name)
        if self.instance.pk:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError(f"There is already a tag called {name!r}.")
        return name

    def save(self, commit=True):
        self.instance.assistant = self.assistant
        return super().save(commit)


class AddExampleForm(forms.Form):
    """A user message as an NLU example: the intent and the text with entities marked in
    Rasa's annotation syntax, e.g. ``send [50](amount) to [Joe](recipient)``."""

    intent = forms.ModelChoiceField(queryset=None, to_field_name="name")
    example = forms.CharField(
        label="Example",
        max_length=2000,
        strip=False,
        widget=forms.TextInput,
        help_text='Mark entities as [text](entity) or [text]{"entity": "e", "role": "r"}.',
    )

    def __init__(self, *args, assistant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["intent"].queryset = assistant.intents.order_by("name")

    def clean_example(self):
        raw = self.cleaned_data["example"]
        if "\x00" in raw:
            raise forms.ValidationError("The example contains a NUL character.")
        try:
            parsed = formats.parse_example(raw.strip())
        except formats.AnnotationError as exc:
            raise forms.ValidationError(f"Cannot read the entity markup: {exc}") from None
        if not parsed.text.strip():
            raise forms.ValidationError("The example has no text.")
        return parsed
