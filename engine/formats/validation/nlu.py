"""NLU checks: examples of unknown intents, examples given twice or for two intents, entity
annotations (offsets, overlaps, roles, groups), intents without examples, empty lookups."""

from __future__ import annotations

from typing import Any

from engine.formats.defaults import retrieval_base
from engine.formats.errors import find_line, join_path
from engine.formats.validation.context import Context, Report

__all__ = ["check_nlu"]


def _annotation_signature(example: Any) -> tuple[Any, ...]:
    return tuple(
        sorted((e.start, e.end, e.entity, e.role or "", e.group or "") for e in example.entities)
    )


def _where(ctx: Context, file: str | None, path: str) -> str:
    if file is None:
        return "in the NLU data"
    line = find_line(ctx.project.source_lines.get(file, {}), path)
    return f"in {file}" + (f" line {line}" if line else "")


class _Duplicates:
    """Examples seen so far, to report the same text in two intents (Rasa warns: the classifier
    cannot tell them apart) and the same example twice in one intent (Rasa warns and keeps one).
    The same text annotated differently is two examples, and Rasa keeps both."""

    def __init__(self) -> None:
        self.texts: dict[str, tuple[str, str]] = {}
        self.examples: dict[tuple[Any, ...], str] = {}

    def check(
        self, report: Report, intent: str, example: Any, file: str | None, path: str, where: str
    ) -> None:
        first = self.texts.get(example.text)
        if first is not None and first[0] != intent:
            report.add(
                file,
                path,
                f"example {example.text!r} of intent '{intent}' ({where}) is also an example of "
                f"'{first[0]}' ({first[1]})",
                "warning",
            )
        self.texts.setdefault(example.text, (intent, where))
        signature = (intent, example.text, _annotation_signature(example))
        earlier = self.examples.get(signature)
        if earlier is not None:
            places = earlier if earlier == where else f"{earlier} and {where}"
            report.add(
                file,
                path,
                f"example {example.text!r} is given twice for '{intent}' ({places}); Rasa "
                "keeps one",
                "warning",
            )
        self.examples.setdefault(signature, where)


def check_nlu(report: Report, ctx: Context) -> None:
    nlu = ctx.project.nlu
    with_examples: set[str] = set()
    duplicates = _Duplicates()
    for block in nlu.intents:
        base = join_path("nlu", ctx.index(block))
        file = block.source_file
        with_examples.add(block.intent)
        # A retrieval intent's examples (`chitchat/ask_name`) belong to its parent intent.
        with_examples.add(retrieval_base(block.intent))
        if retrieval_base(block.intent) not in ctx.intents:
            report.add(
                file,
                join_path(base, "intent"),
                f"intent '{block.intent}' has examples but is not in the domain's intents",
            )
        epath = join_path(base, "examples")
        where = _where(ctx, file, epath)
        for index, example in enumerate(block.examples):
            duplicates.check(report, block.intent, example, file, epath, where)
            spans: list[tuple[int, int]] = []
            for ent in example.entities:
                if not (0 <= ent.start < ent.end <= len(example.text)):
                    report.add(
                        file,
                        epath,
                        f"example {index + 1} ({example.text!r}): entity "
                        f"'{ent.entity}' has offsets {ent.start}:{ent.end} outside the text",
                    )
                    continue
                for start, end in spans:
                    if ent.start < end and start < ent.end and (start, end) != (ent.start, ent.end):
                        report.add(
                            file, epath, f"example {example.text!r}: entity annotations overlap"
                        )
                spans.append((ent.start, ent.end))
                entity = ctx.entities.get(ent.entity)
                if entity is None:
                    report.add(
                        file,
                        epath,
                        f"example {example.text!r} annotates the entity "
                        f"'{ent.entity}', which is not in the domain's entities",
                    )
                    continue
                if ent.role is not None and ent.role not in (entity.roles or []):
                    report.add(
                        file,
                        epath,
                        f"example {example.text!r}: entity '{ent.entity}' has no role '{ent.role}'",
                    )
                if ent.group is not None and ent.group not in (entity.groups or []):
                    report.add(
                        file,
                        epath,
                        f"example {example.text!r}: entity '{ent.entity}' has no "
                        f"group '{ent.group}'",
                    )
    for intent in ctx.project.domain.intents:
        if intent.name not in with_examples and nlu.intents:
            report.add(
                intent.source_file,
                join_path("intents", ctx.index(intent)),
                f"intent '{intent.name}' has no training examples",
                "warning",
                line=intent.source_line,
            )
    for kind, items in (("regex", nlu.regexes), ("lookup", nlu.lookups), ("synonym", nlu.synonyms)):
        for item in items:
            if not item.examples:
                report.add(
                    item.source_file,
                    join_path("nlu", ctx.index(item), "examples"),
                    f"{kind} '{item.name}' has no examples",
                    "warning",
                )
