"""Training: a Rasa project directory in, a model archive out.

``python -m engine train PROJECT_DIR --out DIR`` loads the project through `engine.formats`
(from where ``--config``, ``--domain``, ``--data`` and ``--endpoints`` say its files are, as
``rasa train`` is told), refuses it when it has no config.yml or when validation finds errors
(each printed as ``file:line (path): message``), trains
the NLU model, the flow classifier and the dialogue model, and writes the archive described in
`engine.archive`. Progress goes to stdout one flushed line at a time, for a log viewer.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.archive import (
    ARCHIVE_FORMAT_VERSION,
    COMPONENTS_DIR,
    DIALOGUE_COMPONENT,
    FLOW_CLASSIFIER_COMPONENT,
    LLM_COMPONENT,
    NLU_COMPONENT,
    POLICIES_COMPONENT,
    write_archive,
)
from engine.cache import ComponentCache, Outcome, Parts, build_component, train_ahead
from engine.formats import (
    FormatError,
    Problem,
    Project,
    collect_project,
    domain_to_dict,
    flows_to_dict,
    load_project_dir,
    load_project_files,
    validate_project,
)
from engine.formats.nlu import nlu_to_list
from engine.formats.responses import responses_to_yaml

__all__ = [
    "ENGINE_NAME",
    "ENGINE_VERSION",
    "Locations",
    "TrainingFailed",
    "TrainingResult",
    "default_model_name",
    "format_problem",
    "nlu_training_data",
    "project_fingerprint",
    "train_project",
]

ENGINE_NAME = "studio-engine"
ENGINE_VERSION = "0.1.0"
ARCHIVE_SUFFIX = ".tar.gz"

Progress = Callable[[str], None]

# Word lists for default model names (``20250101-120000-brisk-harbor.tar.gz``), as Rasa names
# its models with a timestamp and a random readable suffix.
_ADJECTIVES = (
    "amber", "bold", "brisk", "calm", "clever", "crisp", "eager", "fair", "gentle", "glad",
    "keen", "lively", "lucky", "mellow", "nimble", "proud", "quick", "quiet", "rapid", "shy",
    "steady", "sunny", "swift", "tidy", "vivid", "warm", "wise", "young", "zesty", "noble",
)  # fmt: skip
_NOUNS = (
    "anchor", "badger", "beacon", "breeze", "canyon", "cedar", "comet", "delta", "falcon",
    "fjord", "garden", "harbor", "island", "lagoon", "lantern", "meadow", "orbit", "otter",
    "pebble", "prairie", "quartz", "raven", "ridge", "river", "summit", "thistle", "tundra",
    "valley", "willow", "zephyr",
)  # fmt: skip


class TrainingFailed(Exception):
    """The project cannot be trained; `problems` lists why (each with file, line, key path)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(format_problem(p) for p in problems))


@dataclass
class TrainingResult:
    path: Path
    metadata: dict[str, Any]
    seconds: float
    timings: dict[str, float]
    #: What the cache did per component, in training order (empty without a cache).
    components: list[Outcome] = field(default_factory=list)


def format_problem(problem: Problem) -> str:
    """``file:line (path): message``, leaving out the parts that are unknown."""
    where = problem.file or "<project>"
    if problem.line is not None:
        where += f":{problem.line}"
    if problem.path:
        where += f" ({problem.path})"
    return f"{where}: {problem.message}"


def default_model_name(now: datetime | None = None) -> str:
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{secrets.choice(_ADJECTIVES)}-{secrets.choice(_NOUNS)}"


def project_fingerprint(project: Project) -> str:
    """SHA-256 of everything that is trained on: config, domain, flows, NLU data and the
    knowledge documents."""
    payload: dict[str, Any] = {
        "config": project.config.text if project.config is not None else None,
        "domain": domain_to_dict(project.domain),
        "flows": flows_to_dict(project.flows)["flows"],
        "nlu": nlu_to_list(project.nlu),
    }
    knowledge = project.knowledge_files
    if knowledge:  # the knowledge base is trained on too (left out when empty: same as before)
        payload["knowledge"] = {
            path: content if isinstance(content, str) else hashlib.sha256(content).hexdigest()
            for path, content in knowledge.items()
        }
    blob = json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


