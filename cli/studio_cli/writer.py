"""Writing what Studio exports as a Rasa project, laid out as Rasa 3.21's `download` lays it.

`config.yml` and `endpoints.yml` verbatim, `domain.yml`, `data/training_data.yml` (NLU),
one `data/flows/<flow_id>.yml` per flow, and custom prompts under `prompts/`.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from studio_cli import yamlfiles
from studio_cli.errors import CliError, ExitCode

PROMPT_FILES = {
    "command_generator": "command_generator.jinja2",
    "contextual_response_rephraser": "contextual_response_rephraser.jinja2",
    "enterprise_search": "enterprise_search.jinja2",
}


def require(export: dict[str, Any], field: str) -> str:
    text = export.get(field)
    if not text:
        raise CliError(f"Studio exported no {field} for this assistant.", ExitCode.NOT_FOUND)
    return text


def write_project(export: dict[str, Any], target: Path) -> list[Path]:
    """Builds the project in a temporary directory, then puts it in place of `target`."""
    require(export, "config")
    require(export, "endpoints")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        written = _write_into(export, staging)
        if target.exists():
            shutil.rmtree(target)
        staging.replace(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return [target / path.relative_to(staging) for path in written]


def _write_into(export: dict[str, Any], root: Path) -> list[Path]:
    written = [
        _text(root / "config.yml", export["config"]),
        _text(root / "endpoints.yml", export["endpoints"]),
    ]
    if export.get("domain"):
        written.append(_text(root / "domain.yml", export["domain"]))
    nlu = _nlu(export)
    if nlu is not None:
        written.append(_text(root / "data" / "training_data.yml", nlu))
    (root / "data").mkdir(parents=True, exist_ok=True)
    written += write_flows(flows_of(export), root / "data" / "flows")
    written += write_prompts(export.get("prompts") or {}, root)
    return written


def _text(path: Path, text: str) -> Path:
    yamlfiles.write_text(path, text if text.endswith("\n") else text + "\n")
    return path


def _nlu(export: dict[str, Any]) -> str | None:
    text = export.get("nlu")
    if not text:
        return None
    document = yamlfiles.load_text(text, "the exported NLU data")
    if not isinstance(document, dict) or not document.get("nlu"):
        return None
    return text


def flows_of(export: dict[str, Any]) -> dict[str, dict[str, Any]]:
    text = export.get("flows")
    if not text:
        return {}
    document = yamlfiles.load_text(text, "the exported flows")
    flows = (document or {}).get("flows") if isinstance(document, dict) else None
    return flows if isinstance(flows, dict) else {}


def write_flows(flows: dict[str, dict[str, Any]], directory: Path) -> list[Path]:
    written = []
    for flow_id, flow in flows.items():
        path = directory / f"{flow_id}.yml"
        yamlfiles.write(path, {"flows": {flow_id: _without_id(flow)}})
        written.append(path)
    return written


def _without_id(flow: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in flow.items() if key != "id"}


def write_prompts(prompts: dict[str, str], root: Path) -> list[Path]:
    """Each custom prompt at the path config/endpoints name for it, else `prompts/<name>`."""
    if not prompts:
        return []
    referenced = _prompt_paths(root)
    written = []
    for name, text in prompts.items():
        if name not in PROMPT_FILES or not text:
            continue
        path = root / referenced.get(name, f"prompts/{PROMPT_FILES[name]}")
        yamlfiles.write_text(path, text)
        written.append(path)
    return written


def _prompt_paths(root: Path) -> dict[str, str]:
    from studio_cli.project import prompt_references

    config = yamlfiles.read_mapping(root / "config.yml")
    endpoints = yamlfiles.read_mapping(root / "endpoints.yml")
    return {
        name: path
        for name, path in prompt_references(config, endpoints).items()
        if not Path(path).is_absolute() and ".." not in Path(path).parts
    }
