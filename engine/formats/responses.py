"""Responses: the `Response` dataclass with its variations and buttons, how a ``responses``
mapping is parsed (`parse_responses`, with the URL schemes images and buttons may use) and
written back (`variation_to_yaml`, `responses_to_yaml`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from engine.formats._check import Checker, describe, source_field
from engine.formats.errors import ProblemCollector, join_path


@dataclass
class Button:
    title: str
    payload: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ResponseVariation:
    """One variation of a response.

    `condition` is either the legacy list ``[{type: slot, name, value}]`` or a condition string.
    """

    text: str | None = None
    buttons: list[Button] | None = None
    image: str | None = None
    custom: dict[str, Any] | None = None
    channel: str | None = None
    condition: list[dict[str, Any]] | str | None = None
    metadata: dict[str, Any] | None = None
    id: str | None = None
    translation: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    source_line: int | None = source_field()


@dataclass
class Response:
    name: str
    variations: list[ResponseVariation] = field(default_factory=list)
    source_file: str | None = source_field()
    source_line: int | None = source_field()


_VARIATION_KEYS = (
    "text",
    "buttons",
    "image",
    "custom",
    "channel",
    "condition",
    "metadata",
    "id",
    "translation",
    "button_type",
    "quick_replies",
    "attachment",
    "elements",
    "allow_interruptions",
)
_BUTTON_KEYS = ("title", "payload", "translation", "url", "type")


def parse_responses(
    value: Any, collector: ProblemCollector, path: str = "responses"
) -> list[Response]:
    """Parse a ``responses`` mapping (from the domain or a data file)."""
    check = Checker(collector)
    responses = []
    named = check.named_items(value, path, "responses", noun="response name")
    for name, variations, resp_path in named:
        items = check.seq(variations, resp_path, f"response '{name}' (a list of variations)")
        if items is None:
            continue
        response = Response(
            name=name, source_file=collector.file, source_line=collector.line_for(resp_path)
        )
        if not items:
            check.error(resp_path, f"response '{name}' has no variations")
        for index, item in enumerate(items):
            var_path = join_path(resp_path, index)
            variation = _parse_variation(check, item, var_path, name)
            if variation is not None:
                variation.source_line = collector.line_for(var_path)
                response.variations.append(variation)
        responses.append(response)
    return responses


def _parse_variation(check: Checker, item: Any, path: str, name: str) -> ResponseVariation | None:
    spec = check.mapping(item, path, f"a variation of response '{name}'")
    if spec is None:
        return None
    check.keys(
        spec, path, _VARIATION_KEYS, what=f"a variation of response '{name}'", unknown="warning"
    )
    var = ResponseVariation()
    for key, val in spec.items():
        key_path = join_path(path, key)
        if key in ("text", "image", "channel", "id"):
            if val is None:
                continue
            if key == "text" and isinstance(val, (int, float)) and not isinstance(val, bool):
                check.error(key_path, f'response text must be a string; quote it ("{val}")')
                continue
            text = check.string(val, key_path, key, allow_empty=key == "text")
            if key == "image" and text is not None and not _url_allowed(text, IMAGE_SCHEMES):
                check.error(key_path, _url_message("image", text, IMAGE_SCHEMES))
                continue
            setattr(var, key, text)
        elif key == "buttons":
            var.buttons = _parse_buttons(check, val, key_path)
        elif key in ("custom", "metadata", "translation"):
            if val is not None:
                setattr(var, key, check.mapping(val, key_path, key))
        elif key == "condition":
            var.condition = _parse_response_condition(check, val, key_path)
        else:
            var.extra[key] = val
    if (
        var.text is None
        and var.image is None
        and var.custom is None
        and var.buttons is None
        and not any(k in var.extra for k in ("attachment", "elements", "quick_replies"))
    ):
        check.error(
            path, f"a variation of response '{name}' needs 'text', 'image', 'custom' or 'buttons'"
        )
    return var


#: The URL schemes a response's image and a link button may use (anything else, such as
#: `javascript:` or `data:`, is refused).
IMAGE_SCHEMES = ("http", "https")
LINK_SCHEMES = ("http", "https", "mailto", "tel")
_SCHEME = re.compile(r"^\s*([A-Za-z][A-Za-z0-9+.-]*):")
_PLACEHOLDER = re.compile(r"^\{[A-Za-z_][A-Za-z0-9_]*\}$")


def _url_allowed(value: str, schemes: tuple[str, ...]) -> bool:
    """An absolute URL with one of `schemes`, or a whole `{slot}` placeholder filled in at
    run time (checked then by the channel)."""
    if _PLACEHOLDER.match(value.strip()):
        return True
    match = _SCHEME.match(value)
    if not match or match.group(1).lower() not in schemes:
        return False
    if match.group(1).lower() in ("http", "https"):
        rest = value.strip()[len(match.group(0).strip()) :]
        return rest.startswith("//") and len(rest) > 2
    return len(value.strip()) > len(match.group(0).strip())


def _url_message(what: str, value: Any, schemes: tuple[str, ...]) -> str:
    allowed = ", ".join(f"{s}:" for s in schemes)
    return f"{what} {str(value)[:80]!r} is not allowed: use an absolute URL starting with {allowed}"


def _parse_buttons(check: Checker, value: Any, path: str) -> list[Button] | None:
    items = check.seq(value, path, "buttons")
    if items is None:
        return None
    out = []
    for spec, item_path in check.mappings(items, path, "a button"):
        check.keys(
            spec, item_path, _BUTTON_KEYS, what="a button", required=("title",), unknown="warning"
        )
        title = (
            check.string(
                spec.get("title"), join_path(item_path, "title"), "button title", allow_empty=True
            )
            if "title" in spec
            else None
        )
        if title is None:
            continue
        button = Button(title=title)
        for key, val in spec.items():
            if key == "title":
                continue
            if key == "payload":
                button.payload = check.string(
                    val, join_path(item_path, key), "button payload", allow_empty=True
                )
            else:
                if key == "url" and not (isinstance(val, str) and _url_allowed(val, LINK_SCHEMES)):
                    check.error(
                        join_path(item_path, key), _url_message("button url", val, LINK_SCHEMES)
                    )
                    continue
                button.extra[key] = val
        out.append(button)
    return out


def _parse_response_condition(
    check: Checker, value: Any, path: str
) -> list[dict[str, Any]] | str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    items = check.seq(value, path, "a response condition (a condition string or a list)")
    if items is None:
        return None
    out = []
    for spec, item_path in check.mappings(items, path, "a response condition"):
        check.keys(
            spec,
            item_path,
            ("type", "name", "value"),
            what="a response condition",
            required=("type", "name", "value"),
        )
        if spec.get("type", "slot") != "slot":
            check.error(
                join_path(item_path, "type"),
                f"response condition type must be 'slot', not {describe(spec.get('type'))}",
            )
        out.append(spec)
    return out


def variation_to_yaml(var: ResponseVariation) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("id", "text", "image"):
        value = getattr(var, key)
        if value is not None:
            out[key] = value
    if var.buttons is not None:
        out["buttons"] = [
            {
                "title": b.title,
                **({"payload": b.payload} if b.payload is not None else {}),
                **b.extra,
            }
            for b in var.buttons
        ]
    for key in ("custom", "channel", "condition", "metadata", "translation"):
        value = getattr(var, key)
        if value is not None:
            out[key] = value
    out.update(var.extra)
    return out


def responses_to_yaml(responses: list[Response]) -> dict[str, Any]:
    return {r.name: [variation_to_yaml(v) for v in r.variations] for r in responses}
