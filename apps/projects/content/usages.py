"""Where each item of an assistant's content is used: which flows, steps, responses, stories
and rules name a response, slot, action, flow or intent (for the lists, the delete pages and
the delete checks)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from urllib.parse import urlencode

from django.urls import reverse

from apps.flows.models import Flow, Response
from apps.projects.models import AssistantFiles
from engine import formats


@dataclass(frozen=True)
class Usage:
    flow: str
    step_id: str
    path: str  # the step's path in the flow, "" for the flow itself
    what: str  # e.g. "collect step", "branch condition", "story", "rule"
    story: str = ""  # a story's or rule's name (`file` and `line` say where it is)
    file: str = ""
    line: int | None = None

    @property
    def label(self) -> str:
        if self.story:
            return self.story
        if not self.flow:
            return f"response {self.path}"
        return f"{self.flow} · {self.step_id}" if self.step_id else self.flow

    def url(self, assistant_name: str) -> str:
        if self.story:  # the story's file on the stories page, at the line that names the item
            base = reverse("projects:stories", args=[assistant_name])
            anchor = f"#L{self.line}" if self.line else ""
            return f"{base}?{urlencode({'file': self.file})}{anchor}"
        if not self.flow:  # a response's condition; `path` is the response name
            return reverse("flows:response_edit", args=[assistant_name, self.path])
        base = reverse("flows:detail", args=[assistant_name, self.flow])
        return f"{base}#step-{self.step_id}" if self.step_id else base


def distinct_flows(found: list[Usage]) -> list[Usage]:
    """One usage per flow, story or rule (its first), for chips in lists: a flow that uses a
    slot in three steps is one chip."""
    seen: set[tuple[str, str]] = set()
    out = []
    for usage in found:
        key = (usage.what, usage.story) if usage.story else ("", usage.flow or usage.label)
        if key not in seen:
            seen.add(key)
            out.append(usage)
    return out


def triggering_flows(assistant, intent: str) -> list[str]:
    """The ids of the flows that an NLU trigger starts on `intent`."""
    return [
        flow.name
        for flow in Flow.objects.filter(assistant=assistant)
        if any(
            trigger.intent == intent
            for trigger in formats.trigger_intents(flow.definition.get("nlu_trigger"))
        )
    ]


def _slots_in(condition) -> set[str]:
    if condition is None or isinstance(condition, bool):
        return set()
    try:
        return formats.referenced_slots(formats.parse_condition(condition))
    except formats.ConditionError:
        return set()


def usages(assistant) -> dict[tuple[str, str], list[Usage]]:
    """{(kind, name): [Usage]} for kind in response, slot, action, flow, intent."""
    found: dict[tuple[str, str], list[Usage]] = defaultdict(list)
    flows = Flow.objects.filter(assistant=assistant).only("name", "definition")
    for flow in flows:
        definition = flow.definition or {}
        for slot in _slots_in(definition.get("if")):
            found[("slot", slot)].append(Usage(flow.name, "", "", "flow guard"))
        for trigger in formats.trigger_intents(definition.get("nlu_trigger")):
            found[("intent", trigger.intent)].append(Usage(flow.name, "", "", "NLU trigger"))
        for slot in definition.get("persisted_slots") or []:
            found[("slot", slot)].append(Usage(flow.name, "", "", "persisted slot"))
        views = formats.step_views(definition.get("steps") or [], flow.name)
        for view in formats.iter_step_views(views):
            use = lambda kind, name, what, f=flow.name, v=view: found[(kind, name)].append(  # noqa: E731
                Usage(f, v.id, v.path, what)
            )
            data = view.data
            if view.kind == "action" and view.target:
                kind = "response" if view.target.startswith("utter_") else "action"
                use(kind, view.target, "message step" if kind == "response" else "action step")
            elif view.kind == "collect" and view.target:
                use("slot", view.target, "collect step")
                use("response", data.get("utter") or f"utter_ask_{view.target}", "collect question")
                for rejection in data.get("rejections") or []:
                    if isinstance(rejection, dict):
                        if rejection.get("utter"):
                            use("response", rejection["utter"], "collect rejection")
                        for slot in _slots_in(rejection.get("if")):
                            use("slot", slot, "rejection condition")
            elif view.kind in ("link", "call") and view.target:
                use("flow", view.target, f"{view.kind} step")
            elif view.kind == "set_slots":
                for slot, _ in view.set_slots:
                    use("slot", slot, "set slots step")
            for branch in view.branches or []:
                for slot in _slots_in(branch.condition):
                    use("slot", slot, "branch condition")
    _story_usages(assistant, found)
    for response in Response.objects.filter(assistant=assistant).only("name", "variations"):
        for variation in response.variations or []:
            condition = variation.get("condition")
            if isinstance(condition, str):
                for slot in _slots_in(condition):
                    found[("slot", slot)].append(Usage("", "", response.name, "response condition"))
    return found


#: The usage kinds of what stories and rules name, by the kind of their reference.
_STORY_KINDS = {"intent": "intent", "slot": "slot", "action": "action"}


def _story_usages(assistant, found: dict[tuple[str, str], list[Usage]]) -> None:
    """The intents, responses, actions and slots the assistant's stories and rules name."""
    files = AssistantFiles.objects.filter(assistant=assistant).only("other_files").first()
    if files is None or not files.other_files:
        return
    data = formats.load_stories(files.other_files)
    for story in [*data.stories, *data.rules]:
        what = "rule" if story.is_rule else "story"
        for ref in story.references:
            kind = _STORY_KINDS.get(ref.kind)
            if kind is None:
                continue
            if kind == "action" and ref.name.startswith("utter_"):
                kind = "response"
            usage = Usage("", "", ref.path, what, story=story.name, file=story.file, line=ref.line)
            if usage not in found[(kind, ref.name)]:
                found[(kind, ref.name)].append(usage)
