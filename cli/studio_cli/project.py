"""Reading a local Rasa project into the five parts an upload sends.

As Rasa's importer reads it: the domain is a file or a directory of files (merged), the data
directory holds flows and NLU in any of its YAML files (stories and rules are not uploaded),
config and endpoints are single files. Nothing is expanded: `${VAR}` goes to Studio as written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio_cli import yamlfiles
from studio_cli.errors import CliError, ExitCode

#: The domain keys an upload keeps (as Rasa's `upload` filters the user's domain).
DOMAIN_KEYS = (
    "version",
    "actions",
    "responses",
    "slots",
    "intents",
    "entities",
    "forms",
    "session_config",
)
NLU_KEYS = ("intent", "synonym", "regex", "lookup")


@dataclass
class Paths:
    root: Path = Path(".")
    data: list[Path] = field(default_factory=list)
    domain: Path | None = None
    config: Path | None = None
    endpoints: Path | None = None

    def resolve(self) -> Paths:
        """Defaults as Rasa's: `data/`, `domain.yml` or `domain/`, `config.yml`, `endpoints.yml`."""
        domain = self.domain or _first(self.root / "domain.yml", self.root / "domain")
        return Paths(
            root=self.root,
            data=self.data or [self.root / "data"],
            domain=domain,
            config=self.config or self.root / "config.yml",
            endpoints=self.endpoints or self.root / "endpoints.yml",
        )


def _first(*candidates: Path) -> Path:
    return next((path for path in candidates if path.exists()), candidates[0])


def yaml_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise CliError(f"{path}: no such file or directory.")
    return sorted(p for p in path.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file())


def read_domain(path: Path) -> dict[str, Any]:
    """The merged domain: lists joined without repeats, mappings merged (first wins)."""
    merged: dict[str, Any] = {}
    for file in yaml_files(path):
        for key, value in yamlfiles.read_mapping(file).items():
            merged[key] = _merge(merged.get(key), value, f"{file}: '{key}'")
    return merged


def _merge(old: Any, new: Any, where: str) -> Any:
    if old is None:
        return new
    if isinstance(old, list) and isinstance(new, list):
        return old + [item for item in new if item not in old]
    if isinstance(old, dict) and isinstance(new, dict):
        return {**new, **old}
    if old == new:
        return old
    raise CliError(f"{where} conflicts with another domain file.", ExitCode.REFUSED)


@dataclass
class TrainingData:
    flows: dict[str, dict[str, Any]] = field(default_factory=dict)
    nlu: list[dict[str, Any]] = field(default_factory=list)
    responses: dict[str, Any] = field(default_factory=dict)
    #: flow id -> the file that defines it (a pull rewrites flows where they are).
    flow_files: dict[str, Path] = field(default_factory=dict)


def read_data(paths: list[Path]) -> TrainingData:
    data = TrainingData()
    for path in paths:
        for file in yaml_files(path):
            _read_data_file(file, data)
    return data


def _read_data_file(file: Path, data: TrainingData) -> None:
    document = yamlfiles.read_mapping(file)
    flows = document.get("flows") or {}
    if not isinstance(flows, dict):
        raise CliError(f"{file}: 'flows' must map flow ids to flows.", ExitCode.REFUSED)
    for flow_id, flow in flows.items():
        if flow_id in data.flows:
            raise CliError(
                f"{file}: flow '{flow_id}' is also defined in {data.flow_files[flow_id]}.",
                ExitCode.REFUSED,
            )
        if not isinstance(flow, dict):
            raise CliError(f"{file}: flow '{flow_id}' must be a mapping.", ExitCode.REFUSED)
        data.flows[flow_id] = flow
        data.flow_files[flow_id] = file
    nlu = document.get("nlu") or []
    if not isinstance(nlu, list):
        raise CliError(f"{file}: 'nlu' must be a list.", ExitCode.REFUSED)
    for index, item in enumerate(nlu, start=1):
        if not isinstance(item, dict) or not any(key in item for key in NLU_KEYS):
            raise CliError(
                f"{file}: nlu item {index} has none of {', '.join(NLU_KEYS)}.", ExitCode.REFUSED
            )
        data.nlu.append(item)
    responses = document.get("responses") or {}
    if isinstance(responses, dict):
        data.responses.update(responses)


