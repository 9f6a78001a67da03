"""NLU training data: intent examples with entity annotations, synonyms, regexes, lookup tables.

Annotated example text is parsed into plain text plus character offsets; all of these inline
forms are read::

    [Berlin](city)                              entity, value = the annotated text
    [NYC](city:New York)                        legacy synonym form (deprecated by Rasa)
    [Berlin]{"entity": "city", "role": "to"}    JSON form with role / group / value
    [Berlin][{"entity": "city"}, {"entity": "loc"}]   several entities on one span

`example_to_text` writes the shortest non-deprecated form: ``[text](entity)`` when only the
entity type is set and the value equals the text, the JSON form otherwise (the legacy
``(entity:value)`` form is never written, as Rasa's own writer does).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from engine.formats._check import Checker, describe
from engine.formats.errors import ProblemCollector, join_path
from engine.formats.yamlio import literal

_ENTITY_RE = re.compile(
    r"\[(?P<text>[^\]]+?)\]"
    r"(?:\((?P<entity>[^:)]+?)(?::(?P<value>[^)]+))?\)"
    r"|\{(?P<dict>[^}]+?)\}"
    r"|\[(?P<list>.*?)\])"
)
_ANNOTATION_KEYS = ("entity", "role", "group", "value")


@dataclass
class EntityAnnotation:
    """An entity in an example: ``text[start:end]`` is the annotated span."""

    start: int
    end: int
    value: Any
    entity: str
    role: str | None = None
    group: str | None = None


@dataclass
class Example:
    """A training example: plain `text` (annotations removed) and its entities."""

    text: str
    entities: list[EntityAnnotation] = field(default_factory=list)
    metadata: dict[str, Any] | None = None


@dataclass
class IntentExamples:
    """One ``- intent:`` block of an NLU file."""

    intent: str
    examples: list[Example] = field(default_factory=list)
    metadata: dict[str, Any] | None = None
    source_file: str | None = field(default=None, compare=False, repr=False)
    source_line: int | None = field(default=None, compare=False, repr=False)


@dataclass
class Synonym:
    """``name`` is the value every example text maps to."""

    name: str
    examples: list[str] = field(default_factory=list)
    source_file: str | None = field(default=None, compare=False, repr=False)
    source_line: int | None = field(default=None, compare=False, repr=False)


@dataclass
class Regex:
    name: str
    examples: list[str] = field(default_factory=list)
    source_file: str | None = field(default=None, compare=False, repr=False)
    source_line: int | None = field(default=None, compare=False, repr=False)


@dataclass
class Lookup:
    name: str
    examples: list[str] = field(default_factory=list)
    source_file: str | None = field(default=None, compare=False, repr=False)
    source_line: int | None = field(default=None, compare=False, repr=False)


@dataclass
class NluData:
    intents: list[IntentExamples] = field(default_factory=list)
    synonyms: list[Synonym] = field(default_factory=list)
    regexes: list[Regex] = field(default_factory=list)
    lookups: list[Lookup] = field(default_factory=list)

    def extend(self, other: NluData) -> None:
        self.intents.extend(other.intents)
        self.synonyms.extend(other.synonyms)
        self.regexes.extend(other.regexes)
        self.lookups.extend(other.lookups)

    def is_empty(self) -> bool:
        return not (self.intents or self.synonyms or self.regexes or self.lookups)


class AnnotationError(ValueError):
    """An entity annotation that cannot be read; `position` is its offset in the raw text."""

    def __init__(self, message: str, position: int) -> None:
        self.reason = message
        self.position = position
        super().__init__(f"{message} (at character {position + 1})")


# --------------------------------------------------------------------------------------------
# Annotated text


def parse_example(text: str, metadata: dict[str, Any] | None = None) -> Example:
    """Parse annotated example text into an `Example`; raises `AnnotationError`."""
    plain: list[str] = []
    entities: list[EntityAnnotation] = []
    last = 0
    length = 0
    for match in _ENTITY_RE.finditer(text):
        before = text[last : match.start()]
        plain.append(before)
        length += len(before)
        span = match.group("text")
        start, end = length, length + len(span)
        plain.append(span)
        length = end
        last = match.end()
        for spec in _annotation_specs(match):
            entities.append(
                EntityAnnotation(
                    start=start,
                    end=end,
                    value=spec.get("value", span),
                    entity=spec["entity"],
                    role=spec.get("role"),
                    group=spec.get("group"),
                )
            )
    plain.append(text[last:])
    return Example(text="".join(plain), entities=entities, metadata=metadata)


def _annotation_specs(match: re.Match[str]) -> list[dict[str, Any]]:
    position = match.start()
    if match.group("entity") is not None:
        spec: dict[str, Any] = {"entity": match.group("entity").strip()}
        if match.group("value") is not None:
            spec["value"] = match.group("value")
        return [spec]
    raw = match.group("dict")
    if raw is not None:
        return [_json_spec("{" + raw + "}", position)]
    raw_list = match.group("list") or ""
    try:
        items = json.loads("[" + raw_list + "]")
    except json.JSONDecodeError as exc:
        raise AnnotationError(f"invalid JSON in entity annotation: {exc.msg}", position) from None
    if not items or not all(isinstance(item, dict) for item in items):
        raise AnnotationError("an entity annotation list must hold JSON objects", position)
    return [_check_spec(item, position) for item in items]


def _json_spec(raw: str, position: int) -> dict[str, Any]:
    try:
        spec = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise AnnotationError(
            f"invalid JSON in entity annotation {raw}: {exc.msg}", position
        ) from None
    if not isinstance(spec, dict):
        raise AnnotationError("an entity annotation must be a JSON object", position)
    return _check_spec(spec, position)


def _check_spec(spec: dict[str, Any], position: int) -> dict[str, Any]:
    unknown = [k for k in spec if k not in _ANNOTATION_KEYS]
    if unknown:
        raise AnnotationError(
            f"unknown key {unknown[0]!r} in entity annotation (expected entity, "
            "role, group, value)",
            position,
        )
    if not isinstance(spec.get("entity"), str) or not spec["entity"]:
        raise AnnotationError('an entity annotation needs an "entity" name', position)
    for key in ("role", "group"):
        if key in spec and not isinstance(spec[key], str):
            raise AnnotationError(f"entity {key} must be a string", position)
    return spec


def _annotation_text(entities: list[EntityAnnotation], span: str) -> str:
    if len(entities) == 1:
        ent = entities[0]
        if ent.role is None and ent.group is None and ent.value == span:
            return f"({ent.entity})"
        return json.dumps(_spec_of(ent, span), ensure_ascii=False)
    return json.dumps([_spec_of(ent, span) for ent in entities], ensure_ascii=False)


def _spec_of(ent: EntityAnnotation, span: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"entity": ent.entity}
    if ent.role is not None:
        spec["role"] = ent.role
    if ent.group is not None:
        spec["group"] = ent.group
    if ent.value != span:
        spec["value"] = ent.value
    return spec


def example_to_text(example: Example) -> str:
    """The annotated text of an example. Raises ValueError for overlapping entity spans."""
    spans: dict[tuple[int, int], list[EntityAnnotation]] = {}
    for ent in example.entities:
        spans.setdefault((ent.start, ent.end), []).append(ent)
    out: list[str] = []
    position = 0
    for (start, end), ents in sorted(spans.items()):
        if start < position:
            raise ValueError(f"overlapping entity annotations in example {example.text!r}")
        if not 0 <= start < end <= len(example.text):
            raise ValueError(f"entity offsets {start}:{end} outside example {example.text!r}")
        span = example.text[start:end]
        out.append(example.text[position:start])
        out.append(f"[{span}]" + _annotation_text(ents, span))
        position = end
    out.append(example.text[position:])
    return "".join(out)


# --------------------------------------------------------------------------------------------
# Files

NLU_ITEM_KEYS = {
    "intent": ("intent", "examples", "metadata"),
    "synonym": ("synonym", "examples"),
    "regex": ("regex", "examples"),
    "lookup": ("lookup", "examples"),
}


def _split_block(
    check: Checker, value: str, path: str, line: int | None
) -> list[tuple[str, int | None]]:
    out = []
    for offset, raw_line in enumerate(value.splitlines()):
        stripped = raw_line.strip()
        if not stripped:
            continue
        line_no = line + 1 + offset if line is not None else None
        if not stripped.startswith("-"):
            check.error(
                path,
                f"each example must start with '- ', but line {offset + 1} of the "
                f"block reads {stripped!r}",
            )
            continue
        text = stripped[1:].strip()
        if not text:
            check.error(path, f"line {offset + 1} of the examples block is an empty example")
            continue
        out.append((text, line_no))
    return out


def _plain_examples(check: Checker, value: Any, path: str, line: int | None) -> list[str]:
    if isinstance(value, str):
        return [text for text, _ in _split_block(check, value, path, line)]
    check.error(path, f"examples must be a '- ' block (examples: |), not {describe(value)}")
    return []


def parse_nlu(data: Any, collector: ProblemCollector, base: str = "nlu") -> NluData:
    """Parse the list under an ``nlu:`` key."""
    check = Checker(collector)
    nlu = NluData()
    if data is None:
        return nlu
    items = check.seq(data, base, "nlu")
    if items is None:
        return nlu
    for index, item in enumerate(items):
        path = join_path(base, index)
        spec = check.mapping(item, path, "an nlu item")
        if spec is None:
            continue
        kind = next((k for k in NLU_ITEM_KEYS if k in spec), None)
        if kind is None:
            check.error(path, "an nlu item needs one of the keys intent, synonym, regex or lookup")
            continue
        check.keys(
            spec, path, NLU_ITEM_KEYS[kind], what=f"an nlu {kind} item", required=(kind, "examples")
        )
        name = check.string(spec[kind], join_path(path, kind), f"the {kind} name")
        if name is None or "examples" not in spec:
            continue
        ex_path = join_path(path, "examples")
        line = collector.line_for(ex_path)
        source_file, source_line = collector.file, collector.line_for(path)
        if kind == "intent":
            block = IntentExamples(intent=name, source_file=source_file, source_line=source_line)
            if spec.get("metadata") is not None:
                block.metadata = check.mapping(
                    spec["metadata"], join_path(path, "metadata"), "metadata"
                )
            block.examples = _parse_intent_examples(check, spec["examples"], ex_path, line)
            nlu.intents.append(block)
        else:
            examples = _plain_examples(check, spec["examples"], ex_path, line)
            cls = {"synonym": Synonym, "regex": Regex, "lookup": Lookup}[kind]
            entry = cls(
                name=name, examples=examples, source_file=source_file, source_line=source_line
            )
            if kind == "regex":
                for pattern in examples:
                    try:
                        re.compile(pattern)
                    except re.error as exc:
                        check.error(ex_path, f"invalid regular expression {pattern!r}: {exc}")
            getattr(
                nlu, {"synonym": "synonyms", "regex": "regexes", "lookup": "lookups"}[kind]
            ).append(entry)
    return nlu


def _parse_intent_examples(
    check: Checker, value: Any, path: str, line: int | None
) -> list[Example]:
    examples: list[Example] = []
    if isinstance(value, str):
        for text, _line in _split_block(check, value, path, line):
            _add_example(check, examples, text, None, path)
        return examples
    items = check.seq(value, path, "examples (a '- ' block or a list of {text, metadata})")
    for index, item in enumerate(items or []):
        item_path = join_path(path, index)
        if isinstance(item, str):
            # Rasa reads a list of {text, metadata} mappings, or a '- ' block; not plain strings.
            check.error(
                item_path,
                "examples must be a '- ' block (examples: |) or a list of {text: ...} mappings, "
                f"not a list of strings like {item!r}",
            )
            continue
        spec = check.mapping(item, item_path, "an example")
        if spec is None:
            continue
        check.keys(spec, item_path, ("text", "metadata"), what="an example", required=("text",))
        item_text = spec.get("text")
        if not isinstance(item_text, str):
            if "text" in spec:
                check.error(
                    join_path(item_path, "text"),
                    f"example text must be a string, not {describe(item_text)}",
                )
            continue
        metadata = spec.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            check.error(join_path(item_path, "metadata"), "example metadata must be a mapping")
            metadata = None
        _add_example(check, examples, item_text.strip(), metadata, item_path)
    return examples


def _add_example(check: Checker, out: list[Example], text: str, metadata: Any, path: str) -> None:
    try:
        out.append(parse_example(text, metadata))
    except AnnotationError as exc:
        check.error(path, f"example {text!r}: {exc}")


def _block(lines: list[str]) -> Any:
    if not lines:
        return ""
    return literal("".join(f"- {line}\n" for line in lines))


def nlu_to_list(nlu: NluData) -> list[dict[str, Any]]:
    """The ``nlu:`` list for a data file, examples in ``|`` block style."""
    out: list[dict[str, Any]] = []
    for block in nlu.intents:
        item: dict[str, Any] = {"intent": block.intent}
        if block.metadata is not None:
            item["metadata"] = block.metadata
        if any(ex.metadata is not None for ex in block.examples):
            item["examples"] = [
                {
                    "text": example_to_text(ex),
                    **({"metadata": ex.metadata} if ex.metadata is not None else {}),
                }
                for ex in block.examples
            ]
        else:
            item["examples"] = _block([example_to_text(ex) for ex in block.examples])
        out.append(item)
    for kind, entries in (
        ("synonym", nlu.synonyms),
        ("regex", nlu.regexes),
        ("lookup", nlu.lookups),
    ):
        for entry in entries:
            out.append({kind: entry.name, "examples": _block(entry.examples)})
    return out
