import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from apps.flows.models import Flow, Slot
from apps.nlu.models import Example, Intent
from apps.projects import content
from apps.projects.content.archives import read_project_dir
from apps.projects.models import Assistant
from apps.projects.tests.snapshots import snapshot
from demo import HARBOR_BANK as DEMO_DIR
from engine.formats import FormatError

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def demo_files():
    return read_project_dir(DEMO_DIR)


@pytest.fixture
def bank(make_assistant, demo_files):
    assistant = make_assistant("bank")
    content.import_files(assistant, demo_files)
    return assistant


def test_the_demo_imports_as_rows(bank):
    flow = Flow.objects.get(assistant=bank, name="transfer_money")
    assert flow.definition["persisted_slots"] == ["transfer_recipient"]
    assert flow.definition["nlu_trigger"] == [
        {"intent": {"name": "transfer_money", "confidence_threshold": 0.5}}
    ]
    assert Slot.objects.get(assistant=bank, name="account_type").definition["values"] == [
        "checking",
        "savings",
        "credit",
    ]
    assert Example.objects.filter(intent__assistant=bank).count() >= 320
    annotated = Example.objects.filter(
        intent__assistant=bank, intent__name="move_between_accounts"
    ).exclude(entities=[])
    assert any(e.get("role") == "source" for ex in annotated for e in ex.entities)


def test_import_export_import_gives_identical_rows(bank, make_assistant):
    exported = content.export_files(bank)
    copy = make_assistant("copy")
    content.import_files(copy, {path: text.encode() for path, text in exported.items()})
    assert snapshot(copy) == snapshot(bank)
    assert content.export_files(copy) == exported


def test_export_is_deterministic_and_in_rasa_layout(bank):
    first, second = content.export_files(bank), content.export_files(bank)
    assert first == second
    assert {"config.yml", "endpoints.yml", "domain.yml", "data/flows.yml", "data/nlu.yml"} <= set(
        first
    )
    # config.yml is kept as text, comments included.
    assert first["config.yml"] == (DEMO_DIR / "config.yml").read_text()


def test_a_partial_import_updates_only_what_it_names(bank):
    before = snapshot(bank)
    upload = {
        "data/flows/extra.yml": (
            'version: "3.1"\nflows:\n'
            "  say_hours:\n    description: Tell the opening hours.\n    steps:\n      - action: utter_greet\n"
            "  check_balance:\n    description: Replaced.\n    steps:\n      - action: utter_greet\n"
        )
    }
    report = content.import_files(bank, upload, partial=True)
    assert report.counts["flows"] == len(before["Flow"]) + 1
    flows = {f.name: f for f in Flow.objects.filter(assistant=bank)}
    assert flows["check_balance"].description == "Replaced."
    assert flows["say_hours"].definition["steps"] == [{"action": "utter_greet"}]
    after = snapshot(bank)
    assert after["Slot"] == before["Slot"] and after["Example"] == before["Example"]
    assert after["Files"] == before["Files"]


def test_a_full_import_replaces_everything(bank):
    content.import_files(
        bank,
        {
            "domain.yml": 'version: "3.1"\nintents: [hello]\nresponses:\n  utter_hi:\n  - text: Hi!\n',
            "data/flows.yml": 'version: "3.1"\nflows:\n  hi:\n    description: d\n    steps:\n      - action: utter_hi\n',
        },
    )
    assert list(Flow.objects.filter(assistant=bank).values_list("name", flat=True)) == ["hi"]
    assert list(Intent.objects.filter(assistant=bank).values_list("name", flat=True)) == ["hello"]
    assert not Slot.objects.filter(assistant=bank).exists()


