"""What a model keeps for its LLM components, and how a bot connects them at start.

Training stores the ``llm`` component of the archive (`LlmComponent`): config.yml's pipeline
entries (command generators, with their ``llm``, ``prompt_template``, ``flow_retrieval``...)
and the project's prompt files, so that a custom ``prompt_template`` travels with the model.
Serving reads endpoints.yml (``model_groups``, ``nlg``) and the bot's environment (the
assistant's secrets) and builds `LlmSetup`: the LLM command generators to run, whether the
NLU command adapter runs before them, and the rephraser.

Which generators run, as in Rasa: the pipeline's command generators in order: the
``NLUCommandAdapter`` when listed, then the LLM generator. When the pipeline lists no LLM
generator, or its LLM is not configured (no model group, no API key...), the offline
generator runs instead; the reason is logged when the bot starts.
"""

from __future__ import annotations

import json
import logging
import os
import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.dialogue.model import DialogueModel
from engine.llm.client import LlmClient
from engine.llm.config import LlmConfigError, default_llm, llm_configured, resolve_llm
from engine.llm.generator import GENERATOR_SYNTAX, LlmCommandGenerator, RetrievalSettings
from engine.llm.prompt import PromptError
from engine.llm.rephraser import Rephraser
from engine.netguard import BlockedNetworks

__all__ = ["LLM_COMPONENT", "LlmComponent", "LlmSetup", "build_llm_setup"]

logger = logging.getLogger(__name__)

LLM_COMPONENT = "llm"
_FILE = "llm.json"
FORMAT_VERSION = 1
NLU_COMMAND_ADAPTER = "NLUCommandAdapter"
SEARCH_POLICY = "EnterpriseSearchPolicy"


@dataclass
class LlmComponent:
    """The parts of a project the LLM components need at run time."""

    pipeline: list[dict[str, Any]] = field(default_factory=list)
    prompts: dict[str, str] = field(default_factory=dict)
    #: config.yml's ``EnterpriseSearchPolicy`` entry, whose ``llm`` answers knowledge questions.
    search_policy: dict[str, Any] | None = None

    @classmethod
    def from_project(cls, project: Any) -> LlmComponent:
        data = (project.config.data if project.config is not None else None) or {}
        pipeline = [
            dict(entry)
            for entry in data.get("pipeline") or []
            if isinstance(entry, dict)
            and (entry.get("name") in GENERATOR_SYNTAX or entry.get("name") == NLU_COMMAND_ADAPTER)
        ]
        search = next(
            (
                dict(entry)
                for entry in data.get("policies") or []
                if isinstance(entry, dict) and entry.get("name") == SEARCH_POLICY
            ),
            None,
        )
        return cls(
            pipeline=json.loads(json.dumps(pipeline, default=str)),
            prompts=dict(project.prompts),
            search_policy=json.loads(json.dumps(search, default=str)) if search else None,
        )

    def persist(self, directory: Path | str) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        data = {
            "format_version": FORMAT_VERSION,
            "pipeline": self.pipeline,
            "prompts": self.prompts,
            "search_policy": self.search_policy,
        }
        (directory / _FILE).write_text(json.dumps(data, ensure_ascii=False, indent=1), "utf-8")

    @classmethod
    def load(cls, directory: Path | str) -> LlmComponent:
        data = json.loads((Path(directory) / _FILE).read_text(encoding="utf-8"))
        if data.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"unsupported LLM component format {data.get('format_version')!r}")
        search = data.get("search_policy")
        return cls(
            pipeline=list(data.get("pipeline") or []),
            prompts=dict(data.get("prompts") or {}),
            search_policy=search if isinstance(search, dict) else None,
        )

    def prompt(self, path: Any) -> str | None:
        """The text of the project's prompt file `path` (None when the project has none)."""
        if not isinstance(path, str) or not path.strip():
            return None
        wanted = posixpath.normpath(path.strip().replace("\\", "/"))
        for name, text in self.prompts.items():
            if posixpath.normpath(name) == wanted:
                return text
        return None


@dataclass
class LlmSetup:
    """The LLM parts of a running bot."""

    generators: list[LlmCommandGenerator] = field(default_factory=list)
    nlu_adapter: bool = False
    rephraser: Rephraser | None = None
    #: The EnterpriseSearchPolicy's LLM, which answers knowledge questions from passages.
    search_client: LlmClient | None = None
    #: Why the offline generator runs although the pipeline lists an LLM generator.
    notes: list[str] = field(default_factory=list)

    @property
    def search(self) -> Callable[[str], str] | None:
        """The knowledge answerer's hook: a prompt with the best passages in, the answer out."""
        client = self.search_client
        if client is None:
            return None
        return lambda prompt: client.complete(prompt).text

    @property
    def uses_llm(self) -> bool:
        return bool(self.generators)

    def close(self) -> None:
        clients = {id(g.client): g.client for g in self.generators}
        if self.search_client is not None:
            clients[id(self.search_client)] = self.search_client
        if self.rephraser is not None:
            clients[id(self.rephraser.client)] = self.rephraser.client
        for client in clients.values():
            client.close()


