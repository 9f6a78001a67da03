"""An assistant's e2e test cases: the test case files kept under ``tests/`` with its other
files (`AssistantFiles.other_files`), where import puts them and export writes them back, so
the files round-trip unchanged. Files are checked with the engine's e2e parser, together with
the conftest files of their folders, exactly as ``python -m engine test`` reads them."""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction

from apps.projects.models import Assistant, AssistantFiles
from engine import formats

TESTS_DIR = "tests/"
#: A test case file's path: under tests/, made of safe characters, ending .yml or .yaml.
PATH_PATTERN = re.compile(
    r"tests/(?:[A-Za-z0-9_][A-Za-z0-9_.\-]*/)*[A-Za-z0-9_][A-Za-z0-9_.\-]*\.ya?ml"
)
CONFTEST_NAMES = ("conftest.yml", "conftest.yaml")
_TEST_CASES_KEY = re.compile(r"(?m)^test_cases\s*:")


class SuiteError(ValueError):
    """The file cannot be saved: `problems` say why (file, line, message)."""

    def __init__(self, problems: list[formats.Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


@dataclass
class CaseInfo:
    name: str
    steps: int
    line: int | None


@dataclass
class CaseFile:
    path: str
    text: str
    cases: list[CaseInfo] = field(default_factory=list)
    problems: list[formats.Problem] = field(default_factory=list)


def test_files(assistant: Assistant) -> dict[str, str]:
    """Every kept text file under tests/ (test case files, conftest files, test stories)."""
    files = AssistantFiles.objects.filter(assistant=assistant).only("other_files").first()
    kept = files.other_files if files is not None else {}
    return {path: text for path, text in sorted(kept.items()) if path.startswith(TESTS_DIR)}


def is_case_file(path: str, text: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return (
        path.endswith((".yml", ".yaml"))
        and name not in CONFTEST_NAMES
        and _TEST_CASES_KEY.search(text) is not None
    )


def case_file_paths(files: dict[str, str]) -> list[str]:
    return [path for path, text in files.items() if is_case_file(path, text)]


def _problem(path: str, message: str, line: int | None = None) -> formats.Problem:
    return formats.Problem(path, line, "", message)


def _relative(problem: formats.Problem, root: Path) -> formats.Problem:
    file = problem.file or ""
    prefix = str(root) + "/"
    if file.startswith(prefix):
        file = file[len(prefix) :]
    return formats.Problem(file, problem.line, problem.path, problem.message, problem.severity)


def load_cases(files: dict[str, str], paths: list[str]) -> dict[str, CaseFile]:
    """Parse the case files `paths` of `files` ({path: text} under tests/, conftests
    included): their cases, or the problems that keep a file from being read."""
    found: dict[str, CaseFile] = {}
    with tempfile.TemporaryDirectory(prefix="studio-tests-") as tmp:
        root = Path(tmp)
        for path, text in files.items():
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        for path in paths:
            entry = CaseFile(path, files[path])
            try:
                cases = formats.load_test_files([root / path])
            except formats.FormatError as exc:
                entry.problems = [_relative(p, root) for p in exc.problems]
            except (OSError, ValueError) as exc:
                entry.problems = [_problem(path, str(exc))]
            else:
                entry.cases = [CaseInfo(c.name, len(c.steps), c.line) for c in cases]
            found[path] = entry
    return found


def case_files(assistant: Assistant) -> list[CaseFile]:
    """The assistant's test case files, each with its cases (or its problems)."""
    files = test_files(assistant)
    return list(load_cases(files, case_file_paths(files)).values())


def check_path(path: str) -> list[formats.Problem]:
    if not PATH_PATTERN.fullmatch(path) or ".." in path.split("/"):
        return [
            _problem(
                path or "(no file name)",
                "The file must be under tests/ and end in .yml or .yaml (letters, digits, "
                "'_', '-' and '.' only), e.g. tests/e2e/greeting.yml.",
            )
        ]
    if path.rsplit("/", 1)[-1] in CONFTEST_NAMES:
        return [_problem(path, "conftest files hold fixtures, not test cases: use another name.")]
    return []


def check_file(assistant: Assistant, path: str, text: str) -> list[formats.Problem]:
    """What keeps `text` from being saved at `path` (nothing: it may be saved)."""
    problems = check_path(path)
    if problems:
        return problems
    if not _TEST_CASES_KEY.search(text):
        return [_problem(path, "A test case file needs a top-level 'test_cases:' list.", 1)]
    files = {**test_files(assistant), path: text}
    entry = load_cases(files, [path])[path]
    if entry.problems:
        return entry.problems
    if not entry.cases:
        return [_problem(path, "The file holds no test case.", 1)]
    return []


def save_file(assistant: Assistant, path: str, text: str, *, replaces: str | None = None) -> None:
    """Save the test case file `path` (renamed from `replaces` when given); nothing is saved
    when the file has a problem (SuiteError). Saving a new file where one exists is refused."""
    text = text.replace("\r\n", "\n")
    if text and not text.endswith("\n"):
        text += "\n"
    problems = check_file(assistant, path, text)
    with transaction.atomic():
        files, _ = AssistantFiles.objects.select_for_update().get_or_create(assistant=assistant)
        if not problems and path != replaces and path in files.other_files:
            problems = [_problem(path, "There is a file of that name already: choose another.")]
        if problems:
            raise SuiteError(problems)
        if replaces and replaces != path:
            files.other_files.pop(replaces, None)
        files.put_kept_file(path, text.encode("utf-8"))


def delete_file(assistant: Assistant, path: str) -> bool:
    with transaction.atomic():
        files = AssistantFiles.objects.select_for_update().filter(assistant=assistant).first()
        if files is None or not path.startswith(TESTS_DIR):
            return False
        if not is_case_file(path, files.other_files.get(path, "")):
            return False
        return files.remove_kept_file(path)


def new_file_path(assistant: Assistant, name: str) -> str:
    """A free path for a new case file called after `name`: tests/e2e/<name>.yml (-2, -3...)."""
    taken = set(test_files(assistant))
    base = f"tests/e2e/{name}"
    candidate, n = f"{base}.yml", 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}.yml"
    return candidate
