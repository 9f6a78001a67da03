from django import forms

from apps.testing.suites import PATH_PATTERN

MAX_FILE_CHARACTERS = 1_000_000


class CaseFileForm(forms.Form):
    path = forms.CharField(
        label="File",
        max_length=300,
        help_text="Under tests/, e.g. tests/e2e/greeting.yml (exported where it is named).",
        widget=forms.TextInput(attrs={"pattern": PATH_PATTERN.pattern, "spellcheck": "false"}),
    )
    text = forms.CharField(
        label="Test cases (YAML)",
        max_length=MAX_FILE_CHARACTERS,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 24, "class": "code", "spellcheck": "false"}),
    )
    original = forms.CharField(required=False, widget=forms.HiddenInput, max_length=300)


class RunForm(forms.Form):
    version = forms.IntegerField(min_value=1, max_value=10**12)
