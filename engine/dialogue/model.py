"""Everything the dialogue needs at run time: domain, flows (with the default patterns), settings.

`DialogueModel.build` merges the default patterns of ``default_flows.yml`` (a user flow with the
same id replaces one) and the default responses and pattern slots of ``default_responses.yml``
(a domain response or slot of the same name replaces one), compiles every flow's steps for fast
execution, reads the dialogue settings and the policy names from ``config.yml``, and builds the
knowledge base of enterprise search from the project's documents (`engine.dialogue.search`;
persisted next to the model as ``knowledge.json``).

Settings (all optional; a top-level ``studio:`` mapping in config.yml wins over keys on the
``FlowPolicy`` entry of ``policies``, which win over the defaults):

=============================  =======  ====================================================
key                            default  meaning
=============================  =======  ====================================================
``flow_classifier_threshold``  0.3      a flow without ``nlu_trigger`` starts from flow
                                        retrieval when its similarity score reaches this
``clarification_threshold``    0.25     two retrieved flows both at least this ...
``clarification_margin``       0.08     ... and closer than this trigger pattern_clarification
``nlu_fallback_threshold``     0.3      an intent below this counts as not understood (the
                                        ``threshold`` of a ``FallbackClassifier`` in the
                                        pipeline is used when this key is absent)
``max_steps_per_turn``         250      safety limit on the steps run for one user message
``max_number_of_predictions``  10       classic assistants: the most actions the policies
                                        predict after one user message (Rasa's
                                        ``MAX_NUMBER_OF_PREDICTIONS``)
=============================  =======  ====================================================

A coexistence router (``IntentBasedRouter`` or ``LLMBasedRouter`` in config.yml's
``pipeline``) is kept as `DialogueModel.router`: its config.yml entry, name included.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, cast

from engine.dialogue.search import KnowledgeBase
from engine.formats import (
    END,
    LANGUAGE_SLOT,
    Domain,
    Flow,
    FormatError,
    ProblemCollector,
    Project,
    Response,
    Slot,
    SlotMapping,
    StepView,
    domain_to_dict,
    flows_to_dict,
    language_slot,
    load_project_files,
    parse_domain,
    parse_flows,
    step_views,
    sub_agents,
    translated_flow_name,
)
from engine.formats.defaults import COEXISTENCE_ROUTERS
from engine.formats.domain import merge_domains

__all__ = [
    "DEFAULT_SETTINGS",
    "CompiledFlow",
    "DialogueModel",
    "default_flows",
    "default_slots",
]

FORMAT_VERSION = 1
MODEL_FILE = "dialogue.json"
START = "START"
_HERE = Path(__file__).parent

DEFAULT_SETTINGS: dict[str, Any] = {
    "flow_classifier_threshold": 0.3,
    "clarification_threshold": 0.25,
    "clarification_margin": 0.08,
    "nlu_fallback_threshold": 0.3,
    "max_steps_per_turn": 250,
    "max_number_of_predictions": 10,
}


@cache
def _defaults_project() -> Project:
    return load_project_files(
        {
            "data/default_flows.yml": (_HERE / "default_flows.yml").read_text(encoding="utf-8"),
            "domain.yml": (_HERE / "default_responses.yml").read_text(encoding="utf-8"),
        },
        fast_yaml=True,
    )


def default_flows() -> list[Flow]:
    """The default pattern flows (fresh objects from the parsed file)."""
    return list(_defaults_project().flows)


def default_responses() -> list[Response]:
    return list(_defaults_project().domain.responses)


def default_slots() -> list[Slot]:
    """The slots the default patterns count with (a domain slot of the same name wins)."""
    return list(_defaults_project().domain.slots)


class CompiledFlow:
    """A flow with its steps indexed by id, for execution.

    `following[step_id]` is the step after it in its sequence (``END`` after the last step of a
    sequence); `order[step_id]` is the pre-order position.
    """

    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self.id = flow.id
        self.is_pattern = flow.id.startswith("pattern_")
        self.views = step_views(flow.steps, flow.id)
        self.steps: dict[str, StepView] = {}
        self.following: dict[str, str] = {}
        self.order: dict[str, int] = {}
        self._index(self.views)
        self.first = self.views[0].id if self.views else END
        self.collect_slots = [
            v.target
            for v in self.steps.values()
            if v.kind == "collect" and isinstance(v.target, str)
        ]
        #: The slots its collect steps may fill ahead (no ``ask_before_filling``).
        self.fillable_slots = [
            v.target
            for v in self.steps.values()
            if v.kind == "collect"
            and isinstance(v.target, str)
            and not v.data.get("ask_before_filling", False)
        ]
        self.resettable_slots = [
            v.target
            for v in self.steps.values()
            if v.kind == "collect"
            and isinstance(v.target, str)
            and v.data.get("reset_after_flow_ends", True) is not False
        ]
        self.set_slot_names = [
            name for v in self.steps.values() if v.kind == "set_slots" for name, _ in v.set_slots
        ]
        # Call steps of flows (a call of an MCP tool names a tool, even one named like a flow).
        self.called_flows = [
            v.target
            for v in self.steps.values()
            if v.kind == "call" and isinstance(v.target, str) and "mcp_server" not in v.data
        ]
        self.persisted = set(flow.persisted_slots or [])

    def _index(self, views: list[StepView]) -> None:
        for index, view in enumerate(views):
            self.steps[view.id] = view
            self.order[view.id] = len(self.order)
            self.following[view.id] = views[index + 1].id if index + 1 < len(views) else END
            for branch in view.branches or []:
                if branch.steps:
                    self._index(branch.steps)

    @property
    def name(self) -> str:
        """The readable name (``name``, else the id), as patterns show it."""
        return self.flow.name or self.flow.id

    def readable_name(self, slots: dict[str, Any] | None = None) -> str:
        """The readable name in the conversation's language (the ``language`` slot among
        `slots`): its ``translation`` there, else `name`, as Rasa's ``readable_name``."""
        language = (slots or {}).get(LANGUAGE_SLOT)
        translated = translated_flow_name(None, self.flow.translation, language)
        return translated if isinstance(translated, str) else self.name

    def collect_step_for(self, slot: str) -> StepView | None:
        for view in self.steps.values():
            if view.kind == "collect" and view.target == slot:
                return view
        return None


