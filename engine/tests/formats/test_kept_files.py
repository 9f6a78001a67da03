"""Nothing is dropped silently: every file of a project is kept byte for byte (text in
`other_files`, anything else in `binary_files`), links inside the project are followed, links
leaving it are refused, and every file that is not kept is named in the report with why."""

import os
import shutil
from pathlib import Path

import pytest

from engine.formats import (
    MAX_FILE_BYTES,
    FormatError,
    dump_project_bytes,
    load_project_dir,
    load_project_files,
    validate_project,
    write_project_dir,
)

PROJECT = Path(__file__).parent.parent / "rasa_projects" / "enterprise-search"

#: A small PDF: not UTF-8 text, so kept as bytes.
PDF = (
    b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)
#: Files Studio writes in its own layout (the same meaning, not the same bytes).
REWRITTEN = {"domain.yml", "data/flows.yml", "data/nlu.yml"}


@pytest.fixture
def project_dir(tmp_path):
    root = tmp_path / "enterprise-search"
    # Without the compiled Python that a run of its custom actions may have left.
    shutil.copytree(PROJECT, root, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "docs" / "opening-times.pdf").write_bytes(PDF)
    (root / "docs" / "with-bom.txt").write_bytes("\ufeffReading rooms\n".encode())
    return root


def disk_files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def summaries(project, start):
    return [w.message for w in project.load_warnings if w.message.startswith(start)]


def test_the_enterprise_search_project_keeps_every_file_byte_for_byte(project_dir, tmp_path):
    project = load_project_dir(project_dir)
    assert [p for p in validate_project(project) if p.severity == "error"] == []
    assert project.ignored_files == {}

    assert sorted(project.knowledge_files) == [
        "docs/fines.txt",
        "docs/loans.txt",
        "docs/opening-times.pdf",
        "docs/policies/membership.txt",
        "docs/with-bom.txt",
    ]
    assert project.binary_files == {"docs/opening-times.pdf": PDF}
    assert list(project.test_files) == ["tests/e2e/opening_hours.yml"]
    assert list(project.code_files) == [
        "actions/__init__.py",
        "actions/opening_hours.py",
        "addons/__init__.py",
        "addons/keyword_tagger.py",
    ]
    # docs/ and tests/ are never read as training data
    assert [f.id for f in project.flows] == ["opening_hours", "greet", "pattern_search"]

    out = tmp_path / "out"
    write_project_dir(project, out)
    original, written = disk_files(project_dir), disk_files(out)
    assert set(written) == set(original)
    for path, data in original.items():
        if path not in REWRITTEN:
            assert written[path] == data, path
    assert dump_project_bytes(project) == written
    again = load_project_dir(out)
    assert again == project


def test_one_warning_for_the_code_studio_does_not_run(project_dir):
    project = load_project_dir(project_dir)
    (code,) = summaries(project, "the project's code is kept")
    assert "actions/opening_hours.py" in code and "addons/keyword_tagger.py" in code
    assert "custom actions run on the action server" in code
    assert "addons.keyword_tagger.KeywordTagger" in code
    assert "not recognised" not in " ".join(w.message for w in project.load_warnings)


def test_a_link_to_a_file_or_folder_inside_the_project_is_followed(project_dir):
    shared = project_dir / "shared"
    shared.mkdir()
    (shared / "faq.txt").write_text("Wifi is free in every branch.\n")
    (project_dir / "docs" / "faq").symlink_to(shared, target_is_directory=True)
    (project_dir / "docs" / "loans-again.txt").symlink_to(project_dir / "docs" / "loans.txt")

    project = load_project_dir(project_dir)
    assert project.other_files["docs/faq/faq.txt"] == "Wifi is free in every branch.\n"
    assert (
        project.other_files["docs/loans-again.txt"] == (project_dir / "docs/loans.txt").read_text()
    )
    assert "shared/faq.txt" in project.other_files


@pytest.mark.parametrize("folder", [False, True])
def test_a_link_that_leaves_the_project_is_refused_naming_the_link(project_dir, tmp_path, folder):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.txt").write_text("not part of the project\n")
    target = outside if folder else outside / "secret.txt"
    (project_dir / "docs" / "leak").symlink_to(target, target_is_directory=folder)

    with pytest.raises(FormatError) as caught:
        load_project_dir(project_dir)
    (problem,) = caught.value.problems
    assert problem.file == "docs/leak"
    assert "the link docs/leak points to" in problem.message
    assert str(target) in problem.message and "outside the project" in problem.message


def test_a_relative_link_out_of_the_project_is_refused_too(project_dir):
    os.symlink("../../..", project_dir / "docs" / "up")
    with pytest.raises(FormatError, match=r"the link docs/up points to \.\./\.\./\.\."):
        load_project_dir(project_dir)


def test_broken_links_and_link_loops_are_reported_not_followed(project_dir):
    (project_dir / "docs" / "gone.txt").symlink_to(project_dir / "docs" / "nowhere.txt")
    (project_dir / "docs" / "policies" / "again").symlink_to(
        project_dir / "docs", target_is_directory=True
    )
    project = load_project_dir(project_dir)
    assert "which does not exist" in project.ignored_files["docs/gone.txt"]
    assert project.ignored_files["docs/policies/again/"] == (
        "a link to a folder that contains it (a loop)"
    )
    (summary,) = summaries(project, "2 files not imported")
    assert "docs/gone.txt (a link to" in summary


