"""An assistant keeps every file of its project: knowledge-base documents (text and binary),
e2e tests, custom actions and components come back out of the export zip byte for byte, reach
the training snapshot, and survive full and partial imports. The Knowledge page lists the
documents for whoever may view flows."""

import io
import os
import stat
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.accounts.roles import Role
from apps.flows.models import Flow
from apps.projects import content
from apps.projects.content.archives import UploadError, read_files, read_project_dir
from apps.projects.models import AssistantFiles
from apps.training.services import snapshot_files
from tests.support.rasa_projects import folder_bytes

pytestmark = pytest.mark.django_db

PROJECT = Path(__file__).resolve().parents[3] / "engine/tests/rasa_projects/enterprise-search"
PDF = (
    b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)
#: Written by Studio in its own layout: the same meaning, not the same bytes.
REWRITTEN = {"domain.yml", "data/flows.yml"}


def project_files() -> dict[str, bytes]:
    files = folder_bytes(PROJECT)
    files["docs/floor-plan.pdf"] = PDF
    return files


def zip_bytes(files: dict[str, bytes], *, links: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, data in files.items():
            archive.writestr(f"library/{path}", data)
        for path, target in (links or {}).items():
            info = zipfile.ZipInfo(f"library/{path}")
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return buffer.getvalue()


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


@pytest.fixture
def library(make_assistant):
    assistant = make_assistant("library")
    content.import_files(assistant, project_files())
    return assistant


def assert_every_file_comes_back(exported: dict[str, bytes]):
    given = project_files()
    assert set(exported) == set(given)
    for path, data in given.items():
        if path not in REWRITTEN:
            assert exported[path] == data, path


def test_the_api_import_then_export_keeps_every_file_byte_for_byte(make_assistant, client, auth):
    make_assistant("library")
    upload = SimpleUploadedFile("library.zip", zip_bytes(project_files()))
    response = client.post(
        "/api/v1/assistants/library/import", {"files": [upload], "partial": "true"}, **auth
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["imported"]["documents"] == 4
    assert body["imported"]["test files"] == 1
    assert body["imported"]["code files"] == 4
    warnings = [w["message"] for w in body["warnings"]]
    assert any(w.startswith("the project's code is kept and exported unchanged") for w in warnings)
    assert not any("not imported" in w or "does not read" in w for w in warnings)

    exported = client.get("/api/v1/assistants/library/export", **auth)
    assert exported.status_code == 200
    assert_every_file_comes_back(unzip(exported.content))

    as_json = client.get("/api/v1/assistants/library/export?format=json", **auth).json()
    assert as_json["files"]["docs/loans.txt"] == (PROJECT / "docs/loans.txt").read_text()
    assert set(as_json["binary_files"]) == {"docs/floor-plan.pdf"}


def test_the_import_page_then_the_export_page_keep_every_file(make_assistant, client, developer):
    assistant = make_assistant("library")
    client.force_login(developer)
    upload = SimpleUploadedFile("library.zip", zip_bytes(project_files()))
    response = client.post(
        f"/a/{assistant.name}/import", {"files": [upload], "mode": "update"}, follow=True
    )
    assert response.status_code == 200
    shown = [str(m) for m in response.context["messages"]]
    assert any("4 documents" in m and "1 test files" in m for m in shown), shown
    assert Flow.objects.filter(assistant=assistant).count() == 3

    exported = client.get(f"/a/{assistant.name}/export.zip")
    assert exported.status_code == 200
    assert_every_file_comes_back(unzip(exported.content))


def test_the_training_snapshot_holds_the_documents_tests_and_code(library):
    files = snapshot_files(library)
    for path in (
        "docs/loans.txt",
        "docs/policies/membership.txt",
        "tests/e2e/opening_hours.yml",
        "actions/opening_hours.py",
        "addons/keyword_tagger.py",
        "credentials.yml",
    ):
        assert files[path].encode() == (PROJECT / path).read_bytes(), path


def test_a_partial_import_replaces_kept_files_by_path_and_keeps_the_others(library):
    content.import_files(
        library,
        {
            "domain.yml": 'version: "3.1"\nintents: [greet]\n',
            "docs/loans.txt": b"Loans are now four weeks.\n",
            "docs/floor-plan.pdf": b"now plain text\n",
        },
        partial=True,
    )
    stored = AssistantFiles.objects.get(assistant=library)
    assert stored.other_files["docs/loans.txt"] == "Loans are now four weeks.\n"
    assert stored.other_files["docs/floor-plan.pdf"] == "now plain text\n"
    assert "docs/floor-plan.pdf" not in stored.binary_files
    assert stored.other_files["docs/fines.txt"] == (PROJECT / "docs/fines.txt").read_text()
    assert "actions/opening_hours.py" in stored.other_files


def test_a_full_replace_drops_the_kept_files_the_upload_does_not_hold(library):
    files = project_files()
    del files["docs/fines.txt"], files["docs/floor-plan.pdf"]
    content.import_files(library, files)
    stored = AssistantFiles.objects.get(assistant=library)
    assert "docs/fines.txt" not in stored.other_files
    assert stored.binary_files == {}
    assert "docs/loans.txt" in stored.other_files


def test_links_inside_an_uploaded_zip_are_followed():
    files = read_files(
        [
            (
                "library.zip",
                zip_bytes(
                    {"shared/faq.txt": b"Wifi is free.\n", "domain.yml": b"intents: [a]\n"},
                    links={"docs/faq": "../shared", "docs/faq-copy.txt": "../shared/faq.txt"},
                ),
            )
        ]
    )
    assert files["docs/faq/faq.txt"] == b"Wifi is free.\n"
    assert files["docs/faq-copy.txt"] == b"Wifi is free.\n"


def test_a_zip_link_out_of_the_project_is_refused_naming_the_link(client, auth, make_assistant):
    make_assistant("library")
    data = zip_bytes({"domain.yml": b"intents: [a]\n"}, links={"docs/up": "../../outside"})
    with pytest.raises(UploadError, match=r"the link docs/up points to \.\./\.\./outside"):
        read_files([("library.zip", data)])
    upload = SimpleUploadedFile("library.zip", data)
    response = client.post("/api/v1/assistants/library/import", {"files": [upload]}, **auth)
    assert response.status_code == 400
    assert "docs/up points to ../../outside, outside the project" in response.content.decode()


def test_a_project_folder_follows_inside_links_and_refuses_outside_ones(tmp_path):
    root = tmp_path / "library"
    root.mkdir()
    (root / "domain.yml").write_text("intents: [a]\n")
    (root / "shared").mkdir()
    (root / "shared" / "faq.txt").write_text("Wifi is free.\n")
    (root / "docs").mkdir()
    (root / "docs" / "faq").symlink_to(root / "shared", target_is_directory=True)
    files = read_project_dir(root)
    assert files["docs/faq/faq.txt"] == b"Wifi is free.\n"

    os.symlink(tmp_path, root / "docs" / "everything")
    with pytest.raises(UploadError) as caught:
        read_project_dir(root)
    assert caught.value.file == "docs/everything"
    assert f"points to {tmp_path}, outside the project" in caught.value.message


# --------------------------------------------------------------------------------------------
# The Knowledge page


@pytest.mark.parametrize(
    "role", [Role.DEVELOPER, Role.FLOW_BUILDER, Role.NLU_EDITOR, Role.BUSINESS_USER]
)
def test_the_knowledge_page_lists_the_documents_for_whoever_may_view_flows(
    library, make_user, client, role
):
    client.force_login(make_user("someone", grants={library: [role]}))
    page = client.get(f"/a/{library.name}/knowledge")
    assert page.status_code == 200
    html = page.content.decode()
    for path in ("docs/loans.txt", "docs/fines.txt", "docs/policies/membership.txt"):
        assert path in html
    assert "docs/floor-plan.pdf" in html and "(binary)" in html
    assert "actions/opening_hours.py" not in html
    assert '<a href="/a/library/knowledge" aria-current="page">Knowledge</a>' in html

    shown = client.get(f"/a/{library.name}/knowledge", {"doc": "docs/loans.txt"})
    assert "Members may borrow up to twelve items" in shown.content.decode()
    download = client.get(
        f"/a/{library.name}/knowledge", {"doc": "docs/floor-plan.pdf", "download": "1"}
    )
    assert download.content == PDF
    assert download["Content-Type"] == "application/octet-stream"
    can_edit = role in (Role.DEVELOPER, Role.FLOW_BUILDER)
    assert ("Add a document" in html) is can_edit


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.CONVERSATION_VIEWER])
def test_the_knowledge_page_is_refused_to_roles_that_cannot_view_flows(
    library, make_user, client, role
):
    client.force_login(make_user("someone", grants={library: [role]}))
    overview = client.get(f"/a/{library.name}/overview").content.decode()
    assert "/a/library/knowledge" not in overview  # not in their navigation either
    response = client.get(f"/a/{library.name}/knowledge")
    assert response.status_code == 403
    assert "docs/loans.txt" not in response.content.decode()


