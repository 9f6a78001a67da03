"""Responses: choosing a variation and filling it in.

Choice, as Rasa's templated NLG does it:

1. Variations whose ``condition`` holds (the legacy list ``[{type: slot, name, value}]``, all
   items must match; or a condition string over ``slots.*``/``context.*``) take precedence
   over variations without a condition; variations whose condition fails are never used.
2. Among those, variations for the message's input channel take precedence over variations
   without a ``channel``; variations for other channels are never used.
3. In a conversation whose ``language`` slot names another language than the default one, the
   variations with a ``translation`` for it take precedence (all of them when none has one).
4. One of the remaining variations is picked at random (a seedable RNG).

Language: the variation's text is its ``translation[language]`` and each button's title and
payload are the button's ``translation[language]`` ones, where those are given; the default
texts otherwise (Rasa Pro's translated responses). The language is the ``language`` slot's value.

Filling: ``{slot}`` and ``{context.key}`` (also ``{{ context.key }}``) are replaced in text,
button titles and payloads, image urls and custom payloads; unknown names are left as written.
"""

from __future__ import annotations

import random
import re
from typing import Any, cast

from engine.formats import (
    LANGUAGE_SLOT,
    ConditionError,
    Response,
    ResponseVariation,
    evaluate,
    has_translation,
    translated_button,
    translated_text,
)

__all__ = ["fill", "render_response"]

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*\}\}|\{([A-Za-z_][\w.]*)\}")


def _lookup(name: str, values: dict[str, Any], context: dict[str, Any]) -> Any:
    if name.startswith("context."):
        base: Any = context
        for part in name.split(".")[1:]:
            if isinstance(base, dict) and part in base:
                base = base[part]
            else:
                raise KeyError(name)
        return base
    if name.startswith("slots.") and name[6:] in values:
        return values[name[6:]]
    if name in values:
        return values[name]
    raise KeyError(name)


def fill(template: Any, values: dict[str, Any], context: dict[str, Any] | None = None) -> Any:
    """`template` with placeholders replaced (recursively for dicts and lists)."""
    context = context or {}
    if isinstance(template, str):
        if "{" not in template:
            return template

        def replace(match: re.Match[str]) -> str:
            name = match.group(1) or match.group(2)
            try:
                return str(_lookup(name, values, context))
            except KeyError:
                return match.group(0)

        return _PLACEHOLDER.sub(replace, template)
    if isinstance(template, dict):
        return {k: fill(v, values, context) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, values, context) for v in template]
    return template


def _legacy_matches(condition: list[dict[str, Any]], slots: dict[str, Any]) -> bool:
    for item in condition:
        if item.get("type", "slot") != "slot":
            return False
        name = item.get("name")
        actual = slots.get(name) if isinstance(name, str) else None
        expected = item.get("value")
        if actual != expected and not (
            actual is not None and expected is not None and str(actual) == str(expected)
        ):
            return False
    return True


def _condition_holds(
    var: ResponseVariation, slots: dict[str, Any], context: dict[str, Any]
) -> bool:
    condition = var.condition
    if isinstance(condition, list):
        return _legacy_matches(condition, slots)
    if isinstance(condition, str):
        try:
            return evaluate(condition, slots, context)
        except ConditionError:
            return False
    return True


def choose_variation(
    response: Response,
    slots: dict[str, Any],
    channel: str | None,
    rng: random.Random,
    context: dict[str, Any] | None = None,
) -> ResponseVariation | None:
    context = context or {}
    conditional = [
        v for v in response.variations if v.condition and _condition_holds(v, slots, context)
    ]
    pool = conditional or [v for v in response.variations if not v.condition]
    on_channel = [v for v in pool if channel is not None and v.channel == channel]
    pool = on_channel or [v for v in pool if not v.channel]
    if not pool:
        return None
    language = slots.get(LANGUAGE_SLOT)
    if language:
        pool = [v for v in pool if has_translation(v.translation, language)] or pool
    return pool[0] if len(pool) == 1 else rng.choice(pool)


def render_response(
    response: Response,
    slots: dict[str, Any],
    channel: str | None,
    rng: random.Random,
    context: dict[str, Any] | None = None,
    extra_values: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """The filled message of a chosen variation (keys: text, buttons, image, custom,
    attachment, elements, quick_replies, metadata; absent ones are None), or None."""
    var = choose_variation(response, slots, channel, rng, context)
    if var is None:
        return None
    values = {**slots, **(extra_values or {})}
    language = slots.get(LANGUAGE_SLOT)
    buttons = None
    if var.buttons is not None:
        buttons = [
            translated_button(
                {
                    "title": b.title,
                    **({"payload": b.payload} if b.payload is not None else {}),
                    **b.extra,
                },
                language,
            )
            for b in var.buttons
        ]
    message = {
        "text": translated_text(var.text, var.translation, language),
        "buttons": buttons,
        "image": var.image,
        "custom": var.custom,
        "attachment": var.extra.get("attachment"),
        "elements": var.extra.get("elements"),
        "quick_replies": var.extra.get("quick_replies"),
    }
    message = cast("dict[str, Any]", fill(message, values, context))
    message["metadata"] = dict(var.metadata or {})
    if var.id is not None:
        message["metadata"].setdefault("id", var.id)
    return message
