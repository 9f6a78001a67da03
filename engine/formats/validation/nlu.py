"""NLU checks: examples of unknown intents, examples given twice or for two intents, entity
annotations (offsets, overlaps, roles, groups), intents without examples, empty lookups."""

from __future__ import annotations

from typing import Any

from engine.formats.defaults import retrieval_base
from engine.formats.errors import join_path
from engine.formats.validation.context import Context, Report

__all__ = ["check_nlu"]


def _annotation_signature(example: Any) -> tuple[Any, ...]:
    return tuple(
        sorted((e.start, e.end, e.entity, e.role or "", e.group or "") for e in example.entities)
    )


def check_nlu(report: Report, ctx: Context) -> None:
    nlu = ctx.project.nlu
    with_examples: set[str] = set()
    seen_texts: dict[str, str] = {}
    seen_examples: set[tuple[Any, ...]] = set()
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
        for index, example in enumerate(block.examples):
            epath = join_path(base, "examples")
            previous = seen_texts.get(example.text)
            if previous is not None and previous != block.intent:
                report.add(
                    file,
                    epath,
                    f"example {example.text!r} is used for both '{previous}' and '{block.intent}'",
                    "warning",
                )
            seen_texts.setdefault(example.text, block.intent)
            # The same text with the same annotations twice (Rasa warns and keeps one); the same
            # text annotated differently is two examples, and Rasa keeps both.
            signature = (block.intent, example.text, _annotation_signature(example))
            if signature in seen_examples:
                report.add(
                    file,
                    epath,
                    f"example {example.text!r} is given twice for '{block.intent}'",
                    "warning",
                )
            seen_examples.add(signature)
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