def test_the_knowledge_page_is_hidden_from_people_without_a_role(library, make_user, client):
    client.force_login(make_user("stranger"))
    assert client.get(f"/a/{library.name}/knowledge").status_code == 404


def test_a_flow_builder_adds_and_removes_documents(library, make_user, client):
    client.force_login(make_user("builder", grants={library: [Role.FLOW_BUILDER]}))
    upload = SimpleUploadedFile("events.txt", b"Story time on Saturdays.\n")
    response = client.post(
        f"/a/{library.name}/knowledge", {"document": upload, "folder": "docs/what-is-on"}
    )
    assert response.status_code == 302
    stored = AssistantFiles.objects.get(assistant=library)
    assert stored.other_files["docs/what-is-on/events.txt"] == "Story time on Saturdays.\n"
    assert "docs/what-is-on/events.txt" in content.export_files(library)

    response = client.post(f"/a/{library.name}/knowledge", {"remove": "docs/floor-plan.pdf"})
    assert response.status_code == 302
    assert "docs/floor-plan.pdf" not in content.export_archive_files(library)


def test_documents_go_only_under_the_knowledge_folders(library, make_user, client):
    client.force_login(make_user("builder", grants={library: [Role.FLOW_BUILDER]}))
    for folder in ("actions", "docs/../actions"):
        upload = SimpleUploadedFile("evil.py", b"import os\n")
        response = client.post(
            f"/a/{library.name}/knowledge", {"document": upload, "folder": folder}
        )
        assert response.status_code == 400
        assert "actions/evil.py" not in AssistantFiles.objects.get(assistant=library).other_files
    response = client.post(f"/a/{library.name}/knowledge", {"remove": "actions/opening_hours.py"})
    assert response.status_code == 404