#: The cached components trained here besides the NLU's (`engine.nlu.model`), and the modules
#: whose code trains them.
FLOW_INDEX_COMPONENT = "flow_retrieval"
POLICIES_CACHE_COMPONENT = "policies"
FLOW_INDEX_CODE = ("engine.dialogue.flow_classifier",)
POLICIES_CODE = (
    "engine.formats.stories",
    "engine.policies.base",
    "engine.policies.ensemble",
    "engine.policies.learned",
    "engine.policies.memoization",
    "engine.policies.rule",
    "engine.policies.states",
    "engine.policies.training",
)


def flow_index_inputs(project: Project) -> dict[str, Any]:
    """What the flow retrieval index is built from: each flow's id, name, description, whether
    it is guarded off, its nlu_trigger intents, and the examples of those intents (not its steps,
    slots or responses)."""
    flows = [
        [
            flow.id,
            flow.name,
            flow.description,
            flow.guard is False,
            [trigger.intent for trigger in flow.nlu_trigger or []],
        ]
        for flow in project.flows
    ]
    triggered = {trigger.intent for flow in project.flows for trigger in flow.nlu_trigger or []}
    examples = [
        [block.intent, [ex.text for ex in block.examples]]
        for block in project.nlu.intents
        if block.intent in triggered
    ]
    return {"flows": flows, "examples": examples}


def policies_inputs(project: Project) -> dict[str, Any]:
    """What the classic policies learn from: their entries of config.yml's ``policies``, the
    domain as the policies featurise it, and the story and rule files."""
    from engine.formats import load_stories
    from engine.policies import CALM_POLICIES
    from engine.policies.states import StateSpec

    entries = project.config.policies if project.config is not None else []
    classic = [
        entry
        for entry in entries
        if not (isinstance(entry, dict) and entry.get("name") in CALM_POLICIES)
    ]
    stories = load_stories(project.other_files)
    return {
        "policies": classic,
        "spec": StateSpec.from_domain(project.domain).to_dict(),
        "files": {path: project.other_files[path] for path in stories.files},
    }


def nlu_training_data(project: Project) -> Any:
    """The project's NLU data as `engine.nlu.NluTrainingData`."""
    from engine.dialogue import to_training_data

    return to_training_data(project.nlu)


def _archive_path(out: str | os.PathLike[str], fixed_name: str | None) -> Path:
    out_path = Path(out)
    if str(out).endswith(ARCHIVE_SUFFIX) and not fixed_name:
        return out_path
    name = fixed_name or default_model_name()
    if not name.endswith(ARCHIVE_SUFFIX):
        name += ARCHIVE_SUFFIX
    if "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(f"the model name {name!r} must be a plain file name")
    return out_path / name


@dataclass(frozen=True)
class Locations:
    """Where the project's files are, when not at Rasa's defaults (paths relative to the
    project directory, or absolute): ``--config``, ``--domain``, ``--data``, ``--endpoints``."""

    config: str | None = None
    domain: str | None = None
    data: tuple[str, ...] = ()
    endpoints: str | None = None

    def given(self) -> bool:
        return bool(self.config or self.domain or self.data or self.endpoints)


NO_CONFIG = (
    "The config file 'config.yml' does not exist. Use '--config' to specify a valid config file."
)


def _load(root: Path, locations: Locations) -> Project:
    # libyaml composes every file (the same values and errors): a training's load is on the
    # path from an edit to its first reply.
    if not locations.given():
        return load_project_dir(root, fast_yaml=True)
    located = collect_project(
        root,
        config=locations.config,
        domain=locations.domain,
        data=locations.data or None,
        endpoints=locations.endpoints,
    )
    project = load_project_files(located.files, fast_yaml=True)
    left_out = located.left_out_warning()
    if left_out is not None:
        project.load_warnings.append(left_out)
    return project


