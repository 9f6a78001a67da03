"""A whole assistant project: loading from files in any layout Rasa accepts, and dumping.

Loading classifies every file by its path and, for YAML, by its top-level keys:

* ``config.yml`` / ``endpoints.yml`` at the root are kept as text (`ConfigFile`, `EndpointsFile`);
* a YAML file with domain keys (``intents``, ``slots``, ``responses``...) contributes to the
  domain, wherever it is (``domain.yml``, ``domain/*.yml``, or a data file's ``responses``);
* ``flows:`` and ``nlu:`` sections are read from any YAML file, so one data file may hold nlu,
  flows and responses together;
* prompt templates (``*.jinja2``, ``*.jinja``, ``*.j2``, and any file config.yml or
  endpoints.yml names as a prompt) are kept as text in `Project.prompts`;
* every other file is kept unchanged by path: text in `Project.other_files` (stories, rules,
  credentials.yml, knowledge-base documents under ``docs/``, e2e tests under ``tests/``, custom
  actions under ``actions/``, custom components, ``sub_agents/<name>/``...), anything that is not
  UTF-8 text (a PDF) in `Project.binary_files`. Files under ``tests/``, ``e2e_tests/``,
  ``docs/``, ``actions/`` and ``sub_agents/`` are never read as training data;
* hidden files and folders, trained ``models/``, ``results/``, ``__pycache__``, virtual
  environments, archives and files over `MAX_FILE_BYTES` are not kept: `Project.ignored_files`
  names each with the reason, and so does a warning.

Dumping (`dump_project`) always writes this fixed layout, deterministically::

    config.yml, endpoints.yml   the stored text, unchanged
    domain.yml                  the whole domain in ONE file (responses from data files included)
    data/flows.yml              every flow, steps in the compact form
    data/nlu.yml                intents with examples, then synonyms, regexes, lookup tables
    <prompt paths>              prompt templates at the paths config.yml / endpoints.yml use
    <other paths>               other kept files, unchanged (`dump_project_bytes` adds the
                                binary ones)
"""

from __future__ import annotations

import os
import posixpath
import re
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
    MAX_FILE_BYTES,
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

#: Folders at the project root whose files are not kept, with the reason.
SKIPPED_ROOT_DIRS = {
    "models": "trained models are not kept (Studio trains its own)",
    "results": "test and evaluation results are not kept",
    "venv": "a Python virtual environment is not kept",
    "env": "a Python virtual environment is not kept",
}
#: Folders at any depth whose files are not kept, with the reason.
SKIPPED_DIRS = {
    "__pycache__": "compiled Python is not kept",
    "node_modules": "installed packages are not kept",
}
#: File endings that are not kept, with the reason.
SKIPPED_SUFFIXES = {
    ".pyc": "compiled Python is not kept",
    ".tar.gz": "archives are not kept (trained models, packed projects)",
    ".tgz": "archives are not kept (trained models, packed projects)",
    ".zip": "archives are not kept (trained models, packed projects)",
}
#: Root folders whose files are kept as they are and never read as training data: e2e tests,
#: knowledge-base documents (Enterprise Search's default source), custom actions, sub-agents.
TEST_DIRS = ("tests", "e2e_tests")
KNOWLEDGE_DIR = "docs"
ACTIONS_DIR = "actions"
SUB_AGENTS_DIR = "sub_agents"
KEPT_DIRS = (*TEST_DIRS, KNOWLEDGE_DIR, ACTIONS_DIR, SUB_AGENTS_DIR)
#: Kept files that are code Studio does not run.
CODE_SUFFIXES = (".py",)

#: Root files Rasa reads that Studio keeps verbatim without comment.
KNOWN_OTHER_FILES = ("credentials.yml", "credentials.yaml")

CONFIG_PATH = "config.yml"
ENDPOINTS_PATH = "endpoints.yml"
DOMAIN_PATH = "domain.yml"
FLOWS_PATH = "data/flows.yml"
NLU_PATH = "data/nlu.yml"

