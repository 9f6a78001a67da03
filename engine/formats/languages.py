"""An assistant's languages, as Rasa Pro keeps them.

* ``config.yml`` names the default ``language`` and the ``additional_languages`` (a list). Each is
  a BCP 47 tag in its canonical spelling (``en``, ``de``, ``pt-BR``, ``zh-Hant-TW``) or a custom
  key ``x-<tag>-<label>`` (``x-de-formal``), which Rasa labels by its base language.
* Texts carry their translations where Rasa reads them: ``translation: {lang: text}`` on a
  response variation, ``translation: {lang: {title, payload}}`` on a button, and
  ``translation: {lang: {name}}`` on a flow.
* Rasa adds the built-in ``language`` slot (strict categorical over the languages, the default
  language as its initial value, filled by nothing but the conversation's own events): its value
  is the conversation's language, and the texts of that language are used where they exist.

`language_problem` says what is wrong with a code; `check_languages` reports config.yml's
language keys; `with_languages` rewrites them keeping the file's comments and other keys.
"""

from __future__ import annotations

import io
import re
from typing import Any

from engine.formats.slots import Slot, SlotMapping

LANGUAGE_SLOT = "language"
CUSTOM_PREFIX = "x-"

#: ISO 639-1: the two-letter language subtags (BCP 47 uses them in place of the three-letter
#: codes of the same languages).
ISO_639_1 = frozenset(
    """
    aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy
    da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu
    hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb
    lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om
    or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw
    ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu
    """.split()  # noqa: SIM905 (a table, easier to read than a list of quoted codes)
)
#: Three-letter codes that BCP 47 spells with their two-letter subtag (a tag must be canonical,
#: as Rasa requires: ``deu`` is refused, ``de`` is meant).
_THREE_LETTER_ALIASES = {
    "eng": "en",
    "deu": "de",
    "ger": "de",
    "fra": "fr",
    "fre": "fr",
    "spa": "es",
    "ita": "it",
    "por": "pt",
    "nld": "nl",
    "dut": "nl",
    "rus": "ru",
    "zho": "zh",
    "chi": "zh",
    "jpn": "ja",
    "kor": "ko",
    "ara": "ar",
    "pol": "pl",
    "tur": "tr",
    "swe": "sv",
    "dan": "da",
    "fin": "fi",
    "nor": "no",
    "ces": "cs",
    "cze": "cs",
    "ell": "el",
    "gre": "el",
    "heb": "he",
    "hin": "hi",
    "ukr": "uk",
}
#: Deprecated two-letter subtags and the ones that replaced them.
_DEPRECATED = {"iw": "he", "in": "id", "ji": "yi", "jw": "jv", "mo": "ro"}

_TAG = re.compile(
    r"^(?P<language>[A-Za-z]{2,3})"
    r"(?:-(?P<script>[A-Za-z]{4}))?"
    r"(?:-(?P<region>[A-Za-z]{2}|[0-9]{3}))?"
    r"(?P<variants>(?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*)$"
)


def canonical_tag(code: str) -> str | None:
    """`code` spelled as BCP 47 spells it (``pt-br`` -> ``pt-BR``), or None when it is not a
    well-formed language tag."""
    match = _TAG.match(code)
    if match is None:
        return None
    parts = [match["language"].lower()]
    if match["script"]:
        parts.append(match["script"].title())
    if match["region"]:
        parts.append(match["region"].upper())
    parts.extend(v.lower() for v in (match["variants"] or "").split("-") if v)
    return "-".join(parts)


def _tag_problem(code: str) -> str | None:
    canonical = canonical_tag(code)
    if canonical is None:
        return f"'{code}' is not a BCP 47 language code (such as 'en', 'de' or 'pt-BR')"
    language = canonical.split("-")[0]
    if language in _DEPRECATED:
        return f"'{code}' uses a retired language code: write '{_DEPRECATED[language]}'"
    if language in _THREE_LETTER_ALIASES:
        short = canonical.replace(language, _THREE_LETTER_ALIASES[language], 1)
        return f"'{code}' is not the BCP 47 spelling: write '{short}'"
    if len(language) == 2 and language not in ISO_639_1:
        return f"'{code}' is not a known language (its first part is not an ISO 639-1 code)"
    if canonical != code:
        return f"'{code}' is not written as BCP 47 writes it: write '{canonical}'"
    return None


def language_problem(code: Any) -> str | None:
    """What is wrong with `code` as a language of config.yml, or None when Rasa accepts it."""
    if not isinstance(code, str) or not code.strip():
        return "a language code must be a non-empty string"
    if code.startswith(CUSTOM_PREFIX):
        rest = code[len(CUSTOM_PREFIX) :]
        base, _, label = rest.rpartition("-")
        if not base or not label:
            return (
                f"'{code}' is not a custom language key: write x-<language>-<label>, "
                "such as 'x-de-formal'"
            )
        problem = _tag_problem(base)
        if problem is not None:
            return f"the base language of '{code}' is wrong: {problem}"
        return None
    return _tag_problem(code)