def test_a_business_user_cannot_change_documents(library, make_user, client):
    client.force_login(make_user("viewer", grants={library: [Role.BUSINESS_USER]}))
    response = client.post(f"/a/{library.name}/knowledge", {"remove": "docs/loans.txt"})
    assert response.status_code == 403
    assert "docs/loans.txt" in AssistantFiles.objects.get(assistant=library).other_files


def test_the_import_and_export_commands_keep_every_file(tmp_path, make_assistant):
    from django.core.management import call_command

    source = tmp_path / "library"
    for path, data in project_files().items():
        (source / path).parent.mkdir(parents=True, exist_ok=True)
        (source / path).write_bytes(data)
    (source / "models").mkdir()
    (source / "models" / "old.tar.gz").write_bytes(b"\x1f\x8b\x08")
    out, err = io.StringIO(), io.StringIO()
    call_command("import_assistant", "library", str(source), "--create", stdout=out, stderr=err)
    assert "4 documents, 1 test files, 4 code files" in out.getvalue()
    assert "1 file not imported: models/ (trained models are not kept" in err.getvalue()

    target = tmp_path / "out"
    call_command("export_assistant", "library", str(target), stdout=io.StringIO())
    written = folder_bytes(target)
    assert_every_file_comes_back(written)


def test_a_training_gets_the_documents_tests_and_code_in_its_project_folder(
    library, developer, tmp_path
):
    from apps.training.services import request_training
    from engine import formats
    from workers.training import write_project

    job = request_training(library, developer)
    write_project(job.version.input_contents, tmp_path)
    trained = formats.load_project_dir(tmp_path)
    for path in ("docs/loans.txt", "tests/e2e/opening_hours.yml", "actions/opening_hours.py"):
        assert (tmp_path / path).read_bytes() == (PROJECT / path).read_bytes(), path
    assert (tmp_path / "docs" / "floor-plan.pdf").read_bytes() == PDF
    assert sorted(trained.test_files) == ["tests/e2e/opening_hours.yml"]
    assert "docs/policies/membership.txt" in trained.knowledge_files


def test_a_full_replace_lists_the_kept_files_it_deletes_before_it_is_confirmed(library):
    from apps.projects import imports
    from engine import formats

    files = project_files()
    del files["docs/fines.txt"], files["docs/floor-plan.pdf"]
    removes = imports.removed_by_replace(library, formats.load_project_files(files))
    assert removes == {"files": ["docs/fines.txt", "docs/floor-plan.pdf"]}