@dataclass
class DialogueModel:
    """The domain, the flows (user flows + default patterns) and the dialogue settings."""

    domain: Domain
    user_flows: list[Flow]
    settings: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_SETTINGS))
    assistant_id: str = ""
    language: str = "en"
    #: config.yml's ``additional_languages``: the languages the conversation may switch to
    #: (the built-in ``language`` slot), besides `language`.
    additional_languages: list[str] = field(default_factory=list)
    #: The project's sub-agents, {agent name: description}: a call step may name one, and the
    #: built-in engine says that it needs Rasa Pro to run it.
    sub_agents: dict[str, str] = field(default_factory=dict)
    #: The names of config.yml's policies (``EnterpriseSearchPolicy``, ``IntentlessPolicy``...).
    policies: list[str] = field(default_factory=list)
    #: The knowledge base built from the project's documents (``docs/``), for pattern_search.
    knowledge: KnowledgeBase = field(default_factory=KnowledgeBase)
    #: The NLU data's synonyms, {value: [other names]}: what the offline generator reads a
    #: categorical value from ("for good" -> permanent).
    synonyms: dict[str, list[str]] = field(default_factory=dict)
    #: The coexistence router's config.yml entry (``{"name": "IntentBasedRouter", ...}``), or
    #: None when the assistant has no router.
    router: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        user_ids = {f.id for f in self.user_flows}
        merged = list(self.user_flows) + [f for f in default_flows() if f.id not in user_ids]
        self.flows: dict[str, CompiledFlow] = {f.id: CompiledFlow(f) for f in merged}
        self.slots: dict[str, Slot] = {s.name: s for s in default_slots()}
        self.slots.update({s.name: s for s in self.domain.slots})
        # Rasa Pro's built-in `language` slot: the conversation's language.
        self.slots.setdefault(
            LANGUAGE_SLOT, language_slot(self.language, list(self.additional_languages))
        )
        self.responses: dict[str, Response] = {r.name: r for r in default_responses()}
        self.responses.update({r.name: r for r in self.domain.responses})
        self.custom_actions: set[str] = {a.name for a in self.domain.actions}
        # Which flows collect a slot: for deciding whether an NLU value may be set.
        self.collecting_flows: dict[str, set[str]] = {}
        #: Which flows may fill a slot ahead of its question (collects without
        #: ``ask_before_filling``).
        self.filling_flows: dict[str, set[str]] = {}
        for compiled in self.flows.values():
            for slot in compiled.collect_slots:
                self.collecting_flows.setdefault(slot, set()).add(compiled.id)
            for slot in compiled.fillable_slots:
                self.filling_flows.setdefault(slot, set()).add(compiled.id)
        #: The domain's forms, {form name: its definition (``required_slots``...)}.
        self.forms: dict[str, dict[str, Any]] = {
            str(name): spec if isinstance(spec, dict) else {}
            for name, spec in (self.domain.forms or {}).items()
        }
        # Rasa adds the slots forms and routers need when the domain does not list them.
        if self.forms and "requested_slot" not in self.slots:
            self.slots["requested_slot"] = Slot(
                name="requested_slot", type="text", mappings=[], influence_conversation=False
            )
        if self.router and "route_session_to_calm" not in self.slots:
            self.slots["route_session_to_calm"] = Slot(
                name="route_session_to_calm",
                type="bool",
                mappings=[SlotMapping(type="controlled")],
                influence_conversation=False,
            )

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def build(cls, project: Project, *, settings: dict[str, Any] | None = None) -> DialogueModel:
        """The model of `project`; `settings` override what config.yml says."""
        merged = dict(DEFAULT_SETTINGS)
        assistant_id = ""
        language = "en"
        additional: list[str] = []
        if project.config is not None:
            merged.update(_settings_from_config(project.config.data or {}))
            assistant_id = project.config.assistant_id or ""
            language = project.config.language or "en"
            additional = [c for c in project.config.additional_languages if c != language]
        merged.update(settings or {})
        agents = sub_agents({**project.prompts, **project.other_files})
        policies = [
            str(p.get("name"))
            for p in (project.config.policies if project.config is not None else [])
            if isinstance(p, dict) and p.get("name")
        ]
        router = next(
            (
                dict(c)
                for c in (project.config.pipeline if project.config is not None else [])
                if isinstance(c, dict) and c.get("name") in COEXISTENCE_ROUTERS
            ),
            None,
        )
        return cls(
            domain=project.domain,
            user_flows=list(project.flows),
            settings=merged,
            assistant_id=assistant_id,
            language=language,
            additional_languages=additional,
            sub_agents={name: agent.description for name, agent in agents.items()},
            policies=policies,
            knowledge=KnowledgeBase.build(project.knowledge_files),
            synonyms=_synonyms(project),
            router=router,
        )

    def persist(self, directory: Path | str) -> None:
        """Write the model to ``directory/dialogue.json`` (the directory is created)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        data = {
            "format_version": FORMAT_VERSION,
            "domain": domain_to_dict(self.domain),
            "flows": flows_to_dict(self.user_flows),
            "settings": self.settings,
            "assistant_id": self.assistant_id,
            "language": self.language,
            "additional_languages": self.additional_languages,
            "sub_agents": self.sub_agents,
            "policies": self.policies,
            "synonyms": self.synonyms,
            "router": self.router,
        }
        # Without indentation: json's C encoder only writes unindented documents, and the
        # document is on the path from an edit to its first reply (issue 20), a machine's read.
        (directory / MODEL_FILE).write_text(
            json.dumps(data, ensure_ascii=False, separators=(",", ":")), encoding="utf-8"
        )
        self.knowledge.persist(directory)

    @classmethod
    def load(cls, directory: Path | str) -> DialogueModel:
        data = json.loads((Path(directory) / MODEL_FILE).read_text(encoding="utf-8"))
        if data.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"Unsupported dialogue model format {data.get('format_version')!r}; retrain"
            )
        domain, flows = _parse_persisted(data)
        return cls(
            domain=domain,
            user_flows=flows,
            settings={**DEFAULT_SETTINGS, **(data.get("settings") or {})},
            assistant_id=data.get("assistant_id") or "",
            language=data.get("language") or "en",
            additional_languages=[str(c) for c in data.get("additional_languages") or []],
            sub_agents=dict(data.get("sub_agents") or {}),
            policies=[str(p) for p in data.get("policies") or []],
            knowledge=KnowledgeBase.load(directory),
            synonyms={
                str(k): [str(s) for s in v]
                for k, v in (data.get("synonyms") or {}).items()
                if isinstance(v, list)
            },
            router=data.get("router") if isinstance(data.get("router"), dict) else None,
        )

    # -- queries ------------------------------------------------------------------------------

    def flow(self, flow_id: str) -> CompiledFlow | None:
        return self.flows.get(flow_id)

    def initial_slots(self) -> dict[str, Any]:
        return {s.name: s.initial_value for s in self.slots.values()}

    def frozen_initial_slots(self) -> Mapping[str, Any]:
        """`initial_slots`, read-only and built once: what every conversation's tracker keeps
        (one copy per model, not one per conversation)."""
        cached: Mapping[str, Any] | None = self.__dict__.get("_frozen_initial_slots")
        if cached is None:
            cached = self.__dict__["_frozen_initial_slots"] = MappingProxyType(self.initial_slots())
        return cached

    def shared_slots(self) -> set[str]:
        """The slots marked ``shared_for_coexistence`` (kept when the routing resets)."""
        return {s.name for s in self.slots.values() if s.extra.get("shared_for_coexistence")}

    def required_slots(self, form: str) -> list[str]:
        """The ``required_slots`` of the domain form `form` (empty for an unknown form)."""
        spec = self.forms.get(form) or {}
        slots = spec.get("required_slots") or []
        if isinstance(slots, dict):  # Rasa 2's {slot: [mappings]} form
            return [str(name) for name in slots]
        return [str(name) for name in slots if isinstance(name, str)]

    def retrieval_actions(self) -> frozenset[str]:
        """The ``utter_<intent>`` names that have responses ``utter_<intent>/<key>``."""
        cached: frozenset[str] | None = self.__dict__.get("_retrieval_actions")
        if cached is None:
            cached = frozenset(
                name.split("/", 1)[0]
                for name in self.responses
                if "/" in name and name.startswith("utter_") and name.split("/", 1)[0] != "utter_"
            )
            self.__dict__["_retrieval_actions"] = cached
        return cached

    def triggers(self, intent: str) -> list[tuple[CompiledFlow, float]]:
        """The flows whose ``nlu_trigger`` names `intent`, with each trigger's confidence
        threshold, in the order of the flows and their triggers."""
        index: dict[str, list[tuple[CompiledFlow, float]]] | None = self.__dict__.get("_triggers")
        if index is None:
            index = {}
            for compiled in self.flows.values():
                for trigger in compiled.flow.nlu_trigger or []:
                    index.setdefault(trigger.intent, []).append(
                        (compiled, trigger.confidence_threshold or 0.0)
                    )
            self.__dict__["_triggers"] = index
        return index.get(intent, [])

    def domain_dict(self) -> dict[str, Any]:
        """The domain as Rasa serves it at ``GET /domain`` and sends to the action server.

        Built once (every custom action call sends it): the same dict every time, which
        callers read and must not change."""
        cached: dict[str, Any] | None = self.__dict__.get("_domain_dict")
        if cached is None:
            cached = self.__dict__["_domain_dict"] = self._build_domain_dict()
        return cached

    def _build_domain_dict(self) -> dict[str, Any]:
        out = domain_to_dict(self.domain)
        out["version"] = str(out.get("version") or "3.1")
        out.setdefault("intents", [])
        out.setdefault("entities", [])
        out.setdefault("slots", {})
        out.setdefault("responses", {})
        out.setdefault("actions", [])
        out.setdefault("forms", {})
        out.setdefault("e2e_actions", [])
        session = {"session_expiration_time": 60, "carry_over_slots_to_new_session": True}
        session.update(out.get("session_config") or {})
        out["session_config"] = session
        out.setdefault("config", {"store_entities_as_slots": True})
        return cast("dict[str, Any]", json.loads(json.dumps(out)))


def _synonyms(project: Project) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for synonym in project.nlu.synonyms if project.nlu is not None else []:
        found.setdefault(str(synonym.name), []).extend(str(e) for e in synonym.examples)
    return found


def _settings_from_config(config: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for component in config.get("pipeline") or []:
        if isinstance(component, dict) and component.get("name") == "FallbackClassifier":
            threshold = component.get("threshold")
            if isinstance(threshold, (int, float)) and not isinstance(threshold, bool):
                found["nlu_fallback_threshold"] = float(threshold)
    for policy in config.get("policies") or []:
        if isinstance(policy, dict) and policy.get("name") == "FlowPolicy":
            found.update({k: v for k, v in policy.items() if k in DEFAULT_SETTINGS})
    studio = config.get("studio")
    if isinstance(studio, dict):
        found.update({k: v for k, v in studio.items() if k in DEFAULT_SETTINGS})
    return found


def _parse_persisted(data: dict[str, Any]) -> tuple[Domain, list[Flow]]:
    """The domain and flows of a persisted model (``dialogue.json``), parsed from the JSON's
    values as the files ``domain.yml`` and ``data/flows.yml`` would be, without a YAML parser
    in between: a bot loads them on the path from an edit to its first reply (issue 20).
    Raises `FormatError` as loading the files would."""
    domain_file = ProblemCollector("domain.yml")
    domain = merge_domains([parse_domain(data["domain"], domain_file)])
    flows_file = ProblemCollector("data/flows.yml")
    flows = parse_flows((data.get("flows") or {}).get("flows") or {}, flows_file)
    errors = [p for p in domain_file.problems + flows_file.problems if p.severity == "error"]
    if errors:
        raise FormatError(errors)
    return domain, flows
