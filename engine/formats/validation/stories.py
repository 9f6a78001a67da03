"""Story and rule checks, as ``rasa data validate`` makes them: the structure of the files
(`engine.formats.stories`), and every intent, entity, action, response, slot and form they use
known to the domain or to Rasa's defaults. Checkpoints no story provides are warnings, as Rasa
warns about them when it trains."""

from __future__ import annotations

from collections.abc import Callable

from engine.formats.defaults import (
    DEFAULT_ACTIONS,
    DEFAULT_PATTERN_SLOTS,
    DEFAULT_RESPONSES,
    retrieval_base,
)
from engine.formats.stories import Reference, Story, StoryData, all_blocks, load_stories
from engine.formats.validation.context import Context, Report

__all__ = ["DEFAULT_SLOTS", "check_stories"]

#: Slots Rasa adds to every domain (forms' `requested_slot`, session metadata, flow and
#: knowledge-base bookkeeping) besides the default patterns' slots.
DEFAULT_SLOTS = frozenset(
    {
        "requested_slot",
        "session_started_metadata",
        "flow_hashes",
        "mocked_datetime",
        "dialogue_stack",
        "return_value",
        "knowledge_base_listed_objects",
        "knowledge_base_last_object",
        "knowledge_base_last_object_type",
        "language",
    }
    | DEFAULT_PATTERN_SLOTS
)


def check_stories(report: Report, ctx: Context) -> StoryData:
    """Report the problems of the project's stories and rules; returns what was read."""
    data = load_stories(ctx.project.other_files)
    report.problems.extend(data.problems)
    names = _Names(ctx)
    for block in all_blocks(data):
        seen: set[tuple[str, str]] = set()
        for ref in block.references:
            if (ref.kind, ref.name) in seen:  # one message per name and block, as Rasa does
                continue
            seen.add((ref.kind, ref.name))
            message = names.problem(ref, block)
            if message:
                report.add(block.file, ref.path, message, line=ref.line)
    _check_checkpoints(report, data)
    return data


class _Names:
    """What a story may name: the domain's items and Rasa's defaults."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        responses = ctx.responses | DEFAULT_RESPONSES
        # `utter_chitchat/ask_name` responses make `utter_chitchat` an action (the retrieval
        # intent's response selector answers with one of them).
        self.utterances = responses | {r.partition("/")[0] for r in responses}
        self.checks: dict[str, Callable[[Reference, Story], str | None]] = {
            "intent": self.intent,
            "entity": self.entity,
            "action": self.action,
            "slot": self.slot,
            "form": self.form,
        }

    def problem(self, ref: Reference, block: Story) -> str | None:
        return self.checks[ref.kind](ref, block)

    def intent(self, ref: Reference, block: Story) -> str | None:
        if retrieval_base(ref.name) in self.ctx.known_intents:
            return None
        return (
            f"the intent '{ref.name}' is used in the {block.block}, but it is not listed in "
            "the domain's intents"
        )

    def entity(self, ref: Reference, block: Story) -> str | None:
        if ref.name in self.ctx.entities:
            return None
        return (
            f"the entity '{ref.name}' is used in the {block.block}, but it is not listed in "
            "the domain's entities"
        )

    def action(self, ref: Reference, block: Story) -> str | None:
        name = ref.name
        if name.startswith("utter_"):
            if name in self.utterances or name in self.ctx.actions:
                return None
            return (
                f"the response '{name}' is used in the {block.block}, but it is not a response "
                "of the domain"
            )
        if self._is_action(name):
            return None
        return (
            f"the action '{name}' is used in the {block.block}, but it is not listed in the "
            "domain's actions"
        )

    def slot(self, ref: Reference, block: Story) -> str | None:
        if ref.name in self.ctx.slots or ref.name in DEFAULT_SLOTS:
            return None
        return (
            f"the slot '{ref.name}' is set in the {block.block} (slot_was_set), but it is not "
            "defined in the domain's slots"
        )

    def form(self, ref: Reference, block: Story) -> str | None:
        # Rasa accepts any action of the domain as the active loop; forms are actions.
        if ref.name in self.ctx.forms or self._is_action(ref.name):
            return None
        return (
            f"the form '{ref.name}' is used in the {block.block} (active_loop), but it is not "
            "listed in the domain's forms"
        )

    def _is_action(self, name: str) -> bool:
        return (
            name in self.ctx.actions
            or name in self.ctx.forms
            or name in DEFAULT_ACTIONS
            or name in self.utterances
        )


def _check_checkpoints(report: Report, data: StoryData) -> None:
    """A story that starts at a checkpoint no story ends with never runs, and one that ends
    with a checkpoint no story starts from goes nowhere: Rasa warns about both."""
    starts: list[tuple[Story, str, str]] = []
    ends: list[tuple[Story, str, str]] = []
    reached: set[str] = set()  # checkpoints a story ends with (or passes through)
    continued: set[str] = set()  # checkpoints a story starts from (or passes through)
    for story in data.stories:
        kinds = [step.kind for step in story.steps]
        for index, step in enumerate(story.steps):
            if step.kind != "checkpoint":
                continue
            name = str(step.data.get("checkpoint"))
            if all(kind == "checkpoint" for kind in kinds[:index]):
                starts.append((story, name, step.path))
                continued.add(name)
            elif all(kind == "checkpoint" for kind in kinds[index + 1 :]):
                ends.append((story, name, step.path))
                reached.add(name)
            else:  # in the middle: the end of one part and the start of the next
                reached.add(name)
                continued.add(name)
    for story, name, path in starts:
        if name not in reached:
            report.add(
                story.file,
                path,
                f"unsatisfied start checkpoint '{name}' in the {story.block}: no story ends "
                "with it, so this story never runs",
                "warning",
            )
    for story, name, path in ends:
        if name not in continued:
            report.add(
                story.file,
                path,
                f"unsatisfied end checkpoint '{name}' in the {story.block}: no story starts "
                "from it",
                "warning",
            )
