"""Real Rasa projects in and out, checked against Rasa Pro 3.21 itself.

For every project (the starter templates and the CALM agents project shipped in the
``rasa-pro`` wheel, and every folder of ``rasa_projects/`` beside this file):

* it loads with `formats.load_project_dir` and validates with no errors;
* its export loads again into the same project (the round trip changes nothing);
* the exported flows file passes Rasa's flows JSON schema and the exported domain passes Rasa's
  domain schema (pykwalify, with Rasa's responses sub-schema);
* nothing of the source is lost: each source file is exported at its path, or its content
  (flows, domain items, NLU examples) is in the export, or it is named in the project's report of
  files not kept.

The wheel is fetched once with ``pip download --no-deps`` into ``var/cache/rasa-pro/`` (ignored
by git) and reused; only the schemas and project folders are unpacked from it. Select these tests
with ``-m rasa_acceptance``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ruamel.yaml import YAML

from engine import formats
from engine.formats.project import project_data
from engine.formats.steps import compact_steps

pytestmark = pytest.mark.rasa_acceptance

RASA_VERSION = "3.21.0"
ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / "var" / "cache" / "rasa-pro"
OWN_PROJECTS = Path(__file__).resolve().parent / "rasa_projects"

#: Folders of the wheel that hold Rasa projects, by the name the tests use.
TEMPLATES = ("basic", "default", "finance", "mantle", "telco", "tutorial")
WHEEL_PROJECTS = {
    **{f"template-{name}": f"rasa/cli/project_templates/{name}" for name in TEMPLATES},
    "calm-agents": "rasa/core/channels/inspector-nextgen/e2e/agents/calm",
}
#: What the tests read from the wheel besides the projects.
FLOWS_SCHEMA = "rasa/shared/core/flows/flows_yaml_schema.json"
DOMAIN_SCHEMA = "rasa/shared/utils/schemas/domain.yml"
RESPONSES_SCHEMA = "rasa/shared/nlu/training_data/schemas/responses.yml"
SCHEMA_EXTENSIONS = "rasa/shared/utils/pykwalify_extensions.py"

#: Per-project options (the project folders hold only Rasa files):
#: ``locations``: keyword arguments of `formats.collect_project_files` (where config, domain,
#: data and endpoints are, as ``rasa train --config/--domain/--data`` takes them);
#: ``migrated``: the project is in an older Rasa format, which loading migrates (the report says
#: what changed).
PROJECT_OPTIONS: dict[str, dict[str, Any]] = {
    "split-folders": {
        "locations": {
            "config": "config/assistant.yml",
            "domain": "domain",
            "data": ["data"],
            "endpoints": "config/endpoints.yml",
        }
    },
    "rasa2-classic": {"migrated": True},
}

_FILES_KEPT = "files outside the Rasa data (code, docs, tests, READMEs) are kept or reported"
#: (project, check) -> the reason it fails today; each is fixed by work on issue 12, and the
#: strict xfail turns into a failure once it passes, to be removed then.
XFAIL: dict[tuple[str, str], str] = {}
#: Projects of rasa_projects/ that the tests require (other folders there are tested as well).
REQUIRED_OWN = (
    "edge-default-names",
    "edge-retrieval",
    "edge-strict-flows",
    "edge-annotated-dup",
    "calm-basic",
    "voice",
    "retrieval",
    "multilingual",
)


# --------------------------------------------------------------------------------------------
# The wheel


def _wheel() -> Path:
    """The cached rasa-pro wheel, downloaded on first use."""
    CACHE.mkdir(parents=True, exist_ok=True)
    found = sorted(CACHE.glob(f"rasa_pro-{RASA_VERSION}-*.whl"))
    if found:
        return found[0]
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--quiet",
                "--disable-pip-version-check",
                f"rasa-pro=={RASA_VERSION}",
                "-d",
                tmp,
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        wheels = sorted(Path(tmp).glob("rasa_pro-*.whl"))
        if result.returncode != 0 or not wheels:
            message = f"pip download rasa-pro=={RASA_VERSION} failed: {result.stderr[-2000:]}"
            if os.environ.get("CI") == "true":
                pytest.fail(message)
            pytest.skip(message)
        target = CACHE / wheels[0].name
        os.replace(wheels[0], target)  # atomic: a parallel worker may do the same
    return target


def _unpacked() -> Path:
    """The wheel's schemas and project folders, unpacked once under the cache."""
    target = CACHE / f"unpacked-{RASA_VERSION}"
    if (target / ".complete").exists():
        return target
    wheel = _wheel()
    prefixes = (*(f"{p}/" for p in WHEEL_PROJECTS.values()), "rasa/cli/project_templates/")
    singles = (FLOWS_SCHEMA, DOMAIN_SCHEMA, RESPONSES_SCHEMA, SCHEMA_EXTENSIONS)
    staging = Path(tempfile.mkdtemp(dir=CACHE, prefix="unpacking-"))
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if name in singles or name.startswith(prefixes):
                archive.extract(name, staging)
    (staging / ".complete").touch()
    try:
        os.replace(staging, target)
    except OSError:  # another worker finished first
        shutil.rmtree(staging, ignore_errors=True)
    return target


