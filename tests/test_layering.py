"""Imports point one way: the layering of DESIGN.md, checked on every module's import statements.

Bottom to top:

    demo                       pure data and generators: imports nothing of ours
    engine                     imports nothing of ours but engine, and never Django
    accounts                   users, roles, tokens
    projects                   assistants, their files and secrets, the access helpers
    flows, nlu models          the content rows (on projects.models.AssistantContent)
    projects content           apps.projects.content (rows <-> engine.formats: export, import,
                               check_change, usages) and the import jobs that run it
    flows, nlu                 the content apps' services and selectors
    training, ingestion        the model service and the conversations
    analytics, annotation      the rollups of the conversations; the annotation batches (they read
                               the conversations, annotation writes the NLU data)
    views, API                 views, forms, URLs, template tags, the REST API (of every app)
    commands, workers          management commands and the worker loops

The content kernel sits between the content apps' models and their services: it reads and
writes every kind of row (so it is above all the content models), and every change the content
apps make goes through its `check_change` (so it is below their services).

A module may import a lower layer, and its own app at the same layer; never a higher layer, nor
a sibling content app (flows and nlu never import each other below the views; the views of all
apps are one layer, as are the commands and workers). Apps reach the engine only through the public
`engine.formats` package (`from engine import formats`); the workers (which run the engine) may
use any of it. `studio.env` (settings helpers) may be imported by anything but the engine. The
`demo` data may be imported by anything but the engine.

KNOWN listed the violations that were there when this test was written, as debts to pay; they
have all been paid and it is empty. The test fails on any violation not in KNOWN, and on a listed
one that no longer exists (so the list can only shrink). Tests and migrations are not checked.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("demo", "engine", "apps", "workers", "studio")

APP_LAYER = {
    "accounts": 1,
    "projects": 2,
    "flows": 5,
    "nlu": 5,
    "training": 6,
    "ingestion": 6,
    "analytics": 7,
    "annotation": 7,
    "testing": 7,
    "comparison": 7,
}
CONTENT_MODEL_LAYER = 3  # the models modules of the content apps
KERNEL_LAYER = 4  # the content kernel of projects
VIEW_LAYER = 8
COMMAND_LAYER = 9
STUDIO_LAYER = 10

#: The content apps: siblings, which never import each other below the views.
CONTENT_APPS = {"flows", "nlu"}

#: Modules of projects at the content-kernel layer (with everything under them).
KERNEL_MODULES = ("apps.projects.content", "apps.projects.imports")

#: Modules of an app that belong to the "views, API" layer.
VIEW_MODULES = {
    "views",
    "api",
    "api_auth",
    "graphql",  # the GraphQL API (apps.projects.graphql, an app's graphql.py)
    "urls",
    "forms",
    "templatetags",
    "context_processors",
    "navigation",
    "errors",  # the error pages
    "shortcuts",  # view helpers (apps.projects.shortcuts)
    "knowledge",  # the Knowledge page (apps.projects.knowledge)
    "upload_handlers",  # reading a request's uploaded files
    "apps",  # AppConfig.ready() registers the app's navigation
}

#: (importing module, imported module): violations that exist today; remove them as they go.
KNOWN: set[tuple[str, str]] = set()


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            rel = path.relative_to(ROOT).parts
            if "tests" in rel or "migrations" in rel or rel[-1] == "conftest.py":
                continue
            found[_module_name(path)] = path
    return found


def _imports(path: Path, module: str, modules: dict[str, Path]) -> set[str]:
    """Our modules that `module` imports: `from a import b` counts as a.b when that is a
    module, else as a."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                names.add(candidate if candidate in modules else base)
    return names


def _ours(name: str, modules: dict[str, Path]) -> str | None:
    """The module of ours that `name` refers to (the longest known prefix), or None."""
    parts = name.split(".")
    if parts[0] not in PACKAGES:
        return None
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def _layer(module: str) -> tuple[int, str]:
    """(layer, app) of one of our modules."""
    parts = module.split(".")
    if parts[0] == "engine":
        return 0, "engine"
    if parts[0] == "workers":
        return COMMAND_LAYER, "workers"
    if parts[0] == "studio":
        return (0, "studio.env") if module == "studio.env" else (STUDIO_LAYER, "studio")
    app = parts[1] if len(parts) > 1 else ""
    if "management" in parts:
        return COMMAND_LAYER, app
    if len(parts) > 2 and parts[2] in VIEW_MODULES:
        return VIEW_LAYER, app
    if any(module == m or module.startswith(m + ".") for m in KERNEL_MODULES):
        return KERNEL_LAYER, app
    if app in CONTENT_APPS and len(parts) > 2 and parts[2] == "models":
        return CONTENT_MODEL_LAYER, app
    return APP_LAYER.get(app, 0), app


