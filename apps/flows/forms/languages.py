"""The Languages settings form: the default language and the additional ones, each checked as
Rasa Pro checks config.yml's codes (BCP 47, or an ``x-<language>-<label>`` custom key)."""

from __future__ import annotations

import re

from django import forms

from engine import formats


def split_codes(text: str) -> list[str]:
    """The codes of a list typed one per line, or separated by commas or spaces."""
    return [c for c in re.split(r"[\s,]+", text or "") if c]


class LanguagesForm(forms.Form):
    language = forms.CharField(
        label="Default language",
        max_length=64,
        help_text="config.yml's language: a BCP 47 code such as en, de or pt-BR.",
    )
    additional_languages = forms.CharField(
        label="Additional languages",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=(
            "config.yml's additional_languages, one per line: BCP 47 codes, or custom keys "
            "such as x-de-formal (x-<language>-<label>)."
        ),
    )
    confirm_default = forms.BooleanField(
        required=False,
        label="Yes, change the default language",
        widget=forms.CheckboxInput(),
    )

    def __init__(self, *args, current_default: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.current_default = current_default
        self.needs_confirmation = False

    def clean_language(self) -> str:
        code = self.cleaned_data["language"].strip()
        problem = formats.language_problem(code)
        if problem is not None:
            raise forms.ValidationError(f"Default language: {problem}.")
        return code

    def clean_additional_languages(self) -> list[str]:
        codes = split_codes(self.cleaned_data.get("additional_languages") or "")
        errors = []
        seen: list[str] = []
        for code in codes:
            problem = formats.language_problem(code)
            if problem is not None:
                errors.append(f"Additional languages: {problem}.")
            elif code in seen:
                errors.append(f"Additional languages: '{code}' is listed twice.")
            else:
                seen.append(code)
        if errors:
            raise forms.ValidationError(errors)
        return seen

    def clean(self):
        data = super().clean() or {}
        language = data.get("language")
        additional = data.get("additional_languages")
        if language and additional and language in additional:
            self.add_error(
                "additional_languages",
                f"Additional languages: '{language}' is the default language; remove it here.",
            )
        if (
            language
            and language != self.current_default
            and not data.get("confirm_default")
            and not self.errors
        ):
            self.needs_confirmation = True
            self.add_error(
                "confirm_default",
                f"Changing the default language from {self.current_default} to {language} is "
                "destructive: tick the box to confirm.",
            )
        return data
