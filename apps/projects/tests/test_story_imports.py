"""Stories and rules on import: checked against the domain (a bad one refuses the whole import,
naming file, line and key), counted in the report of the page, the API and the command, and
guarded when an edit deletes a name a story uses."""

import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from apps.flows.models import Response
from apps.flows.services.domain import delete_response
from apps.nlu.models import Intent
from apps.nlu.services import delete_intent
from apps.projects import content, imports
from apps.projects.content.checks import ContentInvalid
from apps.projects.models import ImportJob
from apps.projects.tests.snapshots import snapshot
from tests.support.rasa_projects import project_texts

pytestmark = pytest.mark.django_db

CLASSIC = (
    Path(__file__).resolve().parents[3] / "engine" / "tests" / "rasa_projects" / "classic-forms"
)
BAD_STORY = """\
version: "3.1"
stories:
  - story: greet
    steps:
      - intent: greet
      - action: utter_greet
      - intent: order_pizza
      - action: utter_pizza
"""
BAD_PROBLEMS = [
    (
        "data/stories.yml",
        7,
        "stories[0].steps[2].intent",
        "the intent 'order_pizza' is used in the story 'greet', but it is not listed in the "
        "domain's intents",
    ),
    (
        "data/stories.yml",
        8,
        "stories[0].steps[3].action",
        "the response 'utter_pizza' is used in the story 'greet', but it is not a response of "
        "the domain",
    ),
]


NEW_RESPONSE = 'version: "3.1"\nresponses:\n  utter_new:\n    - text: New!\n'


def classic_files() -> dict[str, str]:
    return project_texts("classic-forms")


@pytest.fixture
def bot(make_assistant):
    assistant = make_assistant("bot")
    content.import_files(assistant, classic_files())
    return assistant


def api_import(client, auth, files, partial=True):
    return client.post(
        "/api/v1/assistants/bot/import",
        json.dumps({"files": files, "partial": partial}),
        content_type="application/json",
        **auth,
    )


