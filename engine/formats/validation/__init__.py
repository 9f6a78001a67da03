"""Cross-file validation of a `Project`: references, duplicates, names, conditions, values.

`validate_project` never raises; it returns every `Problem` it finds, errors and warnings, in a
stable order (domain, flows, NLU, stories and rules, config). `check_project_files` runs loading
and validation together and is what an importer calls: it returns the project (None when loading
failed) and all problems.

One module per section: `duplicates`, `domain`, `flows`, `nlu`, `stories`; `context` holds what
they share.
"""

from __future__ import annotations

from collections.abc import Iterable

from engine.formats import limits
from engine.formats.config import check_config, check_endpoints
from engine.formats.errors import FormatError, Problem, join_path
from engine.formats.languages import LANGUAGE_SLOT
from engine.formats.project import Project, load_project_files
from engine.formats.validation.context import Context, Report
from engine.formats.validation.domain import check_domain
from engine.formats.validation.duplicates import check_duplicates
from engine.formats.validation.flows import check_flows
from engine.formats.validation.nlu import check_nlu
from engine.formats.validation.stories import check_stories

__all__ = ["check_project_files", "duplicate_problems", "has_errors", "validate_project"]


def check_project_files(files: dict[str, bytes | str]) -> tuple[Project | None, list[Problem]]:
    """Load and validate; returns ``(project or None, all problems)``. Never raises FormatError."""
    try:
        project = load_project_files(files)
    except FormatError as exc:
        return None, exc.problems
    return project, [*project.load_warnings, *validate_project(project)]


def duplicate_problems(project: Project) -> list[Problem]:
    """Items defined twice (flows, slots, responses, intents...), e.g. in two files of one
    upload: checked on its own where an upload is merged into stored content by name."""
    report = Report(project)
    check_duplicates(report, project)
    return report.problems


def has_errors(problems: Iterable[Problem]) -> bool:
    return any(p.severity == "error" for p in problems)


def validate_project(project: Project) -> list[Problem]:
    """Every problem in the project beyond what parsing checks: see the module docstring."""
    report = Report(project)
    ctx = Context(project)
    check_duplicates(report, project)
    check_domain(report, ctx)
    check_flows(report, ctx)
    check_nlu(report, ctx)
    check_stories(report, ctx)
    _check_lengths(report, project)
    if project.config is not None:
        report.problems.extend(check_config(project.config))
        _check_language_slot(report, project)
        for prompt, key_path in project.config.prompt_refs():
            if prompt not in project.prompts:
                report.add(
                    project.config.file or "config.yml",
                    key_path,
                    f"prompt file '{prompt}' named in config.yml is not in the project",
                )
    if project.endpoints is not None:
        report.problems.extend(check_endpoints(project.endpoints))
        for prompt in project.endpoints.prompt_paths():
            if prompt not in project.prompts:
                report.add(
                    project.endpoints.file or "endpoints.yml",
                    "nlg.prompt",
                    f"prompt file '{prompt}' named in endpoints.yml is not in the project",
                )
    return report.problems


def _check_language_slot(report: Report, project: Project) -> None:
    """Rasa Pro adds the ``language`` slot itself and refuses a domain that defines one."""
    for slot in project.domain.slots:
        if slot.name == LANGUAGE_SLOT:
            report.add(
                slot.source_file or "domain.yml",
                f"slots.{LANGUAGE_SLOT}",
                f"'{LANGUAGE_SLOT}' is a built-in slot (the conversation's language, over "
                "config.yml's language and additional_languages) and cannot be defined: remove "
                "it from the domain",
                line=slot.source_line,
            )


def _check_lengths(report: Report, project: Project) -> None:
    """Text longer than the forms accept (engine.formats.limits): names, descriptions, texts."""

    def check(
        file: str | None, path: str, value: object, limit: int, what: str, line: int | None = None
    ) -> None:
        problem = limits.too_long(value, limit)
        if problem:
            report.add(file, path, f"{what} {problem}", line=line)

    domain = project.domain
    for kind, key, items in (
        ("intent", "intents", domain.intents),
        ("entity", "entities", domain.entities),
        ("slot", "slots", domain.slots),
        ("action", "actions", domain.actions),
        ("response", "responses", domain.responses),
    ):
        for item in items:
            path = join_path(key, item.name) if key in ("slots", "responses") else key
            check(
                item.source_file,
                path,
                item.name,
                limits.NAME,
                f"the {kind} name '{item.name[:50]}…'",
                line=item.source_line,
            )
    for response in domain.responses:
        for index, variation in enumerate(response.variations):
            check(
                response.source_file,
                join_path("responses", response.name, index, "text"),
                variation.text,
                limits.TEXT,
                f"the text of response '{response.name[:50]}'",
                line=variation.source_line,
            )
    for flow in project.flows:
        base = join_path("flows", flow.id)
        check(flow.source_file, base, flow.id, limits.NAME, "the flow id")
        check(flow.source_file, join_path(base, "name"), flow.name, limits.TITLE, "the flow name")
        check(
            flow.source_file,
            join_path(base, "description"),
            flow.description,
            limits.DESCRIPTION,
            f"the description of flow '{flow.id[:50]}'",
        )