def load_and_validate(
    project_dir: str | os.PathLike[str], locations: Locations | None = None
) -> tuple[Project, list[Problem]]:
    """The project and its warnings; raises `TrainingFailed` listing every error.

    A project without a config.yml is refused (Rasa does not train one either).
    """
    root = Path(project_dir)
    if not root.is_dir():
        raise TrainingFailed([Problem(str(root), None, "", "no such project directory")])
    try:
        project = _load(root, locations or Locations())
    except FormatError as exc:
        raise TrainingFailed([p for p in exc.problems if p.severity == "error"]) from exc
    problems = [*project.load_warnings, *validate_project(project)]
    errors = [p for p in problems if p.severity == "error"]
    if project.config is None:
        errors.insert(0, Problem("config.yml", None, "", NO_CONFIG))
    if errors:
        raise TrainingFailed(errors)
    return project, [p for p in problems if p.severity != "error"]


def train_project(
    project_dir: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    fixed_model_name: str | None = None,
    progress: Progress | None = None,
    locations: Locations | None = None,
    cache: str | os.PathLike[str] | None = None,
    cache_url: str | None = None,
) -> TrainingResult:
    """Train the project in `project_dir` and write the archive into the directory `out`.

    `out` may also be a path ending in ``.tar.gz``; `locations` says where the project's files
    are when not at Rasa's defaults. With `cache` (a directory, see `engine.cache`) every trained
    component whose inputs are unchanged is reused from it, and the others are stored there;
    `cache_url` is a remote cache behind it (`engine.remote_cache`).
    Raises `TrainingFailed` when the project has errors.
    """
    report: Progress = progress or (lambda _line: None)
    components_cache = None
    if cache is not None:
        from engine.remote_cache import HttpCache

        remote = HttpCache(cache_url) if cache_url else None
        components_cache = ComponentCache(cache, report, remote=remote)
    try:
        return _train(project_dir, out, fixed_model_name, report, locations, components_cache)
    finally:
        if components_cache is not None:
            components_cache.stop_ahead()  # a training that failed half-way leaves none running


