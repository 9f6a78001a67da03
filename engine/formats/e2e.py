"""Rasa Pro end-to-end test files (``tests/e2e/*.yml``): test cases, fixtures, metadata, stubs.

The format (Rasa Pro 3.21's e2e test schema)::

    fixtures:                       # named slot presets
      - premium:
          - customer_tier: premium
    metadata:                       # named message metadata
      - device:
          os: linux
    stub_custom_actions:            # what custom actions return instead of calling the server
      check_balance:                # for every case of the file
        events: [{event: slot, name: balance, value: 10}]
        responses: [{text: "You have $10."}]
      greet_premium::check_balance: # for one case only (test case name::action name)
        events: []
    test_cases:
      - test_case: greet_premium
        fixtures: [premium]
        metadata: device            # sent with every user message of the case
        steps:
          - user: "hello"
            metadata: other         # merged over the case's metadata for this message
          - utter: utter_greet
          - bot: "Hello Dana!"
          - slot_was_set: [customer_tier, {name: Dana}]
          - slot_was_not_set: [...]
      - test_case: with_assertions
        steps:
          - user: "hi"
            assertion_order_enabled: true
            assertions:
              - flow_started: greet
              - bot_uttered: {utter_name: utter_greet}

Fixtures may also come from ``conftest.yml`` files in the test file's folder and the folders
above it (the nearer one, and the file itself, win). In a folder, only YAML files with
``test_cases`` are test files, as in Rasa.

A file is checked against the schema's rules when it is read: every problem is reported with
its file, line and key path (`FormatError`). The steps are kept as they are written, with their
lines; what they mean is up to the runner (`engine.e2e`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.formats._check import Checker, describe
from engine.formats.errors import FormatError, ProblemCollector, join_path
from engine.formats.yamlio import load_yaml

__all__ = [
    "ASSERTION_TYPES",
    "GENERATIVE_ASSERTIONS",
    "E2ETestCase",
    "load_test_cases",
    "load_test_files",
]

#: The assertions the built-in engine checks (Rasa Pro's CALM assertions).
ASSERTION_TYPES = (
    "action_executed",
    "bot_did_not_utter",
    "bot_uttered",
    "flow_cancelled",
    "flow_completed",
    "flow_started",
    "generative_response_is_grounded",
    "generative_response_is_relevant",
    "pattern_clarification_contains",
    "slot_was_not_set",
    "slot_was_set",
)
#: The assertions an LLM judge scores.
GENERATIVE_ASSERTIONS = ("generative_response_is_grounded", "generative_response_is_relevant")
#: Assertions of Rasa's agent ("mantle") engine, which the built-in engine does not run.
_AGENT_ASSERTIONS = (
    "memory_was_cleared",
    "memory_was_not_set",
    "memory_was_set",
    "ordered_block_cancelled",
    "ordered_block_completed",
    "ordered_block_entered",
    "ordered_block_interrupted",
    "ordered_block_resumed",
    "skill_activated",
    "skill_cancelled",
    "skill_completed",
    "skill_interrupted",
    "skill_resumed",
    "tool_executed",
    "tools_within_one_turn",
)
_TOP_KEYS = ("fixtures", "metadata", "stub_custom_actions", "test_cases")
_CONFTEST_KEYS = ("fixtures", "llm_judge", "llm_e2e_test_conversion")
#: The files that share fixtures with the test files of their folder and the folders below.
CONFTEST_FILES = ("conftest.yml", "conftest.yaml")
_CASE_KEYS = ("test_case", "fixtures", "metadata", "steps")
_USER_STEP_KEYS = ("user", "metadata", "assertion_order_enabled", "assertions")
_STEP_KINDS = ("user", "bot", "utter", "slot_was_set", "slot_was_not_set")
_FIXTURE_NAME = re.compile(r"^[a-zA-Z_]+[a-zA-Z0-9_\-]*$")
_METADATA_NAME = re.compile(r"^[a-zA-Z_]+[a-zA-Z0-9_]*$")
_STUB_NAME = re.compile(r"^[a-zA-Z_]+([a-zA-Z0-9_]*::?)*[a-zA-Z0-9_]*$")
_STUB_EVENTS = (
    "user",
    "bot",
    "slot",
    "session_started",
    "action",
    "reset_slots",
    "restart",
    "reminder",
    "cancel_reminder",
    "pause",
    "resume",
    "followup",
    "export",
    "undo",
    "rewind",
    "entities",
    "active_loop",
    "agent",
    "loop_interrupted",
    "action_execution_rejected",
)
_STUB_RESPONSE_KEYS = (
    "text",
    "buttons",
    "response",
    "image",
    "attachment",
    "elements",
    "custom",
)


@dataclass
class E2ETestCase:
    """One test case.

    `fixtures` are the slot values its fixtures preset; `metadata` is the case's message
    metadata and `step_metadata[i]` what is sent with the user message of step ``i`` (the case's
    metadata with the step's own merged over it). `stub_custom_actions` maps an action name to
    what it returns (``{"events": [...], "responses": [...]}``); when `stubs_in_use`, the suite
    stubs custom actions and one that has no stub fails, as in Rasa. `line` and `step_lines`
    are 1-based lines in `file`.
    """

    name: str
    steps: list[dict[str, Any]]
    fixtures: dict[str, Any] = field(default_factory=dict)
    file: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    line: int | None = None
    step_lines: list[int | None] = field(default_factory=list)
    step_metadata: list[dict[str, Any]] = field(default_factory=list)
    stub_custom_actions: dict[str, dict[str, Any]] = field(default_factory=dict)
    stubs_in_use: bool = False
    #: ``(step index, assertion index)`` -> line of that assertion, and ``(step index,
    #: assertion index, item index)`` -> line of an item of its list (the slots of slot_was_set)
    assertion_lines: dict[tuple[int, ...], int | None] = field(default_factory=dict)

    def uses_assertions(self) -> bool:
        """Whether the case is written with assertions (then only the assertions are checked)."""
        return any("assertions" in step for step in self.steps)

    def step_line(self, index: int | None) -> int | None:
        if index is None or not 0 <= index < len(self.step_lines):
            return self.line
        return self.step_lines[index]


class _FileChecker(Checker):
    """Checks one e2e test file against the rules of Rasa's e2e test schema."""

    def __init__(self, collector: ProblemCollector) -> None:
        super().__init__(collector)
        self.lines = collector.lines

    def named(self, raw: Any, path: str, what: str, pattern: re.Pattern[str]) -> dict[str, Any]:
        """``[{name: value}, ...]`` (fixtures, metadata) -> ``{name: value}``."""
        out: dict[str, Any] = {}
        if raw is None:
            return out
        items = self.seq(raw, path, f"'{path}'")
        for item, item_path in self.mappings(items or [], path, f"each {what}"):
            for name, value in item.items():
                name_path = join_path(item_path, str(name))
                if not isinstance(name, str) or not pattern.match(name):
                    self.error(name_path, f"{describe(name)} is not a valid {what} name")
                    continue
                if name in out:
                    self.error(name_path, f"the {what} '{name}' is defined twice")
                out[name] = (value, name_path)
        return out

    def fixtures(self, raw: Any) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for name, (slots, path) in self.named(raw, "fixtures", "fixture", _FIXTURE_NAME).items():
            values: dict[str, Any] = {}
            items = self.seq(slots, path, f"the fixture '{name}'") if slots is not None else []
            for pair, pair_path in self.mappings(items or [], path, "each slot of a fixture"):
                for slot, value in pair.items():
                    if not isinstance(slot, str):
                        self.error(pair_path, f"{describe(slot)} is not a slot name")
                        continue
                    values[slot] = value
            out[name] = values
        return out

    def metadata(self, raw: Any) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for name, (values, path) in self.named(raw, "metadata", "metadata", _METADATA_NAME).items():
            body = self.mapping(values, path, f"the metadata '{name}'")
            out[name] = dict(body or {})
        return out

    def stubs(self, raw: Any) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        if raw is None:
            return out
        for name, spec, path in self.named_items(
            raw, "stub_custom_actions", "'stub_custom_actions'", noun="custom action name"
        ):
            if not _STUB_NAME.match(name):
                self.error(path, f"'{name}' is not a custom action name (or test_case::action)")
                continue
            body = self.mapping(spec, path, f"the stub of '{name}'")
            if body is None:
                continue
            self.keys(body, path, ("events", "responses"), what=f"the stub of '{name}'")
            events = self.stub_items(body, path, "events")
            for event, event_path in self.mappings(events, join_path(path, "events"), "an event"):
                kind = event.get("event")
                if kind not in _STUB_EVENTS:
                    self.error(
                        event_path,
                        f"{describe(kind)} is not an event type "
                        f"(expected one of: {', '.join(_STUB_EVENTS)})",
                    )
            responses = self.stub_items(body, path, "responses")
            for response, response_path in self.mappings(
                responses, join_path(path, "responses"), "a response"
            ):
                self.keys(response, response_path, _STUB_RESPONSE_KEYS, what="a stubbed response")
            out[name] = {"events": events, "responses": responses}
        return out

    def stub_items(self, body: dict[str, Any], path: str, key: str) -> list[Any]:
        if body.get(key) is None:
            return []
        return self.seq(body[key], join_path(path, key), f"'{key}'") or []

    # ------------------------------------------------------------------ steps

    def step(self, step: Any, path: str) -> bool:
        body = self.mapping(step, path, "a step")
        if body is None:
            return False
        kinds = [k for k in _STEP_KINDS if k in body]
        if len(kinds) != 1:
            what = ", ".join(kinds) if kinds else "none"
            self.error(
                path,
                f"a step has exactly one of {', '.join(_STEP_KINDS)} (this one has {what})",
            )
            return False
        kind = kinds[0]
        if kind == "user":
            return self.user_step(body, path)
        if not self.keys(body, path, (kind,), what=f"a '{kind}' step"):
            return False
        if kind in ("bot", "utter"):
            return self.string(body[kind], join_path(path, kind), f"'{kind}'") is not None
        return self.slot_list(body[kind], join_path(path, kind), kind)

    def slot_list(self, raw: Any, path: str, kind: str) -> bool:
        items = self.seq(raw, path, f"'{kind}'")
        if items is None:
            return False
        ok = True
        for index, item in enumerate(items):
            item_path = join_path(path, index)
            if isinstance(item, str):
                continue
            if isinstance(item, dict) and item and all(isinstance(k, str) for k in item):
                continue
            self.error(item_path, f"each item of '{kind}' is a slot name or {{slot: value}}")
            ok = False
        return ok

    def user_step(self, body: dict[str, Any], path: str) -> bool:
        ok = self.keys(body, path, _USER_STEP_KEYS, what="a 'user' step")
        if self.string(body["user"], join_path(path, "user"), "'user'", allow_empty=True) is None:
            ok = False
        if "assertion_order_enabled" in body:
            order_path = join_path(path, "assertion_order_enabled")
            if self.boolean(body["assertion_order_enabled"], order_path, "it") is None:
                ok = False
            elif "assertions" not in body:
                self.error(order_path, "'assertion_order_enabled' needs 'assertions' in the step")
                ok = False
        if "assertions" in body:
            assertions_path = join_path(path, "assertions")
            items = self.seq(body["assertions"], assertions_path, "'assertions'")
            if items is None:
                return False
            for index, item in enumerate(items):
                ok = self.assertion(item, join_path(assertions_path, index)) and ok
        return ok

    def assertion(self, item: Any, path: str) -> bool:
        body = self.mapping(item, path, "an assertion")
        if body is None:
            return False
        if len(body) != 1:
            self.error(path, f"an assertion has one key (this one has {len(body)})")
            return False
        kind, value = next(iter(body.items()))
        value_path = join_path(path, str(kind))
        if kind in _AGENT_ASSERTIONS:
            self.error(
                value_path,
                f"'{kind}' asserts what Rasa's agent engine does; the built-in engine runs "
                "CALM flows (use flow_started, action_executed...)",
            )
            return False
        check = getattr(self, f"check_{kind}", None) if kind in ASSERTION_TYPES else None
        if check is None:
            self.error(
                value_path,
                f"unknown assertion '{kind}' (expected one of: {', '.join(ASSERTION_TYPES)})",
            )
            return False
        before = len(self.c.problems)
        check(value, value_path)
        return len(self.c.problems) == before

    def operator_flow_ids(self, value: dict[str, Any], path: str, kind: str) -> None:
        self.keys(value, path, ("operator", "flow_ids"), what=f"'{kind}'")
        operator = value.get("operator")
        if not isinstance(operator, str) or operator.lower() not in ("all", "any"):
            self.error(path, f"the 'operator' of '{kind}' is 'all' or 'any'")
        flow_ids = value.get("flow_ids")
        ids = self.str_list(flow_ids, join_path(path, "flow_ids"), "'flow_ids'")
        if ids is not None and not ids:
            self.error(join_path(path, "flow_ids"), f"the 'flow_ids' of '{kind}' are empty")

    def check_flow_started(self, value: Any, path: str) -> None:
        if isinstance(value, dict):
            self.operator_flow_ids(value, path, "flow_started")
            operator, ids = value.get("operator"), value.get("flow_ids")
            all_ids = isinstance(operator, str) and operator.lower() == "all"
            if all_ids and isinstance(ids, list) and len(ids) != 1:
                self.error(path, "with the 'all' operator, 'flow_started' has one flow id")
        else:
            self.string(value, path, "'flow_started'")

    def check_pattern_clarification_contains(self, value: Any, path: str) -> None:
        if isinstance(value, dict):
            self.operator_flow_ids(value, path, "pattern_clarification_contains")
        elif isinstance(value, list):
            if not value:
                self.error(path, "'pattern_clarification_contains' is an empty list")
            self.str_list(value, path, "'pattern_clarification_contains'")
        else:
            self.error(
                path,
                f"'pattern_clarification_contains' is a list or a mapping, not {describe(value)}",
            )

    def flow_end(self, value: Any, path: str, kind: str) -> None:
        body = self.mapping(value, path, f"'{kind}'")
        if body is None:
            return
        self.keys(body, path, ("flow_id", "flow_step_id"), what=f"'{kind}'", required=("flow_id",))
        for key in ("flow_id", "flow_step_id"):
            if key in body:
                self.string(body[key], join_path(path, key), f"'{key}'")

    def check_flow_completed(self, value: Any, path: str) -> None:
        self.flow_end(value, path, "flow_completed")

    def check_flow_cancelled(self, value: Any, path: str) -> None:
        self.flow_end(value, path, "flow_cancelled")

    def check_action_executed(self, value: Any, path: str) -> None:
        self.string(value, path, "'action_executed'")

    def slots(self, value: Any, path: str, kind: str) -> None:
        items = self.seq(value, path, f"'{kind}'")
        for item, item_path in self.mappings(items or [], path, f"each slot of '{kind}'"):
            self.keys(item, item_path, ("name", "value"), what="a slot", required=("name",))
            if "name" in item:
                self.string(item["name"], join_path(item_path, "name"), "'name'")

    def check_slot_was_set(self, value: Any, path: str) -> None:
        self.slots(value, path, "slot_was_set")

    def check_slot_was_not_set(self, value: Any, path: str) -> None:
        self.slots(value, path, "slot_was_not_set")

    def utterance(self, value: Any, path: str, kind: str) -> None:
        body = self.mapping(value, path, f"'{kind}'")
        if body is None:
            return
        self.keys(body, path, ("utter_name", "text_matches", "buttons"), what=f"'{kind}'")
        if not any(body.get(k) for k in ("utter_name", "text_matches", "buttons")):
            self.error(path, f"'{kind}' needs one of utter_name, text_matches, buttons")
        for key in ("utter_name", "text_matches"):
            if key in body:
                self.string(body[key], join_path(path, key), f"'{key}'")
        if "text_matches" in body and isinstance(body["text_matches"], str):
            try:
                re.compile(body["text_matches"])
            except re.error as exc:
                self.error(join_path(path, "text_matches"), f"not a regular expression: {exc}")
        if "buttons" in body:
            buttons_path = join_path(path, "buttons")
            buttons = self.seq(body["buttons"], buttons_path, "'buttons'")
            for button, button_path in self.mappings(buttons or [], buttons_path, "a button"):
                self.keys(button, button_path, ("title", "payload"), what="a button")
                for key in ("title", "payload"):
                    if key in button:
                        self.string(button[key], join_path(button_path, key), f"'{key}'")

    def check_bot_uttered(self, value: Any, path: str) -> None:
        self.utterance(value, path, "bot_uttered")

    def check_bot_did_not_utter(self, value: Any, path: str) -> None:
        self.utterance(value, path, "bot_did_not_utter")

    def generative(self, value: Any, path: str, kind: str) -> None:
        body = self.mapping(value, path, f"'{kind}'")
        if body is None:
            return
        allowed = ["threshold", "utter_name", "utter_source"]
        if kind == "generative_response_is_grounded":
            allowed.append("ground_truth")
        self.keys(body, path, allowed, what=f"'{kind}'", required=("threshold",))
        if "threshold" in body:
            self.number(body["threshold"], join_path(path, "threshold"), "'threshold'")

    def check_generative_response_is_relevant(self, value: Any, path: str) -> None:
        self.generative(value, path, "generative_response_is_relevant")

    def check_generative_response_is_grounded(self, value: Any, path: str) -> None:
        self.generative(value, path, "generative_response_is_grounded")


def _message_metadata(
    name: Any, named: dict[str, dict[str, Any]], check: _FileChecker, path: str
) -> dict[str, Any]:
    if name is None:
        return {}
    if not isinstance(name, str) or not _METADATA_NAME.match(name):
        check.error(path, f"'metadata' names a metadata entry, not {describe(name)}")
        return {}
    if name not in named:
        known = ", ".join(sorted(named)) or "none are defined"
        check.error(path, f"unknown metadata '{name}' ({known})")
        return {}
    return dict(named[name])


def _case_stubs(name: str, stubs: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The stubs for case `name`: the file's, with the case's own (``name::action``) over them."""
    out = {key: value for key, value in stubs.items() if "::" not in key}
    for key, value in stubs.items():
        case, _, action = key.rpartition("::")
        if case == name:
            out[action] = value
    return out


def _read_case(
    raw: dict[str, Any],
    path: str,
    check: _FileChecker,
    file: str,
    tables: tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]], dict[str, dict[str, Any]]],
) -> E2ETestCase | None:
    fixtures, named_metadata, stubs = tables
    before = len(check.c.problems)
    check.keys(raw, path, _CASE_KEYS, what="a test case", required=("test_case",))
    name = check.string(raw.get("test_case"), join_path(path, "test_case"), "'test_case'")
    slots: dict[str, Any] = {}
    fixture_names = raw.get("fixtures")
    if fixture_names is not None:
        names = check.str_list(fixture_names, join_path(path, "fixtures"), "'fixtures'") or []
        for index, fixture in enumerate(names):
            if fixture not in fixtures:
                check.error(
                    join_path(path, "fixtures", index),
                    f"test case {name!r}: unknown fixture {fixture!r}",
                )
            else:
                slots.update(fixtures[fixture])
    metadata = _message_metadata(
        raw.get("metadata"), named_metadata, check, join_path(path, "metadata")
    )
    steps_path = join_path(path, "steps")
    raw_steps = raw.get("steps")
    steps = check.seq(raw_steps, steps_path, "'steps'") if raw_steps is not None else []
    step_metadata: list[dict[str, Any]] = []
    for index, step in enumerate(steps or []):
        step_path = join_path(steps_path, index)
        if check.step(step, step_path) and "user" in step:
            own = _message_metadata(
                step.get("metadata"), named_metadata, check, join_path(step_path, "metadata")
            )
            step_metadata.append({**metadata, **own})
        else:
            step_metadata.append({})
    if len(check.c.problems) > before or name is None or steps is None:
        return None
    return E2ETestCase(
        name=name,
        steps=list(steps),
        fixtures=slots,
        file=file,
        metadata=metadata,
        line=check.c.line_for(path),
        step_lines=[check.c.line_for(join_path(steps_path, i)) for i in range(len(steps))],
        step_metadata=step_metadata,
        stub_custom_actions=_case_stubs(name, stubs),
        stubs_in_use=bool(stubs),
        assertion_lines=_assertion_lines(steps, steps_path, check.c),
    )


def _assertion_lines(
    steps: list[dict[str, Any]], steps_path: str, collector: ProblemCollector
) -> dict[tuple[int, ...], int | None]:
    lines: dict[tuple[int, ...], int | None] = {}
    for i, step in enumerate(steps):
        for n, assertion in enumerate(step.get("assertions") or []):
            path = join_path(steps_path, i, "assertions", n)
            lines[(i, n)] = collector.line_for(path)
            kind, value = next(iter(assertion.items()))
            for k in range(len(value) if isinstance(value, list) else 0):
                lines[(i, n, k)] = collector.line_for(join_path(path, str(kind), k))
    return lines


def load_test_cases(
    text: str | bytes,
    file: str = "e2e.yml",
    *,
    fixtures: dict[str, dict[str, Any]] | None = None,
) -> list[E2ETestCase]:
    """Parse and check one e2e test file; `fixtures` are those of its conftest files (the
    file's own fixtures of the same name take their place).

    Raises `engine.formats.FormatError` naming the file, line and key of every problem (invalid
    YAML, a key the schema does not have, an unknown fixture or assertion...).
    """
    document = load_yaml(text, file)
    collector = ProblemCollector(file, document.lines)
    check = _FileChecker(collector)
    data = document.data if document.data is not None else {}
    cases: list[E2ETestCase] = []
    if check.mapping(data, "", "an e2e test file") is not None:
        check.keys(data, "", _TOP_KEYS, what="an e2e test file")
        tables = (
            {**(fixtures or {}), **check.fixtures(data.get("fixtures"))},
            check.metadata(data.get("metadata")),
            check.stubs(data.get("stub_custom_actions")),
        )
        raw_cases = data.get("test_cases")
        items = check.seq(raw_cases, "test_cases", "'test_cases'") if raw_cases is not None else []
        for raw, path in check.mappings(items or [], "test_cases", "a test case"):
            case = _read_case(raw, path, check, file, tables)
            if case is not None:
                cases.append(case)
    if collector.has_errors:
        raise FormatError([p for p in collector.problems if p.severity == "error"])
    return cases


def _conftest_fixtures(path: Path) -> dict[str, dict[str, Any]]:
    """The fixtures of one conftest file (it may also hold ``llm_judge`` settings)."""
    document = load_yaml(path.read_bytes(), str(path))
    collector = ProblemCollector(str(path), document.lines)
    check = _FileChecker(collector)
    fixtures: dict[str, dict[str, Any]] = {}
    data = document.data if document.data is not None else {}
    if check.mapping(data, "", "a conftest file") is not None:
        check.keys(data, "", _CONFTEST_KEYS, what="a conftest file")
        fixtures = check.fixtures(data.get("fixtures"))
    if collector.has_errors:
        raise FormatError([p for p in collector.problems if p.severity == "error"])
    return fixtures


def _is_eval_conftest(path: Path) -> bool:
    """``<project>/eval/conftest.yml`` configures Rasa's evaluations, not e2e tests."""
    project = path.parent.parent
    return path.parent.name == "eval" and any(
        (project / entry).exists() for entry in ("domain", "config.yml", "domain.yml", "config")
    )


def conftest_chain(folder: Path) -> list[Path]:
    """The conftest files (``conftest.yml``/``.yaml``) of `folder` and the folders above it,
    the outermost first, as Rasa finds them."""
    chain = []
    for current in [folder.resolve(), *folder.resolve().parents]:
        for name in CONFTEST_FILES:
            candidate = current / name
            if candidate.is_file() and not _is_eval_conftest(candidate):
                chain.append(candidate)
                break
    return chain[::-1]


def _is_test_case_file(path: Path) -> bool:
    """A YAML file with a top-level ``test_cases`` key (what Rasa reads in a folder)."""
    if path.name in CONFTEST_FILES:
        return False
    try:
        head = path.read_bytes()
    except OSError:
        return False
    return re.search(rb"(?m)^test_cases\s*:", head) is not None


def load_test_files(paths: Iterable[Path | str]) -> list[E2ETestCase]:
    """The test cases of the given files, and of the test case files (YAML with ``test_cases``)
    in the given directories (sorted). ``path::name`` keeps the cases called `name`. A file's
    fixtures may come from conftest files in its folder and the folders above it. When one file
    stubs custom actions, every case runs with stubs (an action without one fails), as in Rasa.
    Raises `FormatError` with the problems of every file, and `OSError` for a path that is
    not there."""
    cases: list[E2ETestCase] = []
    problems = []
    conftests: dict[Path, dict[str, dict[str, Any]]] = {}
    for raw_path in paths:
        path_text, _, wanted = str(raw_path).partition("::")
        path = Path(path_text)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such file or directory")
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.suffix in (".yml", ".yaml"))
            files = [p for p in files if p.is_file() and _is_test_case_file(p)]
        else:
            files = [path]
        for file in files:
            try:
                inherited: dict[str, dict[str, Any]] = {}
                for conftest in conftest_chain(file.parent):
                    if conftest not in conftests:
                        conftests[conftest] = _conftest_fixtures(conftest)
                    inherited.update(conftests[conftest])
                found = load_test_cases(file.read_bytes(), str(file), fixtures=inherited)
            except FormatError as exc:
                problems.extend(exc.problems)
                continue
            cases.extend(c for c in found if not wanted or c.name == wanted)
    if problems:
        raise FormatError(problems)
    if any(case.stubs_in_use for case in cases):
        for case in cases:
            case.stubs_in_use = True
    return cases