_TEST_CASES_RE = re.compile(r"^test_cases\s*:", re.MULTILINE)
_CLASS_PATH_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")


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
    #: Text files kept verbatim by project-relative path: stories, rules, credentials.yml,
    #: documents under docs/, e2e tests, custom actions and components, sub-agents...
    other_files: dict[str, str] = field(default_factory=dict)
    #: Kept files that are not UTF-8 text (a PDF document...), byte for byte.
    binary_files: dict[str, bytes] = field(default_factory=dict)
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

    @property
    def kept_files(self) -> dict[str, str | bytes]:
        """Every file kept verbatim, text and binary, by path."""
        return {**self.other_files, **self.binary_files}

    @property
    def knowledge_dirs(self) -> list[str]:
        """The folders of knowledge-base documents: ``docs`` and any folder config.yml names
        as a vector store's ``source``."""
        return knowledge_dirs(self.config)

    @property
    def knowledge_files(self) -> dict[str, str | bytes]:
        """The knowledge-base documents (text or bytes) by path."""
        dirs = self.knowledge_dirs
        return {p: c for p, c in sorted(self.kept_files.items()) if _under(p, dirs)}

    @property
    def test_files(self) -> dict[str, str]:
        """The e2e test files (their YAML has ``test_cases``) by path."""
        return {p: t for p, t in sorted(self.other_files.items()) if is_test_file(p, t)}

    @property
    def code_files(self) -> dict[str, str]:
        """Kept Python code (custom actions, components, sub-agents) by path."""
        return {p: t for p, t in sorted(self.other_files.items()) if p.endswith(CODE_SUFFIXES)}


class FolderFiles(dict[str, bytes]):
    """Files read from a project folder by relative path, with `skipped`: the files and
    folders that were not read, each with the reason (`load_project_files` reports them)."""

    def __init__(self) -> None:
        super().__init__()
        self.skipped: dict[str, str] = {}


def _under(path: str, dirs: list[str]) -> bool:
    return any(path.startswith(f"{d}/") for d in dirs)


def is_test_file(path: str, text: str | bytes) -> bool:
    """Whether a kept file is an e2e test file: YAML with a top-level ``test_cases`` key."""
    return (
        path.endswith(YAML_SUFFIXES)
        and isinstance(text, str)
        and _TEST_CASES_RE.search(text) is not None
    )


def knowledge_dirs(config: ConfigFile | None) -> list[str]:
    """``docs`` and the folders config.yml's policies name as a vector store ``source``."""
    dirs = [KNOWLEDGE_DIR]
    for policy in config.policies if config is not None else []:
        store = policy.get("vector_store") if isinstance(policy, dict) else None
        source = store.get("source") if isinstance(store, dict) else None
        norm = _normalise_path(source) if isinstance(source, str) else None
        if norm and norm not in dirs and "${" not in norm:
            dirs.append(norm)
    return dirs


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


def _ignored_reason(path: str) -> str | None:
    parts = path.split("/")
    if parts[0] == "__MACOSX":
        return "macOS archive metadata"
    if any(part.startswith(".") for part in parts):
        return "a hidden file or folder"
    if len(parts) > 1 and parts[0] in SKIPPED_ROOT_DIRS:
        return SKIPPED_ROOT_DIRS[parts[0]]
    for part in parts[:-1]:
        if part in SKIPPED_DIRS:
            return SKIPPED_DIRS[part]
    lower = parts[-1].lower()
    return next((why for end, why in SKIPPED_SUFFIXES.items() if lower.endswith(end)), None)


def _dir_reason(rel: str) -> str | None:
    """Why a folder (a relative path) is not read at all, or None."""
    return _ignored_reason(f"{rel}/file")


def _is_read(path: str) -> bool:
    """Whether Studio reads the file as Rasa data (as opposed to keeping it as it is)."""
    if path.split("/", 1)[0] in KEPT_DIRS:
        return False
    return path.endswith((*YAML_SUFFIXES, *PROMPT_SUFFIXES))


def _size(content: bytes | str) -> int:
    return len(content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content)


def file_count(count: int) -> str:
    """``1 file``, ``3 files``: how the reports count files."""
    return f"{count} file{'s' if count != 1 else ''}"


def ignored_summary(ignored: dict[str, str]) -> str:
    """One sentence naming every ignored file with the reason."""
    listed = "; ".join(f"{path} ({reason})" for path, reason in sorted(ignored.items()))
    return f"{file_count(len(ignored))} not imported: {listed}"


