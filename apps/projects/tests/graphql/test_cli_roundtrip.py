"""Upload as the 3.21 client does, export, and get the same project back; `push config` keeps
the flows; the 3.12 classic import works."""

import json
from pathlib import Path

import pytest

from apps.accounts.models import ApiToken
from apps.accounts.roles import Role
from apps.flows.models import Flow
from apps.nlu.models import Example, Intent
from apps.projects import content
from apps.projects.content.archives import read_project_dir
from apps.projects.models import Assistant
from apps.projects.tests.graphql.cli_support import (
    EXPORT_312,
    export,
    fixture,
    load,
    part,
    post,
    unb64,
    upload,
)
from engine import formats

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[4]


@pytest.fixture
def token(make_user):
    return ApiToken.issue(make_user("dev", Role.DEVELOPER), "cli")[1]


def ok(response, field):
    body = response.json()
    assert "errors" not in body, body
    return body["data"][field]


def imported(name, folder, make_user):
    """The same project imported from its folder, as the import page does."""
    assistant = Assistant.objects.create(name=name)
    content.import_files(assistant, read_project_dir(ROOT / folder))
    return content.export_project(assistant)


def test_an_upload_stores_what_an_import_of_the_folder_stores(client, token, make_user):
    assert ok(post(client, fixture("upload_321_harbor_bank.json"), token), "uploadModernAssistant")
    uploaded = content.export_project(Assistant.objects.get(name="harbor_bank"))
    folder = imported("from-folder", "demo/harbor_bank", make_user)

    # Flows compact, as authored: the client's generated ids and nexts and spelled-out
    # defaults are gone, the author's ids are kept.
    assert formats.flows_to_dict(uploaded.flows) == formats.flows_to_dict(folder.flows)
    # ... each step led by its id and its own key, as authors write it (not as_json's order).
    for flow in uploaded.flows:
        for step in formats.iter_steps(flow.steps):
            keys = [k for k in step if k != "id"]
            assert keys[0] == formats.step_type(step), (flow.id, step)
    assert uploaded.domain.responses == folder.domain.responses
    assert uploaded.domain.slots == folder.domain.slots
    assert {i.name for i in uploaded.domain.intents} == {i.name for i in folder.domain.intents}
    assert _examples(uploaded) == _examples(folder) != {}
    assert uploaded.config.data == folder.config.data
    assert uploaded.endpoints.data == folder.endpoints.data
    assert Flow.objects.filter(assistant__name="harbor_bank").count() == len(folder.flows) > 3


def _examples(project):
    return {b.intent: sorted(e.text for e in b.examples) for b in project.nlu.intents}


def test_export_gives_back_the_uploaded_project(client, token):
    body = fixture("upload_321_harbor_bank.json")
    post(client, body, token)
    out = ok(post(client, export("harbor_bank"), token), "exportAsEncodedYaml")

    flows = load(unb64(out["flows"]))["flows"]
    sent = part(body, "flows")["flows"]
    assert set(flows) == set(sent)
    for flow_id, flow in flows.items():
        # Rasa's FlowsList.from_json reads both forms: the same flow, same steps, expanded.
        expanded = formats.expand_steps(flow["steps"], flow_id)
        assert _steps_sans_defaults(expanded) == _steps_sans_defaults(sent[flow_id]["steps"])
        assert flow["description"] == sent[flow_id]["description"]
        assert "file_path" not in flow
    domain = load(unb64(out["domain"]))
    assert domain["responses"] == part(body, "domain")["responses"]
    assert set(domain["slots"]) == set(part(body, "domain")["slots"])
    assert load(unb64(out["config"])) == part(body, "config")
    assert load(unb64(out["endpoints"])) == part(body, "endpoints")
    nlu = {b["intent"]: b["examples"] for b in load(unb64(out["nlu"]))["nlu"] if "intent" in b}
    sent_nlu = {b["intent"]: b["examples"] for b in part(body, "nlu")["nlu"] if "intent" in b}
    assert {k: _lines(v) for k, v in nlu.items()} == {k: _lines(v) for k, v in sent_nlu.items()}


def _lines(examples: str) -> set[str]:
    return {line.strip() for line in examples.splitlines() if line.strip()}


def _steps_sans_defaults(steps):
    """Steps without what only restates a default (rejections: [] and the like)."""
    out = []
    for step in steps:
        step = {k: v for k, v in step.items() if v not in ([], None)}
        if isinstance(step.get("next"), list):
            step["next"] = [
                {k: (_steps_sans_defaults(v) if isinstance(v, list) else v) for k, v in b.items()}
                for b in step["next"]
            ]
        out.append(step)
    return out


