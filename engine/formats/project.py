"""A whole assistant project: loading from files in any layout Rasa accepts, and dumping.

Loading classifies every file by its path and, for YAML, by its top-level keys:

* ``config.yml`` / ``endpoints.yml`` at the root are kept as text (`ConfigFile`, `EndpointsFile`);
* a YAML file with domain keys (``intents``, ``slots``, ``responses``...) contributes to the
  domain, wherever it is (``domain.yml``, ``domain/*.yml``, or a data file's ``responses``);
* ``flows:`` and ``nlu:`` sections are read from any YAML file, so one data file may hold nlu,
  flows and responses together;
* prompt templates (``*.jinja2``, ``*.jinja``, ``*.j2``, and any file config.yml or
  endpoints.yml names as a prompt) are kept as text in `Project.prompts`;
* files under ``tests/``, hidden directories, ``models/`` and ``actions/`` are ignored; other
  YAML files (stories, rules, credentials.yml...) are kept verbatim in `Project.other_files`.

Dumping (`dump_project`) always writes this fixed layout, deterministically::

    config.yml, endpoints.yml   the stored text, unchanged
    domain.yml                  the whole domain in ONE file (responses from data files included)
    data/flows.yml              every flow, steps in the compact form
    data/nlu.yml                intents with examples, then synonyms, regexes, lookup tables
    <prompt paths>              prompt templates at the paths config.yml / endpoints.yml use
    <other paths>               other kept files, unchanged
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.formats.config import ConfigFile, EndpointsFile
from engine.formats.domain import (
    DOMAIN_KEYS,
    Domain,
    domain_to_dict,
    merge_domains,
    parse_domain,
)
from engine.formats.errors import FormatError, Problem, ProblemCollector
from engine.formats.flows import Flow, flows_to_dict, parse_flows
from engine.formats.migrate import (
    LegacyDomain,
    markdown_problem,
    migrate_yaml_document,
    scan_legacy_domain,
)
from engine.formats.nlu import NluData, nlu_to_list, parse_nlu
from engine.formats.responses import parse_responses
from engine.formats.yamlio import (
    MAX_PROJECT_BYTES,
    decode_text,
    double_quoted,
    dump_yaml,
    load_yaml,
)

#: Most files a project may hold.
MAX_PROJECT_FILES = 5000
DATA_VERSION = "3.1"

PROMPT_SUFFIXES = (".jinja2", ".jinja", ".j2")
YAML_SUFFIXES = (".yml", ".yaml")
IGNORED_DIRS = ("tests", "models", "actions", "results", "__pycache__", "node_modules")

#: Root files Rasa reads that Studio keeps verbatim without comment.
KNOWN_OTHER_FILES = ("credentials.yml", "credentials.yaml")

CONFIG_PATH = "config.yml"
ENDPOINTS_PATH = "endpoints.yml"
DOMAIN_PATH = "domain.yml"
FLOWS_PATH = "data/flows.yml"
NLU_PATH = "data/nlu.yml"


@dataclass
class Project:
    """An assistant as data: everything Studio stores, independent of the file layout."""

    domain: Domain = field(default_factory=Domain)
    flows: list[Flow] = field(default_factory=list)
    nlu: NluData = field(default_factory=NluData)
    config: ConfigFile | None = None
    endpoints: EndpointsFile | None = None
    #: Prompt template text by project-relative path.
    prompts: dict[str, str] = field(default_factory=dict)
    #: Files kept verbatim (stories, rules, credentials.yml...) by project-relative path.
    other_files: dict[str, str] = field(default_factory=dict)
    #: Warnings found while loading.
    load_warnings: list[Problem] = field(default_factory=list, compare=False, repr=False)
    #: Per file, the 1-based line of each key path, for locating problems.
    source_lines: dict[str, dict[str, int]] = field(default_factory=dict, compare=False, repr=False)
    #: The loaded files that hold Rasa data (domain, flows, NLU, stories, config, prompts...).
    rasa_files: list[str] = field(default_factory=list, compare=False, repr=False)
    #: The files that were not imported, each with the reason.
    ignored_files: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def flow(self, flow_id: str) -> Flow | None:
        return next((f for f in self.flows if f.id == flow_id), None)


def _normalise_path(raw: str) -> str | None:
    path = raw.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    if not path or path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        return None
    norm = posixpath.normpath(path)
    if norm.startswith("../") or norm == ".." or norm == ".":
        return None
    return norm


def _is_ignored(path: str) -> bool:
    return _ignored_reason(path) is not None


def _ignored_reason(path: str) -> str | None:
    parts = path.split("/")
    if parts[0] == "__MACOSX":
        return "macOS archive metadata"
    if any(part.startswith(".") for part in parts):
        return "a hidden file or folder"
    if len(parts) > 1 and parts[0] in IGNORED_DIRS:
        return f"Studio does not import the {parts[0]}/ folder"
    return None


def ignored_summary(ignored: dict[str, str]) -> str:
    """One sentence naming every ignored file with the reason."""
    listed = "; ".join(f"{path} ({reason})" for path, reason in sorted(ignored.items()))
    count = len(ignored)
    return f"{count} file{'s' if count != 1 else ''} not imported: {listed}"


def load_project_dir(path: str | os.PathLike[str]) -> Project:
    """Load a project from a directory on disk (see `load_project_files`)."""
    root = Path(path)
    files: dict[str, bytes] = {}
    total = 0
    for file_path in sorted(root.rglob("*")):
        if not file_path.is_file():
            continue
        rel = file_path.relative_to(root).as_posix()
        if _is_ignored(rel):
            continue
        if not rel.endswith((*YAML_SUFFIXES, *PROMPT_SUFFIXES, ".txt", ".md")):
            continue
        size = file_path.stat().st_size
        total += size
        if total > MAX_PROJECT_BYTES:
            raise FormatError(
                [
                    Problem(
                        None,
                        None,
                        "",
                        f"the project is larger than the limit of {MAX_PROJECT_BYTES} bytes",
                    )
                ]
            )
        files[rel] = file_path.read_bytes()
    return load_project_files(files)


def load_project_files(files: Mapping[str, bytes | str]) -> Project:
    """Load a project from ``{relative path: content}``.

    Raises `FormatError` listing every error found in any file; warnings are kept on
    `Project.load_warnings`. Paths are relative to the project root (``domain.yml``,
    ``domain/slots.yml``, ``data/flows/transfer.yml``...).
    """
    problems: list[Problem] = []
    total = sum(
        len(v.encode("utf-8", "surrogatepass") if isinstance(v, str) else v) for v in files.values()
    )
    if total > MAX_PROJECT_BYTES:
        raise FormatError(
            [
                Problem(
                    None,
                    None,
                    "",
                    f"the project is {total} bytes, larger than the limit of "
                    f"{MAX_PROJECT_BYTES} bytes",
                )
            ]
        )
    if len(files) > MAX_PROJECT_FILES:
        raise FormatError(
            [
                Problem(
                    None,
                    None,
                    "",
                    f"the project has {len(files)} files, more than the limit of "
                    f"{MAX_PROJECT_FILES}",
                )
            ]
        )

    normalised: dict[str, bytes | str] = {}
    ignored: dict[str, str] = {}
    for raw_path, content in files.items():
        path = _normalise_path(raw_path)
        if path is None:
            problems.append(
                Problem(raw_path, None, "", "file paths must be relative to the project root")
            )
            continue
        reason = _ignored_reason(path)
        if reason is not None:
            ignored[path] = reason
            continue
        normalised[path] = content

    project = Project()
    domain_parts: list[Domain] = []
    config_prompts: list[str] = []
    legacy = scan_legacy_domain(normalised)  # a Rasa 2.x domain migrates across its files

    for path in sorted(normalised, key=_load_order):
        content = normalised[path]
        try:
            if path in ("config.yml", "config.yaml"):
                project.config = ConfigFile.parse(content, path)
                project.source_lines[path] = project.config.lines
                config_prompts.extend(project.config.prompt_paths())
                project.rasa_files.append(path)
            elif path in ("endpoints.yml", "endpoints.yaml"):
                project.endpoints = EndpointsFile.parse(content, path)
                project.source_lines[path] = project.endpoints.lines
                config_prompts.extend(project.endpoints.prompt_paths())
                project.rasa_files.append(path)
            elif path.endswith(PROMPT_SUFFIXES):
                project.prompts[path] = decode_text(content, path)
                project.rasa_files.append(path)
            elif path.endswith(YAML_SUFFIXES):
                _load_yaml_file(project, path, content, domain_parts, problems, legacy)
            elif path.endswith(".md") and (refusal := markdown_problem(path, content)):
                problems.append(refusal)  # Rasa 1.x Markdown training data
        except FormatError as exc:
            problems.extend(exc.problems)

    for prompt in config_prompts:
        norm = _normalise_path(prompt)
        if norm and norm not in project.prompts and norm in normalised:
            try:
                project.prompts[norm] = decode_text(normalised[norm], norm)
                project.rasa_files.append(norm)
            except FormatError as exc:
                problems.extend(exc.problems)

    for path in normalised:
        if path in project.prompts or path.endswith(YAML_SUFFIXES):
            continue
        kind = posixpath.splitext(path)[1] or "no extension"
        ignored[path] = f"not a Rasa project file ({kind})"
    project.ignored_files = {**ignored, **project.ignored_files}
    if project.ignored_files:
        problems.append(Problem(None, None, "", ignored_summary(project.ignored_files), "warning"))

    project.domain = merge_domains(domain_parts)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise FormatError(errors)
    project.load_warnings = [p for p in problems if p.severity == "warning"]
    return project


def _load_order(path: str) -> tuple[int, str]:
    # The domain file first, then the domain folder, then everything else by path.
    if path in ("domain.yml", "domain.yaml"):
        return (0, path)
    if path.startswith("domain/"):
        return (1, path)
    return (2, path)


def _load_yaml_file(
    project: Project,
    path: str,
    content: bytes | str,
    domain_parts: list[Domain],
    problems: list[Problem],
    legacy: LegacyDomain | None = None,
) -> None:
    doc = load_yaml(content, path)
    project.source_lines[path] = doc.lines
    collector = ProblemCollector(path, doc.lines)
    content = migrate_yaml_document(doc, content, collector, legacy)  # Rasa 2.x files
    data = doc.data
    is_domain_path = path in ("domain.yml", "domain.yaml") or path.startswith("domain/")
    if data is None:
        project.ignored_files[path] = "the file is empty"
        return
    if not isinstance(data, dict):
        collector.error(
            "", f"a Rasa YAML file must hold a mapping of sections, not a {type(data).__name__}"
        )
        problems.extend(collector.problems)
        return
    keys = set(data)
    has_domain = bool(keys & (set(DOMAIN_KEYS) - {"version", "responses"}))
    if is_domain_path or has_domain:
        if has_domain or keys & {"responses", "flows", "nlu"}:
            project.rasa_files.append(path)
        domain_parts.append(parse_domain(data, collector))
        if "flows" in data:
            project.flows.extend(parse_flows(data["flows"], collector))
        if "nlu" in data:
            project.nlu.extend(parse_nlu(data["nlu"], collector))
        problems.extend(collector.problems)
        return
    recognised = keys & {"nlu", "flows", "responses", "stories", "rules"}
    if recognised or path in KNOWN_OTHER_FILES:
        project.rasa_files.append(path)
    if not recognised:
        if path not in KNOWN_OTHER_FILES:
            collector.warning(
                "",
                "file not recognised as Rasa data (no flows, nlu, responses or domain keys); "
                "it is kept unchanged",
            )
        project.other_files[path] = decode_text(content, path)
        problems.extend(collector.problems)
        return
    if keys & {"stories", "rules"}:
        # Studio edits flows; story-based data is carried along verbatim.
        project.other_files[path] = decode_text(content, path)
        if keys & {"nlu", "flows", "responses"}:
            collector.warning(
                "",
                "this file mixes stories/rules with other sections; it is kept "
                "unchanged and its other sections are not imported",
            )
        problems.extend(collector.problems)
        return
    for key, value in data.items():
        if key == "version":
            if not isinstance(value, str):
                collector.error(
                    "version", f'version must be a quoted string such as "{DATA_VERSION}"'
                )
        elif key == "flows":
            project.flows.extend(parse_flows(value, collector))
        elif key == "nlu":
            project.nlu.extend(parse_nlu(value, collector))
        elif key == "responses":
            domain_parts.append(Domain(responses=parse_responses(value, collector)))
        else:
            collector.warning(
                str(key),
                f"unknown top-level key '{key}' (expected version, nlu, flows, "
                "responses); it is ignored",
            )
    problems.extend(collector.problems)


def dump_project(project: Project) -> dict[str, str]:
    """Write the project as files in the fixed layout described in this module's docstring.

    The same project always gives the same bytes.
    """
    out: dict[str, str] = {}
    if project.config is not None:
        out[CONFIG_PATH] = project.config.text
    if project.endpoints is not None:
        out[ENDPOINTS_PATH] = project.endpoints.text
    out[DOMAIN_PATH] = dump_yaml(domain_to_dict(project.domain))
    if project.flows:
        out[FLOWS_PATH] = dump_yaml(
            {"version": double_quoted(DATA_VERSION), **flows_to_dict(project.flows)}
        )
    if not project.nlu.is_empty():
        out[NLU_PATH] = dump_yaml(
            {"version": double_quoted(DATA_VERSION), "nlu": nlu_to_list(project.nlu)}
        )
    for path, text in sorted(project.prompts.items()):
        out.setdefault(path, text)
    for path, text in sorted(project.other_files.items()):
        out.setdefault(path, text)
    return out


def write_project_dir(project: Project, path: str | os.PathLike[str]) -> None:
    """Write `dump_project` output under a directory."""
    root = Path(path)
    for rel, text in dump_project(project).items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def project_data(project: Project) -> dict[str, Any]:
    """The project's domain, flows and nlu as plain data (handy for hashing and diffing)."""
    return {
        "domain": domain_to_dict(project.domain),
        "flows": flows_to_dict(project.flows)["flows"],
        "nlu": nlu_to_list(project.nlu),
    }