@pytest.fixture(scope="session")
def rasa() -> Path:
    return _unpacked()


@pytest.fixture(scope="session")
def flows_schema(rasa: Path) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((rasa / FLOWS_SCHEMA).read_text(encoding="utf-8"))
    return schema


@pytest.fixture(scope="session")
def domain_schema(rasa: Path) -> dict[str, Any]:
    schema = dict(_read_yaml(rasa / DOMAIN_SCHEMA))
    schema.update(_read_yaml(rasa / RESPONSES_SCHEMA))  # `include: responses`, as Rasa does
    return schema


def _read_yaml(path: Path) -> Any:
    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------------------------
# The projects


def _own_projects() -> list[str]:
    return sorted(p.name for p in OWN_PROJECTS.iterdir() if p.is_dir())


def _project_ids() -> Iterator[str]:
    yield from WHEEL_PROJECTS
    yield from _own_projects()


def _cases(check: str) -> list[Any]:
    cases = []
    for name in _project_ids():
        reason = XFAIL.get((name, check))
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        cases.append(pytest.param(name, marks=marks, id=name))
    return cases


def _source_dir(name: str, rasa: Path) -> Path:
    if name in WHEEL_PROJECTS:
        return rasa / WHEEL_PROJECTS[name]
    return OWN_PROJECTS / name


def _load(name: str, source: Path) -> formats.Project:
    options = PROJECT_OPTIONS.get(name, {})
    if "locations" in options:
        collect = getattr(formats, "collect_project_files", None)
        if collect is None:
            pytest.fail(f"{name} needs formats.collect_project_files (rasa train's locations)")
        return formats.load_project_files(collect(source, **options["locations"]))
    return formats.load_project_dir(source)


def _loaded(name: str, rasa: Path) -> formats.Project:
    source = _source_dir(name, rasa)
    try:
        project = _load(name, source)
    except formats.FormatError as exc:
        shown = "\n".join(str(p) for p in exc.problems[:20])
        pytest.fail(f"{name} does not load:\n{shown}")
    errors = [p for p in formats.validate_project(project) if p.severity == "error"]
    assert not errors, f"{name} has errors:\n" + "\n".join(str(p) for p in errors[:20])
    return project


def _kept(project: formats.Project) -> dict[str, Any]:
    """Everything an export must give back: the data, the kept files, config and endpoints."""
    return {
        **project_data(project),
        "prompts": project.prompts,
        "other_files": project.other_files,
        "config": project.config.text if project.config else None,
        "endpoints": project.endpoints.text if project.endpoints else None,
    }


# --------------------------------------------------------------------------------------------
# The checks


def test_own_projects_are_there() -> None:
    missing = [name for name in REQUIRED_OWN if not (OWN_PROJECTS / name).is_dir()]
    assert not missing


def test_every_template_of_the_wheel_is_tested(rasa: Path) -> None:
    templates = rasa / "rasa/cli/project_templates"
    found = sorted(p.name for p in templates.iterdir() if p.is_dir() and p.name != "__pycache__")
    assert found == sorted(TEMPLATES)


@pytest.mark.parametrize("name", _cases("load"))
def test_loads_validates_and_round_trips(name: str, rasa: Path) -> None:
    project = _loaded(name, rasa)
    if PROJECT_OPTIONS.get(name, {}).get("migrated"):
        assert project.load_warnings, f"{name} is migrated, and the report says what changed"
    exported = formats.dump_project(project)
    again = formats.load_project_files(exported)
    assert _kept(again) == _kept(project)
    assert formats.dump_project(again) == exported


@pytest.mark.parametrize("name", _cases("schemas"))
def test_export_passes_rasa_schemas(
    name: str, rasa: Path, flows_schema: dict[str, Any], domain_schema: dict[str, Any]
) -> None:
    from pykwalify.core import Core

    exported = formats.dump_project(_loaded(name, rasa))
    yaml = YAML(typ="safe", pure=True)
    flow_files = [p for p, text in exported.items() if _has_key(yaml, p, text, "flows")]
    for path in flow_files:
        data = yaml.load(exported[path])
        errors = sorted(jsonschema.Draft202012Validator(flows_schema).iter_errors(data), key=str)
        assert not errors, f"{path}: " + "; ".join(
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5]
        )
    logging.getLogger("pykwalify").setLevel(logging.CRITICAL)
    core = Core(
        source_data=yaml.load(exported["domain.yml"]) or {},
        schema_data=domain_schema,
        extensions=[str(rasa / SCHEMA_EXTENSIONS)],
    )
    core.validate(raise_exception=False)
    assert not core.errors, f"domain.yml: {core.errors[:5]}"


