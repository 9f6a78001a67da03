"""The default conversation patterns as flow definitions, for showing and customising them.

The built-in engine's patterns (``engine/dialogue/default_flows.yml``) carry Rasa Pro's pattern
ids and steps; a user flow with a pattern's id replaces it. This module reads them as plain
flow mappings (without the id, steps in the compact form), the shape a stored flow has.
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

DEFAULT_FLOWS_FILE = Path(__file__).resolve().parents[1] / "dialogue" / "default_flows.yml"


@cache
def _definitions() -> dict[str, dict[str, Any]]:
    from engine.formats.flows import flow_to_dict
    from engine.formats.project import load_project_files

    text = DEFAULT_FLOWS_FILE.read_text(encoding="utf-8")
    project = load_project_files({"data/default_flows.yml": text})
    return {flow.id: flow_to_dict(flow) for flow in project.flows}


def default_pattern_definitions() -> dict[str, dict[str, Any]]:
    """{pattern id: its default definition}, in the file's order (a fresh copy)."""
    return copy.deepcopy(_definitions())