def base_language(code: str) -> str:
    """The language a code is in: ``de`` for ``de-AT`` and for ``x-de-formal``."""
    if code.startswith(CUSTOM_PREFIX):
        code = code[len(CUSTOM_PREFIX) :].rpartition("-")[0] or code
    return code.split("-")[0]


def additional_languages_of(data: dict[str, Any] | None) -> list[str]:
    """config.yml's ``additional_languages``, the strings among them (none when it is unset)."""
    value = (data or {}).get("additional_languages")
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, str)]


def check_languages(data: dict[str, Any]) -> list[tuple[str, str]]:
    """``(key path, message)`` for each error in config.yml's ``language`` and
    ``additional_languages`` (what Rasa's ``verify_config_language`` refuses)."""
    found: list[tuple[str, str]] = []
    language = data.get("language")
    if isinstance(language, str):
        problem = language_problem(language)
        if problem is not None:
            found.append(("language", f"language: {problem}"))
    if "additional_languages" not in data or data["additional_languages"] is None:
        return found
    additional = data["additional_languages"]
    if not isinstance(additional, list):
        found.append(("additional_languages", "additional_languages must be a list of codes"))
        return found
    seen: set[str] = set()
    for index, code in enumerate(additional):
        path = f"additional_languages.{index}"
        problem = language_problem(code)
        if problem is not None:
            found.append((path, f"additional_languages: {problem}"))
        elif code == language:
            found.append(
                (
                    path,
                    f"the default language '{code}' is listed in additional_languages too: "
                    "remove it from additional_languages",
                )
            )
        elif code in seen:
            found.append((path, f"additional_languages lists '{code}' twice"))
        if isinstance(code, str):
            seen.add(code)
    return found


def language_slot(language: str | None, additional: list[str]) -> Slot:
    """The built-in ``language`` slot Rasa Pro adds to every domain: strict categorical over
    the additional languages and the default one, which is its initial value."""
    values = list(additional)
    if language and language not in values:
        values.append(language)
    return Slot(
        name=LANGUAGE_SLOT,
        type="strict_categorical",
        mappings=[SlotMapping(type="controlled")],
        initial_value=language,
        influence_conversation=False,
        values=values,
    )


def with_languages(config_text: str, language: str, additional: list[str]) -> str:
    """config.yml with ``language`` and ``additional_languages`` set (the list removed when it
    is empty), its comments, quoting and other keys kept."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    if re.search(r"^- ", config_text, re.MULTILINE) is None:
        yaml.indent(mapping=2, sequence=4, offset=2)  # lists indented under their key
    data = yaml.load(config_text) if config_text.strip() else None
    if not isinstance(data, CommentedMap):
        data = CommentedMap()
    current = data.get("additional_languages")
    if data.get("language") == language and (
        (list(current) if isinstance(current, list) else []) == list(additional)
    ):
        return config_text
    if "language" in data:
        data["language"] = language
    else:
        data.insert(1 if "recipe" in data else 0, "language", language)
    if additional:
        seq = CommentedSeq(additional)
        if "additional_languages" in data:
            data["additional_languages"] = seq
        else:
            data.insert(list(data.keys()).index("language") + 1, "additional_languages", seq)
    elif "additional_languages" in data:
        del data["additional_languages"]
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


# ---------------------------------------------------------------------------------------------
# Picking the texts of a language (the running assistant; the translation pages)


def translated_text(text: Any, translation: Any, language: str | None) -> Any:
    """A variation's text in `language`: its ``translation[language]`` when there is one,
    else the default text (as Rasa falls back)."""
    if language and isinstance(translation, dict):
        value = translation.get(language)
        if isinstance(value, str) and value != "":
            return value
    return text


def translated_button(button: dict[str, Any], language: str | None) -> dict[str, Any]:
    """A button in `language`: its title and payload from ``translation[language]`` where they
    are given, the rest as it is, without the ``translation`` key (key order kept)."""
    translation = button.get("translation")
    own = translation.get(language) if language and isinstance(translation, dict) else None
    own = own if isinstance(own, dict) else {}
    return {
        key: (own[key] if key in own and own[key] not in (None, "") else value)
        for key, value in button.items()
        if key != "translation"
    }


def has_translation(translation: Any, language: str | None) -> bool:
    return bool(language) and isinstance(translation, dict) and bool(translation.get(language))


def translated_flow_name(flow_name: str | None, translation: Any, language: str | None) -> Any:
    """A flow's readable name in `language` (``translation[language].name``), else its name."""
    if language and isinstance(translation, dict):
        own = translation.get(language)
        if isinstance(own, dict) and isinstance(own.get("name"), str) and own["name"]:
            return own["name"]
    return flow_name