def unread_summary(paths: list[str]) -> str:
    """One sentence naming the kept files Studio does not read."""
    listed = ", ".join(sorted(paths))
    return f"{file_count(len(paths))} kept unchanged that Studio does not read: {listed}"


def _project_too_large(total: int) -> FormatError:
    return FormatError(
        [
            Problem(
                None,
                None,
                "",
                f"the project is {total} bytes, larger than the limit of {MAX_PROJECT_BYTES} bytes",
            )
        ]
    )


def read_project_folder(
    path: str | os.PathLike[str], within: str | os.PathLike[str] | None = None
) -> FolderFiles:
    """Every file of a project folder that Studio keeps, by relative path.

    Links to files and folders inside the project (`within`, by default the folder itself) are
    followed (the file is read under the link's path, as Rasa reads it); a link that points
    outside it is refused with a `FormatError` naming the link and its target. Hidden files and
    folders, ``models/``, ``__pycache__``... are not read: `FolderFiles.skipped` names them with
    the reason.
    """
    root = Path(path)
    real_root = Path(within if within is not None else root).resolve()
    files = FolderFiles()
    total = 0
    # (folder on disk, its relative path, the real folders above it: a link back up is a loop)
    pending: list[tuple[Path, str, frozenset[Path]]] = [(root, "", frozenset({root.resolve()}))]
    while pending:
        folder, prefix, above = pending.pop()
        for entry in sorted(folder.iterdir(), key=lambda p: p.name, reverse=True):
            rel = f"{prefix}{entry.name}"
            target = _followed(entry, rel, real_root, files.skipped)
            if target is None:
                continue
            if target.is_dir():
                reason = _dir_reason(rel)
                if reason is None and target in above:
                    reason = "a link to a folder that contains it (a loop)"
                if reason is not None:
                    files.skipped[f"{rel}/"] = reason
                else:
                    pending.append((entry, f"{rel}/", above | {target}))
                continue
            total += _read_one(entry, rel, files)
            if total > MAX_PROJECT_BYTES:
                raise _project_too_large(total)
    return files


def _followed(entry: Path, rel: str, real_root: Path, skipped: dict[str, str]) -> Path | None:
    """The real path of a folder entry (following a link), or None when it is not read."""
    if not entry.is_symlink():
        return entry.resolve() if entry.is_dir() else entry
    link = os.readlink(entry)
    target = entry.resolve()
    if target != real_root and real_root not in target.parents:
        raise FormatError(
            [
                Problem(
                    rel,
                    None,
                    "",
                    f"the link {rel} points to {link}, outside the project folder; copy what "
                    "it points to into the project, or remove the link",
                )
            ]
        )
    if not target.exists():
        skipped[rel] = f"a link to {link}, which does not exist"
        return None
    return target


def _read_one(entry: Path, rel: str, files: FolderFiles) -> int:
    """Read one file into `files` (or note why not); the bytes read."""
    reason = _ignored_reason(rel)
    if reason is None and not entry.is_file():
        reason = "not a regular file"
    size = entry.stat().st_size if reason is None else 0
    if reason is None and size > MAX_FILE_BYTES and not _is_read(rel):
        reason = f"{size} bytes, larger than the limit of {MAX_FILE_BYTES} bytes for a file"
    if reason is not None:
        files.skipped[rel] = reason
        return 0
    files[rel] = entry.read_bytes()
    return size


def load_project_dir(path: str | os.PathLike[str], *, fast_yaml: bool = False) -> Project:
    """Load a project from a directory on disk (see `read_project_folder` and
    `load_project_files`)."""
    return load_project_files(read_project_folder(path), fast_yaml=fast_yaml)


def _check_totals(files: Mapping[str, bytes | str]) -> None:
    total = sum(_size(v) for v in files.values())
    if total > MAX_PROJECT_BYTES:
        raise _project_too_large(total)
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