def _violation(importer: str, imported: str) -> str | None:
    if importer.startswith("demo"):
        return None if imported.startswith("demo") else "demo imports nothing of ours"
    if importer.startswith("engine"):
        if not imported.startswith("engine"):
            return "the engine imports only itself"
        return None
    if imported == "studio.env" or imported.startswith("demo"):
        return None
    if imported.startswith("engine"):
        if importer.startswith("workers"):
            return None
        if imported != "engine.formats":
            return "apps use the engine through `from engine import formats` only"
        return None
    low, low_app = _layer(imported)
    high, high_app = _layer(importer)
    if (
        low_app != high_app
        and {low_app, high_app} <= CONTENT_APPS
        and high not in (VIEW_LAYER, COMMAND_LAYER)
    ):
        return f"the content apps {high_app} and {low_app} must not import each other"
    if low < high:
        return None
    if low == high and (low_app == high_app or high in (VIEW_LAYER, COMMAND_LAYER)):
        return None  # the same app; or the views (commands) of several apps, one layer
    return f"layer {high} ({high_app}) must not import layer {low} ({low_app})"


def _foreign_in_engine(path: Path, module: str, modules: dict[str, Path]) -> list[str]:
    if not module.startswith("engine"):
        return []
    return [
        name
        for name in _imports(path, module, modules)
        if name.split(".")[0] in ("django", "rest_framework", "apps", "workers", "studio")
    ]


def find_violations() -> dict[tuple[str, str], str]:
    modules = _modules()
    found: dict[tuple[str, str], str] = {}
    for module, path in modules.items():
        for name in _foreign_in_engine(path, module, modules):
            found[(module, name)] = "the engine imports neither Django nor the apps"
        for name in _imports(path, module, modules):
            imported = _ours(name, modules)
            if imported is None or imported == module:
                continue
            reason = _violation(module, imported)
            if reason:
                found[(module, imported)] = reason
    return found


def test_imports_follow_the_layers():
    found = find_violations()
    new = {pair: reason for pair, reason in found.items() if pair not in KNOWN}
    assert not new, "imports against the layering:\n" + "\n".join(
        f"  {a} -> {b}: {reason}" for (a, b), reason in sorted(new.items())
    )


def test_the_known_exceptions_are_still_there():
    """A fixed violation leaves the list, so the debt is visible and only shrinks."""
    gone = KNOWN - set(find_violations())
    assert not gone, "remove these fixed violations from KNOWN:\n" + "\n".join(
        f"  {a} -> {b}" for a, b in sorted(gone)
    )


def test_the_checker_catches_what_it_is_for():
    assert _violation("engine.train", "apps.projects.models")
    assert _violation("engine.train", "demo")
    assert _violation("demo.conversations", "engine.formats")
    assert _violation("demo.reference_assistant", "apps.projects.models")
    assert not _violation("apps.projects.files", "demo")
    assert not _violation("demo.conversations", "demo")
    assert _violation("apps.projects.content", "apps.flows.services")
    assert _violation("apps.nlu.services", "apps.flows.models")  # sibling apps
    assert _violation("apps.nlu.models", "apps.flows.models")
    assert _violation("apps.projects.content.export", "apps.flows.services")
    assert _violation("apps.flows.models", "apps.projects.content.checks")
    assert _violation("apps.projects.models", "apps.flows.models")
    assert not _violation("apps.projects.content.export", "apps.flows.models")
    assert not _violation("apps.nlu.services", "apps.projects.content.checks")
    assert not _violation("apps.flows.models", "apps.projects.models")
    assert _violation("apps.accounts.models", "apps.projects.models")
    assert _violation("apps.projects.services", "engine.dialogue.processor")
    assert _violation("apps.projects.content", "engine.formats.domain")
    assert _violation("apps.training.services", "workers.runners")
    assert not _violation("apps.flows.views", "apps.nlu.models")
    assert not _violation("apps.training.services", "apps.projects.models")
    assert not _violation("workers.running", "engine.server.serve")
    assert not _violation("apps.projects.content", "engine.formats")
    assert not _violation("apps.flows.views", "apps.flows.services")
