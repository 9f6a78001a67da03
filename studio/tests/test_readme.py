"""The README tells the truth about settings and files: every environment variable the code reads
is documented and every documented one is read, and every path in "Where things are" exists."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def _read_variables() -> set[str]:
    """Names the code reads through studio.env (`env_str("NAME")`, ...) or `required("NAME")`."""
    sources = [
        path
        for folder in ("studio", "apps", "workers", "engine")
        for path in (ROOT / folder).rglob("*.py")
        if "tests" not in path.parts and path.name != "env.py"
    ]
    names = set()
    for source in sources:
        names |= set(
            re.findall(r"(?:\benv_\w+|\brequired)\(\s*\"([A-Z0-9_]+)\"", source.read_text())
        )
    assert names, "no variables found: has the settings module changed shape?"
    return names


def _documented_variables() -> set[str]:
    return set(re.findall(r"^\| `([A-Z0-9_]+)`", README, re.MULTILINE))


def test_the_readme_documents_every_environment_variable():
    missing = sorted(_read_variables() - _documented_variables())
    assert not missing, f"README's configuration table lacks: {', '.join(missing)}"


def test_every_variable_the_readme_documents_is_read():
    unread = sorted(_documented_variables() - _read_variables())
    assert not unread, f"README documents variables nothing reads: {', '.join(unread)}"


def _where_table_paths() -> list[str]:
    section = README.split("## Where things are", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "`" in line]
    return [path for row in rows for path in re.findall(r"`([\w./-]+/[\w./-]*)`", row)]


def test_every_path_in_the_where_things_are_table_exists():
    paths = _where_table_paths()
    assert len(paths) >= 8, "the table has lost its rows"
    missing = [path for path in paths if not (ROOT / path).exists()]
    assert not missing, f"paths in 'Where things are' that do not exist: {missing}"