def _train(
    project_dir: str | os.PathLike[str],
    out: str | os.PathLike[str],
    fixed_model_name: str | None,
    report: Progress,
    locations: Locations | None,
    components_cache: ComponentCache | None,
) -> TrainingResult:
    from engine.dialogue import DialogueModel, FlowClassifier
    from engine.llm import LlmComponent
    from engine.nlu import NluModel
    from engine.nlu.pipeline import PipelineError
    from engine.policies import PolicyEnsemble

    began = time.perf_counter()
    timings: dict[str, float] = {}
    target = _archive_path(out, fixed_model_name)

    report(f"Loading project {project_dir}")
    step = time.perf_counter()
    project, warnings = load_and_validate(project_dir, locations)
    for warning in warnings:
        report(f"Warning: {format_problem(warning)}")
    language = (project.config.language if project.config else None) or "en"
    assistant_id = (project.config.assistant_id if project.config else None) or ""
    fingerprint = project_fingerprint(project)
    timings["load"] = time.perf_counter() - step
    report(
        f"Loaded {len(project.flows)} flows, {len(project.domain.slots)} slots, "
        f"{len(project.domain.responses)} responses ({len(warnings)} warnings)"
    )

    # The flow retrieval index and the policies learn from none of the NLU's components: they
    # train alongside them (engine.cache.train_ahead), each built in its turn below.
    flow_index: Parts = (
        FLOW_INDEX_COMPONENT,
        flow_index_inputs(project),
        FLOW_INDEX_CODE,
        lambda _say: FlowClassifier.train(project.flows, project.nlu),
        lambda value, directory: value.persist(directory),
    )
    policy_parts: Parts = (
        POLICIES_CACHE_COMPONENT,
        policies_inputs(project),
        POLICIES_CODE,
        lambda say: PolicyEnsemble.train(project, progress=lambda line: say(f"  {line}")),
        lambda value, directory: value.persist(directory),
    )
    train_ahead(components_cache, *flow_index)
    train_ahead(components_cache, *policy_parts)

    data = nlu_training_data(project)
    step = time.perf_counter()
    report(f"Training NLU on {len(data.examples)} examples ({len(data.intents)} intents)")
    try:
        nlu = NluModel.train(
            data,
            language=language,
            progress=lambda line: report(f"  {line}"),
            pipeline=project.config.pipeline if project.config else None,
            responses=responses_to_yaml(project.domain.responses),
            cache=components_cache,
        )
    except PipelineError as exc:
        config = project.config
        file = (config.file if config else "") or "config.yml"
        line = config.lines.get(exc.path) if config else None
        raise TrainingFailed([Problem(file, line, exc.path, exc.message)]) from exc
    timings["nlu"] = time.perf_counter() - step

    step = time.perf_counter()
    report(f"Training flow classifier on {len(project.flows)} flows")
    flow_classifier = build_component(components_cache, report, *flow_index, FlowClassifier.load)
    timings["flow_classifier"] = time.perf_counter() - step

    step = time.perf_counter()
    report("Building dialogue model")
    dialogue_model = DialogueModel.build(project)
    llm_component = LlmComponent.from_project(project)
    timings["dialogue"] = time.perf_counter() - step

    step = time.perf_counter()
    policies = build_component(components_cache, report, *policy_parts, PolicyEnsemble.load)
    timings["policies"] = time.perf_counter() - step
    reused = components_cache is not None and components_cache.outcomes[-1].reused
    if policies.active and not reused:
        report(
            f"Trained policies {', '.join(policies.names)} on {policies.stats['trackers']} "
            f"trackers ({policies.stats['stories']} stories, {policies.stats['rules']} rules) "
            f"in {timings['policies']:.2f} s"
        )

    step = time.perf_counter()
    trained_at = datetime.now(UTC)
    metadata: dict[str, Any] = {
        "domain": dialogue_model.domain_dict(),
        "trained_at": trained_at.isoformat(),
        "model_id": uuid.uuid4().hex,
        "assistant_id": assistant_id,
        "engine": {
            "name": ENGINE_NAME,
            "version": ENGINE_VERSION,
            "format_version": ARCHIVE_FORMAT_VERSION,
        },
        "engine_version": ENGINE_VERSION,
        "project_fingerprint": fingerprint,
        "language": language,
        "additional_languages": list(dialogue_model.additional_languages),
        "training_type": "BOTH",
        "components": {
            NLU_COMPONENT: f"{COMPONENTS_DIR}/{NLU_COMPONENT}",
            FLOW_CLASSIFIER_COMPONENT: f"{COMPONENTS_DIR}/{FLOW_CLASSIFIER_COMPONENT}",
            DIALOGUE_COMPONENT: f"{COMPONENTS_DIR}/{DIALOGUE_COMPONENT}",
            LLM_COMPONENT: f"{COMPONENTS_DIR}/{LLM_COMPONENT}",
            POLICIES_COMPONENT: f"{COMPONENTS_DIR}/{POLICIES_COMPONENT}",
        },
        "stats": {
            "flows": len(project.flows),
            "intents": len(data.intents),
            "examples": len(data.examples),
            "slots": len(project.domain.slots),
            "responses": len(project.domain.responses),
        },
    }
    report(f"Writing model archive {target}")
    with tempfile.TemporaryDirectory(prefix="engine-train-") as tmp:
        components = Path(tmp) / COMPONENTS_DIR
        for name, component in (
            (NLU_COMPONENT, nlu),
            (FLOW_CLASSIFIER_COMPONENT, flow_classifier),
            (DIALOGUE_COMPONENT, dialogue_model),
            (LLM_COMPONENT, llm_component),
            (POLICIES_COMPONENT, policies),
        ):
            (components / name).mkdir(parents=True)
            # A component reused from the cache is its entry's files, copied.
            if components_cache is None or not components_cache.persist_reused(
                component, components / name
            ):
                component.persist(components / name)
        write_archive(target, metadata, components)
    timings["archive"] = time.perf_counter() - step
    seconds = time.perf_counter() - began
    report(f"Model written to {target}")
    report(f"Training finished in {seconds:.2f} s")
    outcomes = list(components_cache.outcomes) if components_cache is not None else []
    return TrainingResult(target, metadata, seconds, timings, outcomes)


def print_line(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