def test_an_error_in_one_file_leaves_everything_as_it_was(bank):
    before = snapshot(bank)
    with pytest.raises(FormatError) as caught:
        content.import_files(
            bank,
            {
                "data/flows/good.yml": 'version: "3.1"\nflows:\n  ok:\n    description: d\n    steps:\n      - action: utter_greet\n',
                "domain/bad.yml": 'version: "3.1"\nslots:\n  s:\n    type: nonsense\n',
            },
            partial=True,
        )
    assert [p.file for p in caught.value.problems] == ["domain/bad.yml"]
    assert snapshot(bank) == before


def zip_bytes(files):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_the_settings_page_downloads_and_uploads_a_zip(admin_client, bank, make_assistant):
    response = admin_client.get(reverse("projects:export", args=["bank"]))
    assert response["Content-Type"] == "application/zip"
    assert 'filename="bank.zip"' in response["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert "data/flows.yml" in archive.namelist()
    make_assistant("empty")
    upload = SimpleUploadedFile("bank.zip", response.content)
    result = admin_client.post(reverse("projects:import", args=["empty"]), {"files": [upload]})
    assert result.status_code == 302
    assert snapshot(Assistant.objects.get(name="empty")) == snapshot(bank)


def test_the_settings_page_lists_every_problem_and_imports_nothing(admin_client, bank):
    before = snapshot(bank)
    bad = zip_bytes({"my-bot/domain.yml": 'version: "3.1"\nslots:\n  s:\n    type: nonsense\n'})
    response = admin_client.post(
        reverse("projects:import", args=["bank"]),
        {"files": [SimpleUploadedFile("x.zip", bad)], "partial": "on"},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was imported." in page
    assert "domain.yml:4 (slots.s.type)" in page
    assert snapshot(bank) == before


def test_the_api_exports_json_and_imports_json(client, admin_user, bank):
    from apps.accounts.models import ApiToken

    _, secret = ApiToken.issue(admin_user, "t")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    files = client.get("/api/v1/assistants/bank/export?format=json", **auth).json()["files"]
    assert files == content.export_files(bank)
    assert client.get("/api/v1/assistants/bank/export?format=tar", **auth).status_code == 400
    body = {
        "files": {
            "data/nlu/more.yml": 'version: "3.1"\nnlu:\n  - intent: greet\n    examples: |\n      - ahoy there\n'
        }
    }
    response = client.post(
        "/api/v1/assistants/bank/import", body, content_type="application/json", **auth
    )
    assert response.status_code == 200, response.json()
    assert list(
        Example.objects.filter(intent__assistant=bank, intent__name="greet").values_list(
            "text", flat=True
        )
    ) == ["ahoy there"]


def test_the_commands_import_and_export(tmp_path, bank, capsys):
    call_command("export_assistant", "bank", str(tmp_path / "out"))
    assert (tmp_path / "out" / "domain.yml").exists()
    call_command("import_assistant", "copy", str(tmp_path / "out"), "--create")
    assert snapshot(Assistant.objects.get(name="copy")) == snapshot(bank)
    with pytest.raises(CommandError, match="No assistant called 'nobody'"):
        call_command("import_assistant", "nobody", str(tmp_path / "out"))
    with pytest.raises(CommandError, match="is not a folder"):
        call_command("import_assistant", "bank", str(tmp_path / "missing"))
    (tmp_path / "out" / "domain.yml").write_text("slots: [\n")
    before = snapshot(bank)
    with pytest.raises(CommandError, match="nothing was imported into bank"):
        call_command("import_assistant", "bank", str(tmp_path / "out"))
    assert "domain.yml:2" in capsys.readouterr().err
    assert snapshot(bank) == before


def test_the_reference_assistant_has_the_asked_size(db):
    call_command("make_reference_assistant", "--flows", "5", "--intents", "7", "--examples", "120")
    reference = Assistant.objects.get(name="reference")
    assert Flow.objects.filter(assistant=reference).count() == 5
    assert Intent.objects.filter(assistant=reference).count() == 7
    assert Example.objects.filter(intent__assistant=reference).count() == 120
    with pytest.raises(CommandError):
        call_command("make_reference_assistant", "--flows", "0")
