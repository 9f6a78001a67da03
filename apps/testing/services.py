"""Queueing test runs, and the test cases made of conversations."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from apps.flows.models import Response
from apps.projects.models import Assistant
from apps.testing import builder, suites
from apps.testing.models import TestRun
from apps.training import selectors
from apps.training.models import ModelVersion


class RunRefused(ValueError):
    """The run cannot be queued; the message says why."""


def resolve_version(assistant: Assistant, given: str | int | None) -> ModelVersion | None:
    """A version by number or name; the newest trained one for None, "" or "latest"."""
    return selectors.find_version(assistant, None if given is None else str(given))


@transaction.atomic
def request_run(assistant: Assistant, version: ModelVersion, user=None) -> TestRun:
    """Queue a run of the assistant's test cases, as they are now, against `version`.
    Raises RunRefused (no trained model, no test case, a file that does not parse)."""
    if version.assistant_id != assistant.pk:
        raise RunRefused("That version belongs to another assistant.")
    if not version.is_trained:
        raise RunRefused(f"{version.label} has no trained model to test.")
    files = suites.test_files(assistant)
    paths = suites.case_file_paths(files)
    if not paths:
        raise RunRefused(
            f"{assistant.name} has no test cases: add a file under tests/ on the Tests page."
        )
    loaded = suites.load_cases(files, paths)
    problems = [str(p) for entry in loaded.values() for p in entry.problems]
    if problems:
        raise RunRefused("The test files have problems: " + "; ".join(problems[:5]))
    count = sum(len(entry.cases) for entry in loaded.values())
    return TestRun.objects.create(
        assistant=assistant, version=version, requested_by=user, files=files, case_count=count
    )


def latest_runs(versions) -> dict[int, TestRun]:
    """The newest test run of each version: {version id: run}."""
    latest: dict[int, TestRun] = {}
    for run in TestRun.objects.filter(version__in=versions).order_by("-created_at", "-id"):
        latest.setdefault(run.version_id, run)
    return latest


def last_results(assistant: Assistant) -> dict[tuple[str, str], dict[int, str]]:
    """The last finished result of each case on each version: {(file, case): {version number:
    status}} (files named as under tests/)."""
    found: dict[tuple[str, str], dict[int, str]] = {}
    runs = (
        TestRun.objects.filter(
            assistant=assistant, status__in=[TestRun.Status.PASSED, TestRun.Status.FAILED]
        )
        .select_related("version")
        .order_by("-created_at", "-id")
    )
    for run in runs[:50]:
        for case in run.results:
            key = (case_path(case.get("file")), str(case.get("name")))
            found.setdefault(key, {}).setdefault(run.version.number, str(case.get("status")))
    return found


def case_path(file: Any) -> str:
    """A result's file as the assistant keeps it (tests/...), whatever folder it ran in."""
    text = str(file or "")
    marker = "/" + suites.TESTS_DIR
    if marker in text:
        return suites.TESTS_DIR + text.rsplit(marker, 1)[1]
    return text


def response_texts(assistant: Assistant) -> dict[str, list[str]]:
    """{response name: the texts of its variations} of the assistant as it is now."""
    texts: dict[str, list[str]] = {}
    for name, variations in Response.objects.filter(assistant=assistant).values_list(
        "name", "variations"
    ):
        texts[name] = [str(v.get("text", "")) for v in variations or [] if isinstance(v, dict)]
    return texts


def case_from_events(assistant: Assistant, events: list[dict[str, Any]], name: str) -> str:
    """The e2e test file of one conversation (see apps.testing.builder). Raises
    builder.NothingToTest when there is no user message."""
    return builder.test_case_yaml(events, name, responses=response_texts(assistant))