def test_prompts_are_kept_as_the_files_config_names(client, token):
    body = fixture("upload_321_calm_basic.json")
    ok(post(client, body, token), "uploadModernAssistant")
    stored = content.export_project(Assistant.objects.get(name="calm-basic"))
    sent = body["variables"]["input"]["prompts"]["command_generator"]
    assert stored.prompts == {"prompts/command_prompt.jinja2": sent}
    out = ok(post(client, export("calm-basic"), token), "exportAsEncodedYaml")
    assert out["prompts"] == {
        "command_generator": sent,
        "contextual_response_rephraser": None,
        "enterprise_search": None,
    }


def test_push_config_alone_keeps_the_flows(client, token):
    post(client, fixture("upload_321_harbor_bank.json"), token)
    assistant = Assistant.objects.get(name="harbor_bank")
    flows_before = list(Flow.objects.filter(assistant=assistant).values_list("name", "definition"))
    examples_before = Example.objects.filter(intent__assistant=assistant).count()
    config = "recipe: default.v1\nlanguage: en\nassistant_id: harbor_bank\n# pushed\n"
    ok(post(client, upload("harbor_bank", config=config), token), "uploadModernAssistant")

    assistant.files.refresh_from_db()
    assert assistant.files.config_yml == config
    after = list(Flow.objects.filter(assistant=assistant).values_list("name", "definition"))
    assert after == flows_before
    assert Example.objects.filter(intent__assistant=assistant).count() == examples_before


def test_flows_given_replace_the_flows(client, token):
    body = fixture("upload_321_calm_basic.json")
    post(client, body, token)
    flows = part(body, "flows")["flows"]
    assert len(flows) > 1
    kept = sorted(flows)[0]
    only_one = {"flows": {kept: flows[kept]}}
    ok(
        post(client, upload("calm-basic", flows=json.dumps(only_one)), token),
        "uploadModernAssistant",
    )
    names = Flow.objects.filter(assistant__name="calm-basic").values_list("name", flat=True)
    assert set(names) == {kept}


def test_312_classic_import_and_export(client, token):
    body = fixture("import_312_seaside_inn.json")
    ok(post(client, body, token), "importFromEncodedYaml")
    assistant = Assistant.objects.get(name="seaside-inn")
    assert assistant.mode == Assistant.Mode.CLASSIC
    sent_intents = part(body, "domain")["intents"]
    stored = set(Intent.objects.filter(assistant=assistant).values_list("name", flat=True))
    assert set(sent_intents) <= stored
    out = ok(post(client, export("seaside-inn", EXPORT_312), token), "exportAsEncodedYaml")
    assert set(out) == {"nlu", "domain"}
    assert load(unb64(out["domain"]))["intents"] == sent_intents
    sent_nlu = {b["intent"] for b in part(body, "nlu")["nlu"] if "intent" in b}
    assert {b["intent"] for b in load(unb64(out["nlu"]))["nlu"] if "intent" in b} == sent_nlu


def test_objects_filter_the_export_by_intent_and_entity(client, token):
    post(client, fixture("upload_321_harbor_bank.json"), token)
    intents = sorted(i.name for i in Intent.objects.filter(assistant__name="harbor_bank"))[:2]
    objects = [{"name": intents, "type": "Intent"}, {"name": [], "type": "Entity"}]
    out = ok(post(client, export("harbor_bank", objects=objects), token), "exportAsEncodedYaml")
    nlu = load(unb64(out["nlu"]))["nlu"]
    assert {b["intent"] for b in nlu if "intent" in b} <= set(intents)
    domain = load(unb64(out["domain"]))
    assert domain.get("intents", []) and set(domain["intents"]) <= set(intents)
    assert not domain.get("entities")


def test_an_assistant_made_in_studio_exports_what_rasa_download_needs(client, make_user):
    """`rasa studio download` stops when config or endpoints is empty; a new assistant has a
    starter config.yml and no endpoints.yml yet."""
    from apps.projects import services

    user = make_user("maker", Role.DEVELOPER)
    services.create_assistant(name="fresh", created_by=user, starter_config=True)
    token = ApiToken.issue(user, "cli")[1]
    out = ok(post(client, export("fresh"), token), "exportAsEncodedYaml")
    assert load(unb64(out["config"]))["assistant_id"] == "fresh"
    endpoints = unb64(out["endpoints"])
    assert endpoints.strip() and load(endpoints) is None  # a comment: no endpoints configured
