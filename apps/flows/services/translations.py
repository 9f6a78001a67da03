"""Translations of an assistant's texts, kept where Rasa Pro reads them.

The texts of the default language are the responses' variation texts, their buttons' titles and
payloads, and the flows' names. A translation into another language sits beside each:
``translation: {de: text}`` on a variation, ``translation: {de: {title, payload}}`` on a button,
``translation: {de: {name}}`` on a flow. Images, links inside texts and custom payloads are not
translated by Rasa and are not listed.

`translation_units` lists every text with its translation (the translation page), `missing_counts`
counts the untranslated ones per language (the badges), `save_translations` stores what a person
typed, all of it in one checked change.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from django.db import transaction

from apps.flows.models import Flow, Response
from apps.flows.services.flows import _store, parse_definition
from apps.projects.content.checks import check_change
from apps.projects.models import Assistant, AssistantFiles
from engine import formats


@dataclass(frozen=True)
class Languages:
    """config.yml's languages: the default one and the additional ones."""

    default: str
    additional: tuple[str, ...]

    @property
    def all(self) -> tuple[str, ...]:
        return (self.default, *self.additional)


def languages_of(assistant: Assistant) -> Languages:
    """The assistant's languages, as its config.yml names them (its `language` field when
    config.yml names none or cannot be read)."""
    files = AssistantFiles.objects.filter(assistant=assistant).first()
    text = files.config_yml if files is not None else ""
    try:
        config = formats.ConfigFile.parse(text, "config.yml")
    except formats.FormatError:
        return Languages(assistant.language, ())
    default = config.language if isinstance(config.language, str) else assistant.language
    additional = tuple(dict.fromkeys(c for c in config.additional_languages if c and c != default))
    return Languages(default or assistant.language, additional)


@dataclass(frozen=True)
class Unit:
    """One text to translate. `key` names it in a form; `required` units count as missing
    when they have no translation (a button's payload need not be translated)."""

    key: str
    kind: str  # "text", "title", "payload" or "name"
    reference: str
    translation: str
    required: bool = True

    @property
    def missing(self) -> bool:
        return self.required and not self.translation


@dataclass
class Item:
    """A response or a flow with its units (for the page: grouped per variation)."""

    kind: str  # "response" or "flow"
    name: str
    variations: list[dict]  # [{"label", "condition", "channel", "units": [Unit]}]

    @property
    def units(self) -> list[Unit]:
        return [u for v in self.variations for u in v["units"]]

    @property
    def missing(self) -> int:
        return sum(1 for u in self.units if u.missing)


def _own(translation, language: str):
    return translation.get(language) if isinstance(translation, dict) else None


def _variation_units(name: str, index: int, variation: dict, language: str) -> list[Unit]:
    units = []
    text = variation.get("text")
    if isinstance(text, str) and text != "":
        own = _own(variation.get("translation"), language)
        units.append(
            Unit(f"r|{name}|{index}|text", "text", text, own if isinstance(own, str) else "")
        )
    for b_index, button in enumerate(variation.get("buttons") or []):
        if not isinstance(button, dict):
            continue
        own = _own(button.get("translation"), language)
        own = own if isinstance(own, dict) else {}
        base = f"r|{name}|{index}|b{b_index}"
        title = button.get("title")
        if isinstance(title, str) and title != "":
            units.append(Unit(f"{base}|title", "title", title, str(own.get("title") or "")))
        payload = button.get("payload")
        if isinstance(payload, str) and payload != "":
            units.append(
                Unit(
                    f"{base}|payload",
                    "payload",
                    payload,
                    str(own.get("payload") or ""),
                    required=False,
                )
            )
    return units


def _condition_label(condition) -> str:
    if isinstance(condition, str):
        return condition
    if isinstance(condition, list):
        return " and ".join(
            f"{c.get('name')} = {c.get('value')!r}" for c in condition if isinstance(c, dict)
        )
    return ""


def response_items(assistant: Assistant, language: str) -> list[Item]:
    items = []
    for response in Response.objects.filter(assistant=assistant).order_by("name"):
        variations = []
        for index, variation in enumerate(response.variations or []):
            if not isinstance(variation, dict):
                continue
            units = _variation_units(response.name, index, variation, language)
            if units:
                variations.append(
                    {
                        "label": f"Variation {index + 1}",
                        "condition": _condition_label(variation.get("condition")),
                        "channel": variation.get("channel") or "",
                        "units": units,
                    }
                )
        if variations:
            items.append(Item("response", response.name, variations))
    return items


def flow_items(assistant: Assistant, language: str) -> list[Item]:
    items = []
    for flow in Flow.objects.filter(assistant=assistant).order_by("name"):
        own = _own((flow.definition or {}).get("translation"), language)
        name = own.get("name") if isinstance(own, dict) else None
        unit = Unit(f"f|{flow.name}|name", "name", flow.title or flow.name, name or "")
        items.append(
            Item(
                "flow", flow.name, [{"label": "", "condition": "", "channel": "", "units": [unit]}]
            )
        )
    return items


