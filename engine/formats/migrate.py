"""Older Rasa formats: Rasa 2.x domains are migrated on import, Rasa 1.x Markdown is refused.

Rasa 3 reads Rasa 2.x training data (stories, rules, NLU) as it is, but rejects a Rasa 2.x
domain: slot mappings lived in the forms then, and slots were filled implicitly (``auto_fill``).
`migrate_yaml_document` rewrites such a domain in place the way ``rasa data migrate`` does:

* each form's ``required_slots`` mapping of slot names to mapping lists becomes a list of slot
  names, and the mappings move to the slots with the condition ``active_loop: <form>`` (plus
  ``requested_slot: <slot>`` for every mapping type but ``from_entity`` and
  ``from_trigger_intent``); a mapping the slot already has gains the condition instead;
* a slot with ``auto_fill`` true (the Rasa 2.x default) and an entity of the same name gets a
  ``from_entity`` mapping of that entity; ``auto_fill`` itself is dropped;
* a slot left with no mapping was set only by actions in Rasa 2.x, so it gets a ``controlled``
  mapping (``rasa data migrate`` writes ``custom``, the older name of the same thing);
* the ``unfeaturized`` slot type becomes ``any`` with ``influence_conversation: false``, the
  ``templates`` section becomes ``responses``, and the version becomes "3.1".

Every change is reported as a warning naming the file, line and key. A Rasa 2.x domain that
cannot be migrated faithfully, or Rasa 2.x constructs in a file that says it is version 3, is
refused with the advice to run ``rasa data migrate``. Other Rasa 2.x files keep their content and
get version "3.1", which is how Rasa 3 reads them.

`markdown_problem` recognises Rasa 1.x Markdown training data, which Rasa 3 cannot read.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.formats.errors import FormatError, Problem, ProblemCollector, join_path
from engine.formats.yamlio import YamlDocument, decode_text, double_quoted, load_yaml

#: The version a migrated file gets (Rasa 3's latest training data format).
MIGRATED_VERSION = "3.1"

_MIGRATE_ADVICE = "run `rasa data migrate` with Rasa 3 on the domain and import the result"
_NOTE = "migrated from Rasa 2.x: "
#: Mapping types that Rasa 3's migration conditions on the active form only.
_ENTITY_LIKE = ("from_entity", "from_trigger_intent")
_FORM_KEYS = ("required_slots", "ignored_intents")
_VERSION_LINE = re.compile(r"""^(\s*version\s*:\s*)(["']?)[12]\.[0-9.]*\2""")


def is_legacy_version(value: Any) -> bool:
    """True for a Rasa 2.x (or older) format version such as "2.0"."""
    return isinstance(value, str) and re.fullmatch(r"[12](\.[0-9]+)*", value.strip()) is not None


@dataclass
class LegacyDomain:
    """What the domain files of a project with Rasa 2.x files declare, across files, so that
    a domain split over several files migrates as a whole (see `scan_legacy_domain`)."""

    #: Every entity name a domain file declares.
    entities: set[str] = field(default_factory=set)
    #: Each slot name with the file that declares it.
    slots: dict[str, str] = field(default_factory=dict)
    #: Per slot, the (file, form, mappings) of each Rasa 2.x form that maps it.
    form_mappings: dict[str, list[tuple[str, str, list[Any]]]] = field(default_factory=dict)
    #: Domain files that say they are version 3 (they are not migrated).
    rasa3_files: set[str] = field(default_factory=set)


_LEGACY_HINT = re.compile(
    r"""^\s*version\s*:\s*["']?[12]\.|auto_fill\s*:|^templates\s*:|unfeaturized""", re.MULTILINE
)
_NOT_DOMAIN = ("config.yml", "config.yaml", "endpoints.yml", "endpoints.yaml", "credentials.yml")


def scan_legacy_domain(files: Mapping[str, bytes | str]) -> LegacyDomain | None:
    """Read what the domain files declare when a domain file of `files` is Rasa 2.x; None
    otherwise (at the cost of a text search when no file looks like Rasa 2.x). Unreadable
    files are skipped: loading reports them."""
    texts: dict[str, str] = {}
    for path, content in files.items():
        if path.endswith((".yml", ".yaml")) and path not in _NOT_DOMAIN:
            try:
                texts[path] = decode_text(content, path)
            except FormatError:
                continue
    if not any(_LEGACY_HINT.search(text) for text in texts.values()):
        return None
    scan = LegacyDomain()
    rasa2 = False
    for path, text in sorted(texts.items()):
        try:
            data = load_yaml(text, path).data
        except FormatError:
            continue
        if not isinstance(data, dict):
            continue
        if _has_domain_content(data, path):
            _scan_file(scan, path, data)
            rasa2 = (
                rasa2 or is_legacy_version(data.get("version")) or bool(_legacy_constructs(data))
            )
    return scan if rasa2 else None


def _scan_file(scan: LegacyDomain, path: str, data: dict[Any, Any]) -> None:
    scan.entities |= _entity_names(data)
    slots = data.get("slots")
    if isinstance(slots, dict):
        for name in slots:
            scan.slots.setdefault(str(name), path)
    if "version" in data and not is_legacy_version(data["version"]):
        scan.rasa3_files.add(path)
        return
    forms = data.get("forms")
    if not isinstance(forms, dict):
        return
    for form, body in forms.items():
        by_slot = _form_slot_mappings(body) if isinstance(body, dict) else None
        for slot, mappings in (by_slot or {}).items():
            if _valid_mappings(mappings) and mappings:
                scan.form_mappings.setdefault(str(slot), []).append((path, str(form), mappings))


def migrate_yaml_document(
    doc: YamlDocument,
    content: bytes | str,
    collector: ProblemCollector,
    project: LegacyDomain | None = None,
) -> bytes | str:
    """Migrate one loaded Rasa YAML file in place (see the module docstring).

    `doc.data` is rewritten when it holds a Rasa 2.x domain; changes and refusals go to
    `collector`. `project` is what the project's other domain files declare (entities, slots,
    form mappings), from `scan_legacy_domain`. Returns the file's text with its version line
    set to "3.1" when the file says it is Rasa 2.x (so files kept verbatim, such as stories,
    are written back as Rasa 3 reads them), else `content` unchanged.
    """
    data = doc.data
    if not isinstance(data, dict):
        return content
    legacy = is_legacy_version(data.get("version"))
    is_domain = _has_domain_content(data, collector.file)
    if is_domain:
        # A domain file without a version is as old as the rest of the domain.
        as_rasa2 = legacy or (project is not None and "version" not in data)
        _migrate_domain(data, collector, as_rasa2, project or LegacyDomain())
    if not legacy:
        return content
    old = str(data["version"])
    data["version"] = double_quoted(MIGRATED_VERSION)
    how = "" if is_domain else f' (Rasa 3 reads it as a version "{MIGRATED_VERSION}" file)'
    collector.warning("version", f'{_NOTE}version "{old}" becomes "{MIGRATED_VERSION}"{how}')
    return _with_version_line(content, collector, doc.lines.get("version"))


def _has_domain_content(data: dict[Any, Any], file: str | None) -> bool:
    keys = set(data)
    if keys & {"slots", "forms", "templates", "intents", "entities", "actions"}:
        return True
    name = file or ""
    return name in ("domain.yml", "domain.yaml") or name.startswith("domain/")


def _with_version_line(content: bytes | str, collector: ProblemCollector, line: int | None) -> str:
    text = decode_text(content, collector.file or "")
    if line is None:
        return text
    lines = text.splitlines(keepends=True)
    if line > len(lines):
        return text
    lines[line - 1] = _VERSION_LINE.sub(
        lambda m: f'{m.group(1)}"{MIGRATED_VERSION}"', lines[line - 1], count=1
    )
    return "".join(lines)


# --------------------------------------------------------------------------------------------
# The domain


def _legacy_constructs(data: dict[Any, Any]) -> list[tuple[str, str]]:
    """The Rasa 2.x constructs in a domain, as (key path, description)."""
    found: list[tuple[str, str]] = []
    if "templates" in data:
        found.append(("templates", "the 'templates' section (Rasa 3 reads 'responses')"))
    forms = data.get("forms")
    if isinstance(forms, dict):
        for name, body in forms.items():
            if isinstance(body, dict) and _form_slot_mappings(body) is not None:
                found.append(
                    (
                        join_path("forms", str(name)),
                        f"form '{name}' maps its required slots to slot mappings",
                    )
                )
    slots = data.get("slots")
    if isinstance(slots, dict):
        for name, spec in slots.items():
            if not isinstance(spec, dict):
                continue
            path = join_path("slots", str(name))
            if "auto_fill" in spec:
                found.append((join_path(path, "auto_fill"), f"slot '{name}' has auto_fill"))
            if spec.get("type") == "unfeaturized":
                found.append((join_path(path, "type"), f"slot '{name}' has type unfeaturized"))
    return found


def _form_slot_mappings(body: dict[Any, Any]) -> dict[Any, Any] | None:
    """A Rasa 2.x form's ``{slot: [mappings]}``, or None when the form is in Rasa 3 format."""
    if "required_slots" in body:
        required = body["required_slots"]
        return required if isinstance(required, dict) else None
    slots = {k: v for k, v in body.items() if k != "ignored_intents"}
    # Rasa 2.0 also allowed the slots directly under the form name.
    return slots if slots else None


def _migrate_domain(
    data: dict[Any, Any], c: ProblemCollector, legacy: bool, project: LegacyDomain
) -> None:
    if isinstance(data.get("forms"), list) and data["forms"]:
        c.error(
            "forms",
            "a list of form names is the Rasa 1.x form format (forms run by the SDK's "
            "FormAction), which Rasa 3 rejects; declare each form's required_slots in the "
            "domain as Rasa's migration guide from 1.x to 2.0 describes, then " + _MIGRATE_ADVICE,
        )
        return
    constructs = _legacy_constructs(data)
    if not constructs and not legacy:
        return
    if not legacy and "version" in data:
        _refuse_constructs(constructs, c, data["version"])
        return
    errors_before = len([p for p in c.problems if p.severity == "error"])
    migrated = copy.deepcopy(data)
    _rename_templates(migrated, c)
    _migrate_forms(migrated, c, project)
    _migrate_slots(migrated, c, project)
    if len([p for p in c.problems if p.severity == "error"]) == errors_before:
        data.clear()
        data.update(migrated)


def _refuse_constructs(
    constructs: list[tuple[str, str]], c: ProblemCollector, version: Any
) -> None:
    for path, what in constructs:
        if path == "templates":
            # Rasa 3 does not refuse it: it ignores the section, and its responses with it.
            c.warning(
                path,
                "'templates' is the Rasa 2.x name of 'responses'; Rasa 3 ignores this section, "
                "so its responses are never used: rename it to 'responses'",
            )
            continue
        c.error(
            path,
            f"{what}: this is the Rasa 2.x domain format, which Rasa 3 rejects, but the "
            f'file says version "{version}"; {_MIGRATE_ADVICE}, or set version: "2.0" so '
            "that Studio migrates it on import",
        )


def _rename_templates(data: dict[Any, Any], c: ProblemCollector) -> None:
    if "templates" not in data:
        return
    if "responses" in data:
        c.error(
            "templates",
            "the domain has both 'templates' and 'responses'; Rasa 3 reads only 'responses': "
            "move the templates into the responses section",
        )
        return
    items = list(data.items())
    data.clear()
    for key, value in items:
        data["responses" if key == "templates" else key] = value
    c.warning("templates", f"{_NOTE}the 'templates' section becomes 'responses'")


def _migrate_forms(data: dict[Any, Any], c: ProblemCollector, project: LegacyDomain) -> None:
    forms = data.get("forms")
    if not isinstance(forms, dict):
        return
    slots = data.get("slots")
    for name, body in forms.items():
        if not isinstance(body, dict):
            continue
        mappings_by_slot = _form_slot_mappings(body)
        if mappings_by_slot is None:
            continue
        form_path = join_path("forms", str(name))
        if "required_slots" in body:
            unknown = [k for k in body if k not in _FORM_KEYS]
            if unknown:
                c.error(
                    join_path(form_path, str(unknown[0])),
                    f"form '{name}' has the key '{unknown[0]}', which neither Rasa 2.x nor "
                    "Rasa 3 knows (a form has required_slots and ignored_intents)",
                )
                continue
            slots_path = join_path(form_path, "required_slots")
        else:
            slots_path = form_path
        for slot_name, mappings in mappings_by_slot.items():
            _move_form_mappings(
                c,
                _FormSlot(str(name), str(slot_name), join_path(slots_path, slot_name)),
                mappings,
                slots,
                project,
            )
        new_body: dict[str, Any] = {"required_slots": [str(s) for s in mappings_by_slot]}
        if "ignored_intents" in body:
            new_body["ignored_intents"] = body["ignored_intents"]
        forms[name] = new_body
        c.warning(
            slots_path,
            f"{_NOTE}the required_slots of form '{name}' become a list of slot names "
            f"({', '.join(new_body['required_slots']) or 'none'})",
        )


@dataclass(frozen=True)
class _FormSlot:
    form: str
    slot: str
    path: str


def _valid_mappings(mappings: Any) -> bool:
    return mappings is None or (
        isinstance(mappings, list)
        and all(isinstance(m, dict) and isinstance(m.get("type"), str) for m in mappings)
    )


def _move_form_mappings(
    c: ProblemCollector, at: _FormSlot, mappings: Any, slots: Any, project: LegacyDomain
) -> None:
    form, slot, path = at.form, at.slot, at.path
    if not _valid_mappings(mappings):
        c.error(
            path,
            f"the mappings of slot '{slot}' in form '{form}' must be a list of slot mappings, "
            "each with a type; the form cannot be migrated: " + _MIGRATE_ADVICE,
        )
        return
    mappings = mappings or []
    spec = slots.get(slot) if isinstance(slots, dict) else None
    elsewhere = project.slots.get(slot)
    if not isinstance(spec, dict) and (elsewhere is None or elsewhere == c.file):
        c.error(
            path,
            f"form '{form}' requires slot '{slot}', which no domain file declares under "
            "'slots'; declare the slot with its type, or " + _MIGRATE_ADVICE,
        )
        return
    if not isinstance(spec, dict) and mappings and elsewhere in project.rasa3_files:
        c.error(
            path,
            f"form '{form}' maps slot '{slot}', which {elsewhere} declares in a file that says "
            'it is version 3, so the mappings cannot move there; set version: "2.0" in that '
            "file too, or " + _MIGRATE_ADVICE,
        )
        return
    if not mappings:
        return
    if not isinstance(spec, dict):
        # The file that declares the slot takes the mappings (see _migrate_slots).
        c.warning(
            path,
            f"{_NOTE}the mappings of slot '{slot}' in form '{form}' move to slots.{slot}."
            f"mappings in {elsewhere} with the condition active_loop: {form}",
        )
        return
    existing = spec.get("mappings")
    if existing is None:
        existing = []
    if not isinstance(existing, list):
        c.error(
            join_path("slots", slot, "mappings"),
            f"the mappings of slot '{slot}' must be a list; " + _MIGRATE_ADVICE,
        )
        return
    spec["mappings"] = _merge_mappings(existing, mappings, form, slot)
    c.warning(
        path,
        f"{_NOTE}the mappings of slot '{slot}' in form '{form}' move to slots.{slot}.mappings "
        f"with the condition active_loop: {form}",
    )


def _form_condition(mapping: dict[Any, Any], form: str, slot: str) -> dict[str, str]:
    if mapping.get("type") in _ENTITY_LIKE:
        return {"active_loop": form}
    return {"active_loop": form, "requested_slot": slot}


def _merge_mappings(
    existing: list[Any], new: list[dict[Any, Any]], form: str, slot: str
) -> list[Any]:
    """`existing` with each of `new` added under the form's condition; a mapping the slot
    already has (conditions aside) gains the condition instead of being repeated."""
    merged = [copy.deepcopy(m) for m in existing]
    for mapping in new:
        plain = {k: v for k, v in mapping.items() if k != "conditions"}
        condition = _form_condition(mapping, form, slot)
        same = next(
            (
                m
                for m in merged
                if isinstance(m, dict)
                and {k: v for k, v in m.items() if k != "conditions"} == plain
            ),
            None,
        )
        if same is not None:
            conditions = same.setdefault("conditions", [])
            if condition not in conditions:
                conditions.append(condition)
            continue
        merged.append({**plain, "conditions": [*(mapping.get("conditions") or []), condition]})
    return merged


def _entity_names(data: dict[Any, Any]) -> set[str]:
    entities = data.get("entities")
    names: set[str] = set()
    if not isinstance(entities, list):
        return names
    for entity in entities:
        if isinstance(entity, str):
            names.add(entity)
        elif isinstance(entity, dict) and len(entity) == 1:
            names.add(str(next(iter(entity))))
    return names


def _migrate_slots(data: dict[Any, Any], c: ProblemCollector, project: LegacyDomain) -> None:
    slots = data.get("slots")
    if not isinstance(slots, dict):
        return
    entities = _entity_names(data) | project.entities
    for name, spec in slots.items():
        if not isinstance(spec, dict):
            continue
        path = join_path("slots", str(name))
        _add_mappings_of_other_files(spec, c, str(name), project)
        _migrate_slot_type(spec, c, str(name), path)
        _migrate_auto_fill(spec, c, str(name), path, entities)
        if not spec.get("mappings"):
            spec["mappings"] = [{"type": "controlled"}]
            c.warning(
                path,
                f"{_NOTE}slot '{name}' has no mapping, so in Rasa 2.x only actions set it; it "
                "gets a controlled mapping (`rasa data migrate` writes 'custom', the older name; "
                "a slot without mappings would be filled by the LLM in Rasa Pro)",
            )


def _add_mappings_of_other_files(
    spec: dict[Any, Any], c: ProblemCollector, name: str, project: LegacyDomain
) -> None:
    for file, form, mappings in project.form_mappings.get(name, []):
        if file == c.file or not isinstance(spec.get("mappings", []), list):
            continue
        spec["mappings"] = _merge_mappings(spec.get("mappings") or [], mappings, form, name)


def _migrate_slot_type(spec: dict[Any, Any], c: ProblemCollector, name: str, path: str) -> None:
    if spec.get("type") != "unfeaturized":
        return
    spec["type"] = "any"
    spec["influence_conversation"] = False
    c.warning(
        join_path(path, "type"),
        f"{_NOTE}slot '{name}' of type unfeaturized becomes type any with "
        "influence_conversation: false",
    )


def _migrate_auto_fill(
    spec: dict[Any, Any], c: ProblemCollector, name: str, path: str, entities: set[str]
) -> None:
    auto_fill = spec.pop("auto_fill", True)
    fill_path = join_path(path, "auto_fill")
    if not isinstance(auto_fill, bool):
        c.error(fill_path, f"auto_fill must be true or false; {_MIGRATE_ADVICE}")
        return
    if not auto_fill:
        c.warning(
            fill_path,
            f"{_NOTE}auto_fill: false of slot '{name}' is dropped (Rasa 3 fills a slot only "
            "through its mappings, so it gets no from_entity mapping)",
        )
        return
    if name not in entities:
        return
    mapping = {"type": "from_entity", "entity": name}
    mappings = spec.get("mappings")
    if mappings is None:
        mappings = spec["mappings"] = []
    if not isinstance(mappings, list) or mapping in mappings:
        return
    mappings.append(mapping)
    c.warning(
        fill_path if fill_path in c.lines else path,
        f"{_NOTE}slot '{name}' was filled automatically from the entity '{name}'; it gets a "
        f"from_entity mapping of that entity",
    )


# --------------------------------------------------------------------------------------------
# Rasa 1.x Markdown

_MD_NLU = re.compile(r"^\s*##\s*(intent|synonym|regex|lookup)\s*:", re.MULTILINE)
_MD_HEADER = re.compile(r"^##\s*\S")
#: ``* intent{"entity": "value"}``, optionally ``OR`` another intent.
_MD_USER_TURN = re.compile(r"^\*\s*([A-Za-z_][\w/.-]*)(\{.*\})?(\s+OR\s+.*)?\s*$")
#: ``- action_name`` or ``- slot{"name": "value"}``: an action, never prose.
_MD_ACTION = re.compile(r"^\s*-\s*[A-Za-z_][\w.-]*(\{.*\})?\s*$")
_MD_TEXT = re.compile(r"^\s*-\s*\S")

_CONVERT = (
    "Rasa 1.x Markdown training data is not supported by Rasa 3; convert it to YAML with "
    "Rasa 2.x (`rasa data convert {kind} -f yaml --data={path} --out=<folder>`) and import "
    "the converted files"
)


def markdown_problem(path: str, content: bytes | str) -> Problem | None:
    """The refusal of a Rasa 1.x Markdown training data file (NLU, stories or responses), or
    None when `path` is some other Markdown file (a README, say)."""
    try:
        text = decode_text(content, path)
    except FormatError:
        return None
    nlu = _MD_NLU.search(text)
    if nlu is not None:
        return Problem(
            path, _line_of(text, nlu.start()), "", _CONVERT.format(kind="nlu", path=path)
        )
    found = _markdown_story(text.splitlines())
    if found is None:
        return None
    line, kind = found
    return Problem(path, line, "", _CONVERT.format(kind=kind, path=path))


def _markdown_story(lines: list[str]) -> tuple[int, str] | None:
    """(line, convert command) of the first ``## name`` header followed by a user turn and a
    bot turn, as Rasa 1.x stories (``core``) and retrieval responses (``nlg``) are written."""
    content = [(n, line) for n, line in enumerate(lines, 1) if line.strip()]
    for index in range(len(content) - 2):
        (number, header), (_, user), (_, bot) = content[index : index + 3]
        turn = _MD_USER_TURN.match(user)
        if not _MD_HEADER.match(header) or turn is None:
            continue
        # Responses of retrieval intents were written as `* intent/key` with the text below.
        if "/" in turn.group(1) and _MD_TEXT.match(bot):
            return number, "nlg"
        if _MD_ACTION.match(bot):
            return number, "core"
    return None


def _line_of(text: str, offset: int) -> int:
    start = offset + len(text[offset:]) - len(text[offset:].lstrip())
    return text.count("\n", 0, start) + 1