def nlu_document(data: TrainingData) -> dict[str, Any] | None:
    """As Rasa's YAML writer lays training data out: examples as one `- ...` block per intent."""
    if not data.nlu and not data.responses:
        return None
    items = []
    for item in data.nlu:
        item = dict(item)
        if isinstance(item.get("examples"), list):
            item["examples"] = "".join(f"- {example}\n" for example in item["examples"])
        items.append(item)
    document: dict[str, Any] = {"version": "3.1", "nlu": items}
    if data.responses:
        document["responses"] = data.responses
    return document


@dataclass
class Upload:
    parts: dict[str, str]
    prompts: dict[str, str]


def read_project(paths: Paths, whole_domain: bool = False) -> Upload:
    """The upload's parts (YAML text; empty parts left out, as Rasa 3.21 leaves them out).
    `upload` keeps the domain keys of DOMAIN_KEYS; `push` sends the whole domain."""
    paths = paths.resolve()
    assert paths.domain and paths.config and paths.endpoints
    if not paths.config.is_file():
        raise CliError(f"{paths.config}: no such file (give the config with -c).")
    config = yamlfiles.read_mapping(paths.config)
    endpoints = yamlfiles.read_mapping(paths.endpoints) if paths.endpoints.is_file() else {}
    domain = read_domain(paths.domain) if paths.domain.exists() else {}
    data = read_data(paths.data)
    kept_domain = domain if whole_domain else {k: domain[k] for k in DOMAIN_KEYS if k in domain}
    documents = {
        "domain": kept_domain,
        "flows": {"flows": {fid: _without_id(f) for fid, f in data.flows.items()}}
        if data.flows
        else None,
        "config": config,
        "endpoints": endpoints,
        "nlu": nlu_document(data),
    }
    if not data.flows and not data.nlu:
        raise CliError(
            f"{', '.join(map(str, paths.data))}: no flows and no NLU data found.", ExitCode.REFUSED
        )
    parts = {name: yamlfiles.dump(doc) for name, doc in documents.items() if doc}
    return Upload(parts, custom_prompts(paths.root, config, endpoints))


def _without_id(flow: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in flow.items() if key != "id"}


def prompt_references(config: dict, endpoints: dict) -> dict[str, str]:
    """Prompt name -> the path config or endpoints give for it (as Rasa's
    `collect_custom_prompts` looks them up)."""
    found: dict[str, str] = {}
    nlg = endpoints.get("nlg")
    if isinstance(nlg, dict) and isinstance(nlg.get("prompt"), str):
        found["contextual_response_rephraser"] = nlg["prompt"]
    for component in config.get("pipeline") or []:
        if _is_command_generator(component) and isinstance(component.get("prompt_template"), str):
            found["command_generator"] = component["prompt_template"]
            break
    for policy in config.get("policies") or []:
        if isinstance(policy, dict) and policy.get("name") == "EnterpriseSearchPolicy":
            if isinstance(policy.get("prompt"), str):
                found["enterprise_search"] = policy["prompt"]
            break
    return found


def _is_command_generator(component: object) -> bool:
    return isinstance(component, dict) and "CommandGenerator" in str(component.get("name", ""))


def custom_prompts(root: Path, config: dict, endpoints: dict) -> dict[str, str]:
    """The text of the prompt files that exist (a missing one is skipped, as Rasa skips it)."""
    found = {}
    for name, path in prompt_references(config, endpoints).items():
        file = Path(path) if Path(path).is_absolute() else root / path
        if file.is_file():
            found[name] = file.read_text(encoding="utf-8")
    return found