def uploads(files):
    """The files as one zip upload (separate uploads would lose their folders)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return [SimpleUploadedFile("project.zip", buffer.getvalue())]


# --------------------------------------------------------------------------------------------
# Counts


def test_the_api_import_counts_stories_and_rules(make_assistant, client, auth):
    make_assistant("bot")
    response = api_import(client, auth, classic_files(), partial=False)
    assert response.status_code == 200, response.json()
    imported = response.json()["imported"]
    assert imported["stories"] == 5 and imported["rules"] == 7
    assert imported["intents"] == 9 and imported["flows"] == 0


def test_the_page_import_reports_the_counts(web, bot):
    extra = {
        "data/more_rules.yml": 'version: "3.1"\nrules:\n  - rule: thanks\n    steps:\n'
        "      - intent: thankyou\n      - action: utter_noworries\n"
    }
    response = web.post("/a/bot/import", {"files": uploads(extra)}, follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    assert "5 stories, 8 rules" in page


def test_a_background_import_shows_the_counts_on_its_page(settings, web, bot):
    settings.STUDIO_IMPORT_BACKGROUND_ITEMS = 0
    response = web.post("/a/bot/import", {"files": uploads(classic_files())})
    job = ImportJob.objects.get()
    assert response["Location"] == f"/a/bot/imports/{job.pk}"
    assert imports.run_queued_imports() == 1
    job.refresh_from_db()
    assert job.imported["stories"] == 5 and job.imported["rules"] == 7
    page = web.get(response["Location"]).content.decode()
    assert 'data-status="done"' in page and "5 stories, 7 rules" in page
    assert "5 stories, 7 rules" in job.log


def test_the_import_command_prints_the_counts(tmp_path, make_assistant):
    out = io.StringIO()
    call_command("import_assistant", "classic", str(CLASSIC), "--create", stdout=out)
    assert "5 stories, 7 rules" in out.getvalue()


# --------------------------------------------------------------------------------------------
# Refusals: every problem named, nothing written


def test_an_api_import_with_a_bad_story_is_refused_and_changes_nothing(client, auth, bot):
    before = snapshot(bot)
    response = api_import(client, auth, {"data/stories.yml": BAD_STORY})
    assert response.status_code == 400
    errors = [(e["file"], e["line"], e["path"], e["message"]) for e in response.json()["errors"]]
    assert errors == BAD_PROBLEMS
    assert snapshot(bot) == before


def test_a_page_import_with_a_bad_story_shows_why_and_changes_nothing(web, bot):
    before = snapshot(bot)
    files = {"domain.yml": NEW_RESPONSE, "data/stories.yml": BAD_STORY}
    response = web.post("/a/bot/import", {"files": uploads(files)})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was imported." in page
    for file, line, path, message in BAD_PROBLEMS:
        assert f"{file}:{line} ({path}): error: {message}".replace("'", "&#x27;") in page
    assert snapshot(bot) == before
    assert not Response.objects.filter(assistant=bot, name="utter_new").exists()


def test_a_full_replace_with_a_bad_rule_is_refused_before_any_confirmation(web, bot):
    before = snapshot(bot)
    files = classic_files()
    files["data/rules.yml"] = files["data/rules.yml"].replace(
        "action: utter_iamabot", "action: action_tell_joke"
    )
    response = web.post("/a/bot/import", {"files": uploads(files), "mode": "replace"})
    assert response.status_code == 400
    assert "the action &#x27;action_tell_joke&#x27; is used in the rule" in (
        response.content.decode()
    )
    assert not ImportJob.objects.exists()
    assert snapshot(bot) == before


def test_the_import_command_refuses_a_bad_story_naming_it(tmp_path, make_assistant):
    project = tmp_path / "project"
    shutil.copytree(CLASSIC, project)
    stories = project / "data" / "stories.yml"
    stories.write_text(
        stories.read_text().replace("- active_loop: booking_form", "- active_loop: pay_form", 1)
    )
    err = io.StringIO()
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_assistant", "classic", str(project), "--create", stderr=err)
    assert (
        "data/stories.yml:19 (stories[1].steps[4].active_loop): error: the form 'pay_form' is "
        "used in the story 'book directly after greeting' (active_loop)"
    ) in err.getvalue()
    assert not Intent.objects.filter(assistant__name="classic").exists()


# --------------------------------------------------------------------------------------------
# Edits that would break a story


def test_deleting_an_intent_a_story_uses_is_refused(bot):
    intent = Intent.objects.get(assistant=bot, name="stop")
    with pytest.raises(ContentInvalid) as info:
        delete_intent(intent)
    assert "the intent 'stop' is used in the story 'stop and continue the form'" in str(info.value)
    assert Intent.objects.filter(assistant=bot, name="stop").exists()


def test_deleting_a_response_a_rule_uses_is_refused(bot):
    response = Response.objects.get(assistant=bot, name="utter_iamabot")
    with pytest.raises(ContentInvalid) as info:
        delete_response(response)
    assert "the response 'utter_iamabot' is used in the rule 'Say I am a bot when asked'" in str(
        info.value
    )
    assert Response.objects.filter(assistant=bot, name="utter_iamabot").exists()


def test_deleting_a_response_no_story_uses_still_works(bot):
    extra = {"domain/extra.yml": 'version: "3.1"\nresponses:\n  utter_unused:\n    - text: x\n'}
    content.import_files(bot, extra, partial=True)
    delete_response(Response.objects.get(assistant=bot, name="utter_unused"))
    assert not Response.objects.filter(assistant=bot, name="utter_unused").exists()


def test_the_delete_page_says_which_story_still_uses_the_intent(web, bot):
    url = "/a/bot/nlu/intents/stop/delete"
    page = web.post(url, {"confirm_name": "stop"}).content.decode()
    assert (
        "Still in use: the intent &#x27;stop&#x27; is used in the story &#x27;stop and continue "
        "the form&#x27;"
    ) in page
    assert Intent.objects.filter(assistant=bot, name="stop").exists()


def test_a_full_replace_lists_the_stories_and_rules_it_deletes(web, bot):
    files = classic_files()
    del files["data/stories.yml"]
    files["data/rules.yml"] = files["data/rules.yml"].split("  - rule: Start the booking form")[0]
    response = web.post("/a/bot/import", {"files": uploads(files), "mode": "replace"})
    job = ImportJob.objects.get()
    assert response["Location"] == f"/a/bot/imports/{job.pk}"
    assert job.removes == {
        "files": ["data/stories.yml"],
        "stories": [
            "book directly after greeting",
            "greet and start",
            "say thanks after booking",
            "stop and continue the form",
            "stop the form for good",
        ],
        "rules": [
            "Answer thanks while a booking is being made outside",
            "Ask to rephrase when unsure",
            "Start the booking form",
            "Submit the booking form",
        ],
    }
    page = web.get(response["Location"]).content.decode()
    assert "Replacing deletes 10 items that the upload does not have" in page
    assert "<code>Submit the booking form</code>" in page


def test_a_full_replace_with_the_same_stories_deletes_none(web, bot):
    web.post("/a/bot/import", {"files": uploads(classic_files()), "mode": "replace"})
    job = ImportJob.objects.get()
    assert job.removes == {}
    page = web.get(f"/a/bot/imports/{job.pk}").content.decode()
    assert "lookup tables, stories or rules: the upload has every stored item" in page