def translation_units(assistant: Assistant, language: str) -> list[Item]:
    """Every response and flow with its texts and their translations into `language`."""
    return response_items(assistant, language) + flow_items(assistant, language)


def missing_counts(assistant: Assistant, languages) -> dict[str, tuple[int, int]]:
    """{language: (missing, total)}: the texts without a translation into each language, and
    how many need one."""
    responses = list(Response.objects.filter(assistant=assistant))
    flows = list(Flow.objects.filter(assistant=assistant))
    counts = {}
    for language in languages:
        units = [
            unit
            for response in responses
            for index, variation in enumerate(response.variations or [])
            if isinstance(variation, dict)
            for unit in _variation_units(response.name, index, variation, language)
            if unit.required
        ]
        missing = sum(1 for u in units if u.missing)
        for flow in flows:
            own = _own((flow.definition or {}).get("translation"), language)
            if not (isinstance(own, dict) and own.get("name")):
                missing += 1
        counts[language] = (missing, len(units) + len(flows))
    return counts


# ---------------------------------------------------------------------------------------------
# Saving


def _set_text(holder: dict, language: str, value: str) -> None:
    translation = dict(holder.get("translation") or {})
    if value:
        translation[language] = value
    else:
        translation.pop(language, None)
    if translation:
        holder["translation"] = translation
    else:
        holder.pop("translation", None)


def _set_button(button: dict, language: str, key: str, value: str) -> None:
    translation = dict(button.get("translation") or {})
    own = dict(translation.get(language) or {})
    if value:
        own[key] = value
    else:
        own.pop(key, None)
    if own:
        translation[language] = own
    else:
        translation.pop(language, None)
    if translation:
        button["translation"] = translation
    else:
        button.pop("translation", None)


def _translated_variations(response: Response, language: str, values: dict[str, str]) -> list:
    variations = copy.deepcopy(response.variations or [])
    for index, variation in enumerate(variations):
        if not isinstance(variation, dict):
            continue
        key = f"r|{response.name}|{index}|text"
        if key in values:
            _set_text(variation, language, values[key])
        for b_index, button in enumerate(variation.get("buttons") or []):
            if not isinstance(button, dict):
                continue
            for part in ("title", "payload"):
                key = f"r|{response.name}|{index}|b{b_index}|{part}"
                if key in values:
                    _set_button(button, language, part, values[key])
    return variations


def _translated_definition(flow: Flow, language: str, value: str) -> dict:
    definition = copy.deepcopy(flow.definition or {})
    translation = dict(definition.get("translation") or {})
    own = dict(translation.get(language) or {})
    if value:
        own["name"] = value
        translation[language] = own
    else:
        translation.pop(language, None)  # Rasa's schema needs a name in each language's entry
    if translation:
        definition["translation"] = translation
    else:
        definition.pop("translation", None)
    return definition


@transaction.atomic
def save_translations(
    assistant: Assistant, language: str, values: dict[str, str], *, user=None
) -> int:
    """Store the translations into `language` that `values` gives ({unit key: text}, an empty
    text removes the translation). Checked as one change (ContentInvalid: nothing is stored);
    returns how many responses and flows changed."""
    values = {k: v.strip() for k, v in values.items()}
    responses = {}
    for response in Response.objects.filter(assistant=assistant):
        variations = _translated_variations(response, language, values)
        if variations != response.variations:
            responses[response.name] = (response, variations)
    flows = {}
    for flow in Flow.objects.filter(assistant=assistant):
        key = f"f|{flow.name}|name"
        if key not in values:
            continue
        definition = _translated_definition(flow, language, values[key])
        if definition != flow.definition:
            flows[flow.name] = (flow, formats.flow_to_dict(parse_definition(flow.name, definition)))
    if not responses and not flows:
        return 0

    def change(project: formats.Project) -> None:
        parsed = {}
        for name, (_, variations) in responses.items():
            collector = formats.ProblemCollector(file=None)
            parsed[name] = formats.parse_responses({name: copy.deepcopy(variations)}, collector)[0]
        project.domain.responses = [parsed.get(r.name, r) for r in project.domain.responses]
        project.flows = [
            parse_definition(f.id, flows[f.id][1]) if f.id in flows else f for f in project.flows
        ]

    check_change(assistant, change, "responses" if responses else "flows")
    for response, variations in responses.values():
        response.variations = variations
        response.save(update_fields=["variations"])
    for flow, definition in flows.values():
        _store(flow, definition, user, f"Translated the name into {language}")
    return len(responses) + len(flows)