def _has_key(yaml: YAML, path: str, text: str, key: str) -> bool:
    if not path.endswith((".yml", ".yaml")):
        return False
    try:
        data = yaml.load(text)
    except Exception:  # a kept file need not be YAML Rasa reads
        return False
    return isinstance(data, dict) and key in data


@pytest.mark.parametrize("name", _cases("kept"))
def test_nothing_of_the_source_is_lost(name: str, rasa: Path) -> None:
    source = _source_dir(name, rasa)
    project = _loaded(name, rasa)
    exported = formats.dump_project(project)
    again = formats.load_project_files(exported)
    # Files named by a location option come out at Rasa's default path.
    locations = PROJECT_OPTIONS.get(name, {}).get("locations", {})
    moved = {
        locations[option]: default
        for option, default in (("config", "config.yml"), ("endpoints", "endpoints.yml"))
        if option in locations
    }
    lost = []
    for path in _source_files(source):
        if moved.get(path) in exported or path in exported or _reported(path, project):
            continue
        if path in project.rasa_files and path.endswith((".yml", ".yaml")):
            lost.extend(f"{path}: {item}" for item in _missing_items(source / path, again))
            continue
        lost.append(f"{path}: neither exported nor reported as not kept")
    assert not lost, "\n".join(lost[:30])


def _reported(path: str, project: formats.Project) -> bool:
    """Whether the project reports `path` as not kept: the file itself, or a folder above it
    (``actions/__pycache__/``, left by a run of the custom actions)."""
    return any(
        path == ignored or (ignored.endswith("/") and path.startswith(ignored))
        for ignored in project.ignored_files
    )


def _source_files(root: Path) -> Iterator[str]:
    for folder, _dirs, files in os.walk(root, followlinks=True):
        for file in files:
            path = Path(folder, file)
            if path.is_file():
                yield path.relative_to(root).as_posix()


def _missing_items(path: Path, exported: formats.Project) -> Iterator[str]:
    """The flows, domain items and NLU examples of one source file that the export lacks."""
    data = _read_yaml(path)
    if not isinstance(data, dict):
        return
    yield from _missing_flows(data.get("flows") or {}, exported)
    domain = formats.domain_to_dict(exported.domain)
    for key in ("slots", "responses", "forms"):
        for item in data.get(key) or {}:
            if item not in (domain.get(key) or {}):
                yield f"{key}: {item}"
    for key in ("intents", "entities", "actions"):
        names = {next(iter(i)) if isinstance(i, dict) else i for i in domain.get(key) or []}
        for item in data.get(key) or []:
            item_name = next(iter(item)) if isinstance(item, dict) else item
            if item_name not in names:
                yield f"{key}: {item_name}"
    yield from _missing_examples(data.get("nlu") or [], exported.nlu)


def _missing_flows(source: dict[str, Any], exported: formats.Project) -> Iterator[str]:
    """Flows of a source file the export lacks, or exports with a key changed (steps compared
    in the compact form Studio stores, so unknown keys Rasa allows must be there)."""
    flows = {f.id: formats.flow_to_dict(f) for f in exported.flows}
    for flow_id, spec in source.items():
        if flow_id not in flows:
            yield f"flow {flow_id}"
            continue
        for key, value in spec.items():
            got = flows[flow_id].get(key)
            if key == "steps":
                value = compact_steps(value, flow_id)
            if got != value:
                yield f"flow {flow_id}: {key} is {got!r}, not {value!r}"


def _missing_examples(items: list[Any], nlu: formats.NluData) -> Iterator[str]:
    kept = {
        (block.intent, formats.example_to_text(example))
        for block in nlu.intents
        for example in block.examples
    }
    for item in items:
        if not isinstance(item, dict) or "intent" not in item:
            continue
        examples = item.get("examples") or ""
        lines = (
            [line.strip()[2:] for line in examples.splitlines() if line.strip()]
            if isinstance(examples, str)
            else [e["text"] for e in examples if isinstance(e, dict)]
        )
        for text in lines:
            annotated = formats.example_to_text(formats.parse_example(text))
            if (item["intent"], annotated) not in kept:
                yield f"example {text!r} of {item['intent']}"