def _normalise_all(
    files: Mapping[str, bytes | str], problems: list[Problem]
) -> tuple[dict[str, bytes | str], dict[str, str]]:
    """The files by normalised path, and the ones not kept with the reason."""
    normalised: dict[str, bytes | str] = {}
    ignored: dict[str, str] = dict(getattr(files, "skipped", {}))
    for raw_path, content in files.items():
        path = _normalise_path(raw_path)
        if path is None:
            problems.append(
                Problem(raw_path, None, "", "file paths must be relative to the project root")
            )
            continue
        reason = _ignored_reason(path)
        size = _size(content)
        if reason is None and size > MAX_FILE_BYTES and not _is_read(path):
            reason = f"{size} bytes, larger than the limit of {MAX_FILE_BYTES} bytes for a file"
        if reason is not None:
            ignored[path] = reason
            continue
        normalised[path] = content
    return normalised, ignored


def load_project_files(files: Mapping[str, bytes | str], *, fast_yaml: bool = False) -> Project:
    """Load a project from ``{relative path: content}``.

    Raises `FormatError` listing every error found in any file; warnings are kept on
    `Project.load_warnings`. Paths are relative to the project root (``domain.yml``,
    ``domain/slots.yml``, ``data/flows/transfer.yml``...). A `FolderFiles` mapping's
    `skipped` files are reported with the ones this function does not keep.

    `fast_yaml`: compose every YAML file with libyaml where it can, not only the training data
    (`load_yaml`'s ``fast``: the same values, lines and errors), as a training does: its load
    is on the path from an edit to the first reply (issue 20).
    """
    problems: list[Problem] = []
    _check_totals(files)
    normalised, ignored = _normalise_all(files, problems)

    project = Project()
    domain_parts: list[Domain] = []
    config_prompts: list[str] = []
    legacy = scan_legacy_domain(normalised)  # a Rasa 2.x domain migrates across its files

    for path in sorted(normalised, key=_load_order):
        content = normalised[path]
        try:
            if path.endswith(".md") and (refusal := markdown_problem(path, content)):
                problems.append(refusal)  # Rasa 1.x Markdown training data
            elif not _is_read(path) or _under(path, project.knowledge_dirs):
                _keep_file(project, path, content)
            elif path in ("config.yml", "config.yaml"):
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
            else:
                _load_yaml_file(
                    project, path, content, domain_parts, problems, legacy, fast=fast_yaml
                )
        except FormatError as exc:
            problems.extend(exc.problems)

    _take_named_prompts(project, config_prompts, normalised, problems)
    project.ignored_files = {**ignored, **project.ignored_files}
    problems.extend(_kept_files_report(project))

    project.domain = merge_domains(domain_parts)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise FormatError(errors)
    project.load_warnings = [p for p in problems if p.severity == "warning"]
    return project


def _keep_file(project: Project, path: str, content: bytes | str) -> None:
    """Keep a file verbatim: as text when it is UTF-8 text, else as bytes (text with NUL
    characters too, which databases do not store in text)."""
    if isinstance(content, str):
        data = content.encode("utf-8", "surrogatepass")
        text: str | None = content if "\x00" not in content else None
        if text is not None:
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                text = None
    else:
        data = content
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            text = None
    if text is None or "\x00" in text:
        project.binary_files[path] = data
    else:
        project.other_files[path] = text


def _take_named_prompts(
    project: Project,
    config_prompts: list[str],
    normalised: dict[str, bytes | str],
    problems: list[Problem],
) -> None:
    """Files config.yml or endpoints.yml name as prompts are prompts, whatever their name."""
    for prompt in config_prompts:
        norm = _normalise_path(prompt)
        if norm and norm not in project.prompts and norm in normalised:
            try:
                project.prompts[norm] = decode_text(normalised[norm], norm)
                project.rasa_files.append(norm)
            except FormatError as exc:
                problems.extend(exc.problems)
                continue
            project.other_files.pop(norm, None)
            project.binary_files.pop(norm, None)


def _kept_files_report(project: Project) -> list[Problem]:
    """The import report's lines about files: what was not kept (each by name with the
    reason), the kept files Studio does not read (one line), and the code it does not run."""
    problems = []
    if project.ignored_files:
        problems.append(Problem(None, None, "", ignored_summary(project.ignored_files), "warning"))
    unread = [p for p in project.kept_files if not _is_known_kept(project, p)]
    if unread:
        problems.append(Problem(None, None, "", unread_summary(unread), "warning"))
    code = _code_warning(project)
    if code is not None:
        problems.append(code)
    return problems