def test_every_file_not_kept_is_named_with_the_reason(project_dir):
    (project_dir / ".git").mkdir()
    (project_dir / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (project_dir / ".env").write_text("OPENAI_API_KEY=sk-1\n")
    (project_dir / "models").mkdir()
    (project_dir / "models" / "20240101-model.tar.gz").write_bytes(b"\x1f\x8b\x08")
    (project_dir / "actions" / "__pycache__").mkdir()
    (project_dir / "actions" / "__pycache__" / "opening_hours.cpython-311.pyc").write_bytes(b"\0")
    (project_dir / "backup.zip").write_bytes(b"PK\x05\x06")
    (project_dir / "docs" / "huge.txt").write_bytes(b"a" * (MAX_FILE_BYTES + 1))

    project = load_project_dir(project_dir)
    assert project.ignored_files == {
        ".env": "a hidden file or folder",
        ".git/": "a hidden file or folder",
        "actions/__pycache__/": "compiled Python is not kept",
        "backup.zip": "archives are not kept (trained models, packed projects)",
        "docs/huge.txt": (
            f"{MAX_FILE_BYTES + 1} bytes, larger than the limit of {MAX_FILE_BYTES} bytes "
            "for a file"
        ),
        "models/": "trained models are not kept (Studio trains its own)",
    }
    (summary,) = summaries(project, "6 files not imported: ")
    for path in project.ignored_files:
        assert f"{path} (" in summary
    assert "actions/opening_hours.py" in project.other_files


def test_files_studio_does_not_read_are_kept_and_listed_in_one_line():
    project = load_project_files(
        {
            "domain.yml": b'version: "3.1"\nintents: [greet]\n',
            "a.yml": b"hello: world\n",
            "b.yml": b"settings: {x: 1}\n",
            "c.yml": b"other: [1]\n",
            "README.md": b"# the bot\n",
            "e2e/greet.yml": b"test_cases:\n  - test_case: hi\n    steps: []\n",
            "sub_agents/finder/config.yml": b"agent:\n  name: finder\n",
            "credentials.yml": b"rest:\n",
        }
    )
    warnings = [w.message for w in project.load_warnings]
    assert warnings == [
        "4 files kept unchanged that Studio does not read: README.md, a.yml, b.yml, c.yml"
    ]
    assert project.other_files["b.yml"] == "settings: {x: 1}\n"
    # e2e tests are found by their test_cases key wherever they are
    assert list(project.test_files) == ["e2e/greet.yml"]
    assert project.other_files["sub_agents/finder/config.yml"] == "agent:\n  name: finder\n"


def test_test_and_knowledge_folders_are_not_read_as_training_data():
    project = load_project_files(
        {
            "domain.yml": b'version: "3.1"\nintents: [greet]\n',
            "tests/test_stories.yml": b"stories:\n- story: s\n  steps:\n  - intent: nope\n",
            "docs/faq.yml": b"nlu:\n- intent: faq\n  examples: |\n    - hi\n",
        }
    )
    assert project.nlu.intents == []
    assert set(project.other_files) == {"tests/test_stories.yml", "docs/faq.yml"}
    assert project.load_warnings == []


def test_a_configured_search_source_folder_holds_knowledge():
    config = (
        "recipe: default.v1\nlanguage: en\npolicies:\n- name: FlowPolicy\n"
        "- name: EnterpriseSearchPolicy\n  vector_store:\n    type: faiss\n"
        "    source: ./knowledge\n"
    )
    project = load_project_files(
        {
            "config.yml": config,
            "domain.yml": 'version: "3.1"\n',
            "knowledge/rules.txt": b"Quiet please.\n",
            "knowledge/more.yml": b"nlu: []\n",
        }
    )
    assert sorted(project.knowledge_files) == ["knowledge/more.yml", "knowledge/rules.txt"]
    assert project.load_warnings == []


def test_binary_and_text_files_given_as_a_mapping_keep_their_bytes():
    crlf = b"line one\r\nline two\r\n"
    project = load_project_files(
        {"domain.yml": b'version: "3.1"\n', "docs/a.pdf": PDF, "docs/b.txt": crlf}
    )
    assert project.binary_files == {"docs/a.pdf": PDF}
    dumped = dump_project_bytes(project)
    assert dumped["docs/a.pdf"] == PDF and dumped["docs/b.txt"] == crlf


def test_sub_agent_folders_are_kept_as_files_under_their_own_path():
    files = {
        "domain.yml": b'version: "3.1"\n',
        "sub_agents/finder/config.yml": b"agent:\n  name: finder\n  description: Finds books\n",
        "sub_agents/finder/prompt.jinja2": b"Find {{ title }}.\n",
        "sub_agents/finder/tools.py": b"def search(title):\n    return []\n",
    }
    project = load_project_files(files)
    assert project.prompts == {}
    assert project.other_files == {p: d.decode() for p, d in files.items() if p != "domain.yml"}
    assert dump_project_bytes(project)["sub_agents/finder/prompt.jinja2"] == b"Find {{ title }}.\n"


def test_text_a_database_cannot_hold_is_kept_as_bytes():
    project = load_project_files({"domain.yml": 'version: "3.1"\n', "docs/odd.txt": "a\x00b"})
    assert project.binary_files == {"docs/odd.txt": b"a\x00b"}
    assert project.other_files == {}
