"""The Languages settings page (config.yml's language and additional_languages) and the
translation page of each additional language, with the default texts as reference."""

from __future__ import annotations

from django.conf.locale import LANG_INFO
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse

from apps.accounts.roles import Cap
from apps.flows.forms.languages import LanguagesForm
from apps.flows.services import translations
from apps.projects.access import assistant_view
from apps.projects.content.checks import ContentInvalid
from apps.projects.models import AssistantFiles
from apps.projects.shortcuts import render_form
from engine import formats


def language_label(code: str) -> str:
    """A person's name for a code: ``German`` for de, ``German (formal)`` for x-de-formal."""
    custom = code.startswith("x-")
    base_code = code[2:].rpartition("-")[0] if custom else code
    info = LANG_INFO.get(base_code.lower()) or LANG_INFO.get(formats.base_language(code))
    if not isinstance(info, dict) or not info.get("name"):
        return code
    name = info["name"]
    if custom:
        return f"{name} ({code.rpartition('-')[2]})"
    if info.get("code") != base_code.lower() and "-" in base_code:
        return f"{name} ({base_code.partition('-')[2]})"
    return str(name)


def _rows(assistant, langs: translations.Languages) -> list[dict]:
    counts = translations.missing_counts(assistant, langs.additional)
    rows = [{"code": langs.default, "label": language_label(langs.default), "default": True}]
    for code in langs.additional:
        missing, total = counts[code]
        rows.append(
            {
                "code": code,
                "label": language_label(code),
                "default": False,
                "missing": missing,
                "total": total,
            }
        )
    return rows


@assistant_view(Cap.MANAGE_SETTINGS)
def languages(request, assistant):
    """The assistant's languages: edit config.yml's language and additional_languages (a
    change of the default must be confirmed), and see how much is translated."""
    langs = translations.languages_of(assistant)
    files, _ = AssistantFiles.objects.get_or_create(assistant=assistant)
    form = LanguagesForm(
        request.POST or None,
        current_default=langs.default,
        initial={"language": langs.default, "additional_languages": "\n".join(langs.additional)},
    )
    if request.method == "POST" and form.is_valid():
        language = form.cleaned_data["language"]
        additional = form.cleaned_data["additional_languages"]
        try:
            text = formats.with_languages(files.config_yml, language, additional)
        except Exception as exc:  # the stored config.yml is not YAML
            form.add_error(
                None,
                f"config.yml cannot be read ({str(exc).splitlines()[0][:200]}): fix it on the "
                "config.yml page first.",
            )
        else:
            files.config_yml = text
            files.save(update_fields=["config_yml", "updated_at"])
            if assistant.language != language and len(language) <= 16:
                assistant.language = language
                assistant.save(update_fields=["language", "updated_at"])
            messages.success(request, "Languages saved in config.yml.")
            return redirect("flows:languages", assistant.name)
    return render_form(
        request,
        "flows/languages.html",
        {
            "assistant": assistant,
            "form": form,
            "rows": _rows(assistant, langs),
            "default": langs.default,
            "default_label": language_label(langs.default),
            "needs_confirmation": form.needs_confirmation,
        },
    )


def _posted_values(request) -> dict[str, str]:
    return {
        key[2:]: value
        for key, value in request.POST.items()
        if key.startswith("t:") and len(value) <= formats.limits.TEXT
    }


@assistant_view(Cap.VIEW_FLOWS, write=Cap.EDIT_FLOWS)
def translation_page(request, assistant):
    """The texts of every response, button and flow name in the default language beside their
    translation into ``?language=`` (the first additional language by default)."""
    langs = translations.languages_of(assistant)
    if not langs.additional:
        return render(
            request,
            "flows/translations.html",
            {"assistant": assistant, "rows": _rows(assistant, langs), "language": None},
        )
    language = request.GET.get("language") or request.POST.get("language") or langs.additional[0]
    if language not in langs.additional:
        raise Http404("That is not one of the assistant's additional languages.")
    problems: list = []
    if request.method == "POST":
        try:
            changed = translations.save_translations(
                assistant, language, _posted_values(request), user=request.user
            )
        except ContentInvalid as exc:
            problems = exc.problems
        else:
            messages.success(
                request,
                f"Translations into {language_label(language)} saved"
                + (f" ({changed} changed)." if changed else " (nothing changed)."),
            )
            url = reverse("flows:translations", args=[assistant.name])
            missing = "&missing=1" if request.POST.get("missing") else ""
            return redirect(f"{url}?language={language}{missing}")
    items = translations.translation_units(assistant, language)
    only_missing = bool(request.GET.get("missing") or request.POST.get("missing"))
    shown = [i for i in items if i.missing] if only_missing else items
    return render_form(
        request,
        "flows/translations.html",
        {
            "assistant": assistant,
            "rows": _rows(assistant, langs),
            "language": language,
            "language_label": language_label(language),
            "default": langs.default,
            "default_label": language_label(langs.default),
            "responses": [i for i in shown if i.kind == "response"],
            "flows": [i for i in shown if i.kind == "flow"],
            "missing": sum(i.missing for i in items),
            "only_missing": only_missing,
            "problems": problems,
            "text_max": formats.limits.TEXT,
        },
    )
