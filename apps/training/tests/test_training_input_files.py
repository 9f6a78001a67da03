"""A training's input carries every file of the assistant, binary documents (a PDF in docs/)
byte for byte as well as text: in the version, in the folder the consumer trains, and in the
version's input download."""

import io
import sys
import zipfile

import pytest

from apps.projects import content
from apps.training import services
from apps.training.models import TrainingJob
from tests.support.rasa_projects import project_texts
from workers.training import TrainingConsumer

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<</Type/Catalog>>endobj\n\x00\xff\ntrailer\n%%EOF\n"


@pytest.fixture
def library(make_assistant):
    assistant = make_assistant("library")
    files: dict[str, str | bytes] = dict(project_texts("enterprise-search"))
    files["docs/floor-plan.pdf"] = PDF
    content.import_files(assistant, files)
    return assistant


def test_the_version_holds_the_binary_documents(library):
    version = services.request_training(library, None).version
    assert "docs/floor-plan.pdf" not in version.input_files  # text only there
    assert version.input_contents["docs/floor-plan.pdf"] == PDF
    assert version.input_contents["docs/loans.txt"] == version.input_files["docs/loans.txt"]


def test_the_consumer_trains_a_folder_with_the_pdf_in_it(library, settings, tmp_path):
    seen = tmp_path / "seen"
    settings.STUDIO_ENGINE = "rasa"
    settings.STUDIO_RASA_TRAIN_COMMAND = (
        f'{sys.executable} -c "import shutil, sys; shutil.copytree(sys.argv[1], sys.argv[2])" '
        f"{{project}} {seen}"
    )
    job = services.request_training(library, None)
    TrainingConsumer(once=True, worker_id="w").run()
    assert (seen / "docs" / "floor-plan.pdf").read_bytes() == PDF
    assert (seen / "docs" / "loans.txt").read_text() == job.version.input_files["docs/loans.txt"]


def test_the_built_in_engine_trains_the_project_with_its_pdf(library):
    job = services.request_training(library, None)
    TrainingConsumer(once=True, worker_id="w").run()
    job.refresh_from_db()
    assert job.status == TrainingJob.Status.SUCCEEDED, job.error


def test_a_binary_document_changes_the_fingerprint(library):
    first = services.request_training(library, None).version
    files = library.files
    files.put_kept_file("docs/floor-plan.pdf", PDF + b"\x01")
    second = services.request_training(library, None).version
    assert first.input_files == second.input_files
    assert first.fingerprint != second.fingerprint


def test_the_input_download_has_the_pdf(library, admin_client):
    version = services.request_training(library, None).version
    response = admin_client.get(f"/a/library/versions/{version.number}/input.zip")
    assert response.status_code == 200, response.status_code
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert archive.read("docs/floor-plan.pdf") == PDF