def _is_known_kept(project: Project, path: str) -> bool:
    """Whether a kept file is one Studio knows what it is for."""
    top = path.split("/", 1)[0]
    text = project.other_files.get(path, "")
    return (
        path in project.rasa_files
        or top in KEPT_DIRS
        or _under(path, project.knowledge_dirs)
        or path.endswith(CODE_SUFFIXES)
        or is_test_file(path, text)
    )


def custom_class_paths(project: Project) -> list[str]:
    """The class paths (``addons.my_component.MyComponent``) config.yml and endpoints.yml
    name whose module is a file of the project."""
    found: list[str] = []
    for source in (project.config, project.endpoints):
        if source is None:
            continue
        for value in _strings(source.data):
            if _CLASS_PATH_RE.match(value) and _module_file(project, value) and value not in found:
                found.append(value)
    return found


def _module_file(project: Project, class_path: str) -> str | None:
    """The project file of the module of ``package.module.Class`` (or of ``package.module``)."""
    parts = class_path.split(".")
    for module in (parts[:-1], parts):
        if not module:
            continue
        base = "/".join(module)
        for candidate in (f"{base}.py", f"{base}/__init__.py"):
            if candidate in project.other_files:
                return candidate
    return None


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _code_warning(project: Project) -> Problem | None:
    code = list(project.code_files)
    named = custom_class_paths(project)
    if not code:
        return None
    shown = ", ".join(code[:10]) + (f" and {len(code) - 10} more" if len(code) > 10 else "")
    message = (
        f"the project's code is kept and exported unchanged ({shown}), but Studio does not run "
        "custom components or custom action code itself: custom actions run on the action "
        "server that endpoints.yml's action_endpoint names"
    )
    if named:
        message += (
            f"; config.yml and endpoints.yml name custom code ({', '.join(named)}) that the "
            "built-in engine does not load"
        )
    return Problem(None, None, "", message, "warning")


def _load_order(path: str) -> tuple[int, str]:
    # config.yml and endpoints.yml first (they name prompts and the knowledge folders), the
    # domain file next, then the domain folder, then everything else by path.
    if path in ("config.yml", "config.yaml", "endpoints.yml", "endpoints.yaml"):
        return (0, path)
    if path in ("domain.yml", "domain.yaml"):
        return (1, path)
    if path.startswith("domain/"):
        return (2, path)
    return (3, path)


def _load_yaml_file(
    project: Project,
    path: str,
    content: bytes | str,
    domain_parts: list[Domain],
    problems: list[Problem],
    legacy: LegacyDomain | None = None,
    *,
    fast: bool = False,
) -> None:
    # Training data (hundreds of stories, examples) is read with libyaml: the same result. So
    # is a JSON document, which only a machine writes (a trained model's domain and flows: its
    # load is on the path from an edit to the first reply, issue 20).
    head = content[:64].lstrip()
    machine_written = head[:1] in (b"{", "{")
    doc = load_yaml(content, path, fast=fast or path.startswith("data/") or machine_written)
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
        # e2e tests (test_cases) and files Studio does not read are kept unchanged; the report
        # names the unread ones in one line.
        _keep_file(project, path, content)
        problems.extend(collector.problems)
        return
    if keys & {"stories", "rules"}:
        # Studio edits flows; story-based data is carried along verbatim.
        _keep_file(project, path, content)
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
    """Write the project's text files in the fixed layout described in this module's
    docstring (`dump_project_bytes` adds the binary files).

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


def dump_project_bytes(project: Project) -> dict[str, bytes]:
    """Every file of the project, text and binary, as bytes (what an export archive holds)."""
    out = {path: text.encode("utf-8") for path, text in dump_project(project).items()}
    for path, data in sorted(project.binary_files.items()):
        out.setdefault(path, data)
    return out


def write_project_dir(project: Project, path: str | os.PathLike[str]) -> None:
    """Write `dump_project_bytes` output under a directory."""
    root = Path(path)
    for rel, data in dump_project_bytes(project).items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def project_data(project: Project) -> dict[str, Any]:
    """The project's domain, flows and nlu as plain data (handy for hashing and diffing)."""
    return {
        "domain": domain_to_dict(project.domain),
        "flows": flows_to_dict(project.flows)["flows"],
        "nlu": nlu_to_list(project.nlu),
    }