def build_llm_setup(
    component: LlmComponent | None,
    model: DialogueModel,
    endpoints: Mapping[str, Any] | None,
    *,
    environ: Mapping[str, str] | None = None,
    blocked: BlockedNetworks | None = None,
) -> LlmSetup:
    """The generators and the rephraser for a bot (see the module docstring). Configuration
    that cannot be used is logged and the part runs without an LLM."""
    env = os.environ if environ is None else environ
    endpoints = endpoints or {}
    groups = endpoints.get("model_groups")
    component = component or LlmComponent()
    setup = LlmSetup(
        nlu_adapter=any(e.get("name") == NLU_COMMAND_ADAPTER for e in component.pipeline)
    )
    for index, entry in enumerate(component.pipeline):
        name = entry.get("name")
        if name not in GENERATOR_SYNTAX or setup.generators:
            continue
        where = f"config.yml pipeline[{index}] ({name}).llm"
        if not llm_configured(entry.get("llm"), env):
            setup.notes.append(f"{name}: no LLM configured (no llm and no OPENAI_API_KEY)")
            continue
        try:
            generator = _generator(entry, name, where, component, model, groups, env, blocked)
        except (LlmConfigError, PromptError) as exc:
            setup.notes.append(f"{name}: {exc}")
            continue
        setup.generators.append(generator)
    _search(component.search_policy, groups, env, blocked, setup)
    setup.rephraser = _rephraser(
        endpoints.get("nlg"), component, model, groups, env, blocked, setup
    )
    for note in setup.notes:
        logger.warning("%s; the offline generator understands messages", note)
    return setup


def _generator(
    entry: dict[str, Any],
    name: str,
    where: str,
    component: LlmComponent,
    model: DialogueModel,
    groups: Any,
    env: Mapping[str, str],
    blocked: BlockedNetworks | None,
) -> LlmCommandGenerator:
    models = resolve_llm(
        entry.get("llm"), groups, where, default=default_llm("command"), environ=env
    )
    template_path = entry.get("prompt_template") or entry.get("prompt")
    template = component.prompt(template_path)
    if template_path and template is None:
        raise LlmConfigError(
            f"config.yml pipeline ({name}).prompt_template: the project has no file "
            f"'{template_path}'"
        )
    return LlmCommandGenerator(
        name=name,
        model=model,
        client=LlmClient(models, blocked=blocked),
        template_text=template,
        template_source=str(template_path) if template_path else "the default prompt template",
        retrieval=RetrievalSettings.from_config(entry.get("flow_retrieval")),
        minimize_num_calls=entry.get("minimize_num_calls", True) is not False,
        include_date_time=entry.get("include_date_time") is True,
        timezone=entry.get("timezone") if isinstance(entry.get("timezone"), str) else None,
    )


def _search(
    policy: dict[str, Any] | None,
    groups: Any,
    env: Mapping[str, str],
    blocked: BlockedNetworks | None,
    setup: LlmSetup,
) -> None:
    """The EnterpriseSearchPolicy's ``llm`` (Rasa's default when absent), when one is
    configured; without one, knowledge questions are answered with the best passage."""
    if policy is None or not llm_configured(policy.get("llm"), env):
        return
    try:
        models = resolve_llm(
            policy.get("llm"),
            groups,
            "config.yml policies (EnterpriseSearchPolicy).llm",
            default=default_llm("search"),
            environ=env,
        )
    except LlmConfigError as exc:
        setup.notes.append(f"EnterpriseSearchPolicy: {exc}; the best passage answers")
        return
    setup.search_client = LlmClient(models, blocked=blocked)


def _rephraser(
    nlg: Any,
    component: LlmComponent,
    model: DialogueModel,
    groups: Any,
    env: Mapping[str, str],
    blocked: BlockedNetworks | None,
    setup: LlmSetup,
) -> Rephraser | None:
    if not isinstance(nlg, dict) or nlg.get("type") != "rephrase":
        return None
    if not llm_configured(nlg.get("llm"), env):
        setup.notes.append("nlg (rephrase): no LLM configured; responses are sent as written")
        return None
    try:
        models = resolve_llm(
            nlg.get("llm"),
            groups,
            "endpoints.yml nlg.llm",
            default=default_llm("rephraser"),
            environ=env,
        )
        path = nlg.get("prompt_template") or nlg.get("prompt")
        template = component.prompt(path)
        if path and template is None:
            raise LlmConfigError(
                f"endpoints.yml nlg.prompt_template: the project has no file '{path}'"
            )
        turns = nlg.get("max_historical_turns")
        return Rephraser(
            LlmClient(models, blocked=blocked),
            template=template,
            template_source=str(path) if path else "the rephraser's prompt template",
            rephrase_all=nlg.get("rephrase_all") is True,
            max_historical_turns=turns
            if isinstance(turns, int) and not isinstance(turns, bool)
            else 5,
            language=model.language,
        )
    except (LlmConfigError, PromptError) as exc:
        setup.notes.append(f"nlg (rephrase): {exc}; responses are sent as written")
        return None
