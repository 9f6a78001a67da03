"""Issue 17, items 4 and 5: the Patterns tab (customise, reset) and flow status (draft /
published / changed since published, bulk, training with only published flows)."""

import copy
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from apps.accounts.models import ApiToken
from apps.accounts.roles import Role
from apps.flows import services
from apps.flows.models import Flow, FlowVersion
from apps.flows.services import patterns, status
from apps.flows.tests.conftest import drawn
from apps.projects import content
from apps.training import services as training
from apps.training.models import TrainingJob
from apps.training.tests.conftest import TINY
from engine import formats

pytestmark = pytest.mark.django_db


@pytest.fixture
def tiny(make_assistant):
    assistant = make_assistant("tiny")
    content.import_files(assistant, TINY)
    return assistant


@pytest.fixture(autouse=True)
def isolated_storage(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "storage"
    settings.STUDIO_EVENT_SPOOL_DIR = tmp_path / "events"


def _flow(assistant, name) -> Flow:
    return Flow.objects.get(assistant=assistant, name=name)


def _edit_steps(flow: Flow, steps: list) -> Flow:
    definition = copy.deepcopy(flow.definition)
    definition["steps"] = steps
    return services.save_flow(flow, definition, user=None, summary="Edited")


# --------------------------------------------------------------------------------------------
# Patterns


def test_the_patterns_tab_lists_rasa_patterns_with_their_descriptions(ed_client, shop):
    page = ed_client.get(reverse("flows:patterns", args=["shop"])).content.decode()
    defaults = formats.default_pattern_definitions()
    for name in (*defaults, *formats.defaults.DEFAULT_PATTERNS):
        assert f'id="pattern-{name}"' in page
    assert defaults["pattern_correction"]["description"] in page
    assert 'aria-current="page">Patterns</a>' in page
    assert "customised</span>" not in page


def test_a_pattern_page_shows_its_default_steps(ed_client, shop):
    page = ed_client.get(
        reverse("flows:pattern", args=["shop", "pattern_correction"])
    ).content.decode()
    assert "action_correct_flow_slot" in page and "utter_corrected_previous_input" in page
    assert "If <code>not context.is_reset_only</code>" in page and "Else" in page
    assert "Customise</button>" in page
    missing = ed_client.get(reverse("flows:pattern", args=["shop", "pattern_nonsense"]))
    assert missing.status_code == 404


def test_customising_creates_the_flow_from_the_default_steps_and_opens_it(ed_client, shop):
    response = ed_client.post(
        reverse("flows:pattern_customise", args=["shop", "pattern_correction"])
    )
    assert response["Location"] == reverse("flows:detail", args=["shop", "pattern_correction"])
    flow = _flow(shop, "pattern_correction")
    default = formats.default_pattern_definitions()["pattern_correction"]
    assert flow.definition["steps"] == default["steps"]
    assert flow.description == default["description"]
    assert status.status_of(flow) == status.DRAFT
    assert FlowVersion.objects.get(assistant=shop, flow_name="pattern_correction").summary == (
        "Customised from the default pattern"
    )
    # Badged on the Patterns tab, and only that one.
    page = ed_client.get(reverse("flows:patterns", args=["shop"])).content.decode()
    assert page.count('class="badge badge-customised">customised</span>') == 1
    row = page.split('id="pattern-pattern_correction"')[1].split("</tr>")[0]
    assert "customised" in row and "Reset to default" in row
    # A customised pattern has a status like any flow, and is published from its row.
    published = ed_client.post(
        reverse("flows:flow_status", args=["shop"]),
        {"publish_one": "pattern_correction", "back": "patterns"},
    )
    assert published["Location"] == reverse("flows:patterns", args=["shop"])
    assert status.status_of(_flow(shop, "pattern_correction")) == status.PUBLISHED
    # A second customise opens the same flow.
    again = ed_client.post(reverse("flows:pattern_customise", args=["shop", "pattern_correction"]))
    assert again["Location"] == response["Location"]
    assert Flow.objects.filter(assistant=shop, name="pattern_correction").count() == 1


def test_every_default_pattern_can_be_customised(shop):
    """The default steps validate as a user flow (context templates, default responses)."""
    for name in patterns.catalogue():
        flow, _warnings = patterns.customise(shop, name)
        assert flow.name == name
    files = content.export_files(shop)
    assert "pattern_collect_information:" in files["data/flows.yml"]
    assert not [
        p for p in formats.validate_project(content.export_project(shop)) if p.severity == "error"
    ]


def test_patterns_are_not_listed_among_the_flows(ed_client, shop):
    patterns.customise(shop, "pattern_chitchat")
    page = ed_client.get(reverse("flows:list", args=["shop"])).content.decode()
    assert "pattern_chitchat" not in page
    assert reverse("flows:detail", args=["shop", "order"]) in page
    searched = ed_client.get(reverse("flows:list", args=["shop"]), {"q": "pattern"})
    assert "pattern_chitchat" not in searched.content.decode()


def test_reset_asks_then_deletes_the_flow_and_keeps_its_history(ed_client, shop):
    flow, _ = patterns.customise(shop, "pattern_chitchat")
    _edit_steps(flow, [{"action": "utter_done"}])
    url = reverse("flows:pattern_reset", args=["shop", "pattern_chitchat"])
    confirm = ed_client.get(url).content.decode()
    assert "Reset pattern_chitchat to default" in confirm and "history stays" in confirm
    assert Flow.objects.filter(name="pattern_chitchat").exists()  # asking changes nothing

    response = ed_client.post(url, drawn(shop, "pattern_chitchat"))
    assert response["Location"] == reverse("flows:patterns", args=["shop"])
    assert not Flow.objects.filter(assistant=shop, name="pattern_chitchat").exists()
    history = list(FlowVersion.objects.filter(assistant=shop, flow_name="pattern_chitchat"))
    assert [v.summary for v in history] == [
        "Reset to the default pattern",
        "Edited",
        "Customised from the default pattern",
    ]
    page = ed_client.get(reverse("flows:patterns", args=["shop"])).content.decode()
    assert "customised</span>" not in page
    # Resetting a pattern that is not customised says so and changes nothing.
    again = ed_client.post(url, follow=True)
    assert "is not customised" in again.content.decode()


def test_a_view_only_role_sees_patterns_read_only(client, make_user, shop):
    viewer = make_user("biz", Role.BUSINESS_USER)
    client.force_login(viewer)
    page = client.get(reverse("flows:pattern", args=["shop", "pattern_chitchat"])).content
    assert b"Customise</button>" not in page
    listing = client.get(reverse("flows:patterns", args=["shop"])).content
    assert b"Customise</button>" not in listing
    response = client.post(reverse("flows:pattern_customise", args=["shop", "pattern_chitchat"]))
    assert response.status_code == 403
    assert not Flow.objects.filter(name="pattern_chitchat").exists()


# --------------------------------------------------------------------------------------------
# Status


def _statuses(assistant) -> dict[str, str]:
    """Each flow's status as the database filter finds it (and as status_of says it)."""
    found = {}
    flows = Flow.objects.filter(assistant=assistant)
    for state in (status.DRAFT, status.PUBLISHED, status.CHANGED):
        for flow in status.filter_status(flows, state):
            assert status.status_of(flow) == state
            found[flow.name] = state
    return found


def test_status_goes_draft_published_changed_published_draft(shop):
    order = _flow(shop, "order")
    assert _statuses(shop) == {"order": "draft", "helper": "draft"}
    status.publish([order])
    assert _statuses(shop)["order"] == "published"
    edited = _edit_steps(_flow(shop, "order"), [{"action": "utter_done"}])
    assert _statuses(shop)["order"] == "changed"
    assert edited.published_definition["steps"] != edited.definition["steps"]
    status.publish([_flow(shop, "order")])
    assert _statuses(shop)["order"] == "published"
    status.unpublish([_flow(shop, "order")])
    assert _statuses(shop) == {"order": "draft", "helper": "draft"}


def test_restoring_the_published_version_makes_the_flow_published_again(shop):
    order = _flow(shop, "order")
    status.publish([order])
    published = FlowVersion.objects.filter(assistant=shop, flow_name="order").first()
    _edit_steps(_flow(shop, "order"), [{"action": "utter_done"}])
    assert _statuses(shop)["order"] == "changed"
    services.restore_version(_flow(shop, "order"), published)
    assert _statuses(shop)["order"] == "published"


def test_the_list_shows_and_filters_by_status(ed_client, shop):
    status.publish([_flow(shop, "order")])
    url = reverse("flows:list", args=["shop"])
    page = ed_client.get(url).content.decode()
    assert re.search(r'flow-status-published"[^>]*>Published<', page)
    assert re.search(r'flow-status-draft"[^>]*>Draft<', page)
    drafts = ed_client.get(url, {"status": "draft"}).content.decode()
    assert "helper" in drafts and reverse("flows:detail", args=["shop", "order"]) not in drafts
    published = ed_client.get(url, {"status": "published"}, HTTP_HX_REQUEST="true")
    text = published.content.decode()
    assert "<html" not in text and reverse("flows:detail", args=["shop", "order"]) in text
    assert reverse("flows:detail", args=["shop", "helper"]) not in text
    changed = ed_client.get(url, {"status": "changed"}).content.decode()
    assert "No flow matches" in changed and "Changed since published" in changed


def test_bulk_publish_and_unpublish(ed_client, shop):
    url = reverse("flows:flow_status", args=["shop"])
    response = ed_client.post(
        url, {"flows": ["order", "helper"], "action": "publish", "status": "draft"}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("flows:list", args=["shop"]) + "?status=draft"
    assert "2 flows published: helper, order." in response.content.decode()
    assert _statuses(shop) == {"order": "published", "helper": "published"}
    again = ed_client.post(url, {"flows": ["order"], "action": "publish"}, follow=True)
    assert "0 flows published. 1 was already published." in again.content.decode()
    ed_client.post(url, {"flows": ["helper"], "action": "unpublish"})
    assert _statuses(shop) == {"order": "published", "helper": "draft"}
    # A row's own Publish button publishes that flow only.
    ed_client.post(url, {"publish_one": "helper"})
    assert _statuses(shop)["helper"] == "published"
    nothing = ed_client.post(url, {"action": "publish"}, follow=True)
    assert "Select the flows" in nothing.content.decode()


def test_view_only_roles_get_no_bulk_actions(client, make_user, shop):
    client.force_login(make_user("biz", Role.BUSINESS_USER))
    page = client.get(reverse("flows:list", args=["shop"])).content.decode()
    assert "Publish selected" not in page and 'name="flows"' not in page
    response = client.post(
        reverse("flows:flow_status", args=["shop"]), {"flows": ["order"], "action": "publish"}
    )
    assert response.status_code == 403 and _statuses(shop)["order"] == "draft"


def test_an_import_keeps_the_published_definition(shop):
    status.publish([_flow(shop, "order")])
    files = content.export_files(shop)
    content.import_files(
        shop,
        {
            **files,
            "data/flows.yml": files["data/flows.yml"].replace("Order something", "Order anything"),
        },
    )
    order = _flow(shop, "order")
    assert order.description == "Order anything"
    assert order.published_definition["description"] == "Order something"
    assert status.status_of(order) == status.CHANGED


# --------------------------------------------------------------------------------------------
# Polish: the list's hover and duplicate


def test_the_list_shows_a_flows_description_on_hover(ed_client, shop):
    long = "x" * 1900
    flow = _flow(shop, "helper")
    services.save_flow(flow, {**flow.definition, "description": long}, user=None, summary="d")
    page = ed_client.get(reverse("flows:list", args=["shop"])).content.decode()
    assert 'title="Order something"' in page  # the name's link carries the description
    assert f'title="{"x" * 499}…"' in page  # long descriptions are cut, in the cell too
    assert long not in page


def test_a_duplicate_gets_its_own_display_name_and_a_shared_trigger_warning(ed_client, shop):
    url = reverse("flows:duplicate", args=["shop", "order"])
    response = ed_client.post(url, {"name": "order_copy"}, follow=True)
    text = response.content.decode()
    copy_ = _flow(shop, "order_copy")
    assert copy_.title == "place an order (copy)" == copy_.definition["name"]
    assert "same NLU trigger as order (intent order)" in text
    assert status.status_of(copy_) == status.DRAFT
    second = ed_client.post(url, {"name": "order_copy2"}, follow=True).content.decode()
    assert "same NLU trigger as order, order_copy (intent order)" in second
    assert _flow(shop, "order_copy2").title == "place an order (copy 2)"
    quiet = ed_client.post(
        reverse("flows:duplicate", args=["shop", "helper"]), {"name": "helper2"}, follow=True
    )
    assert "same NLU trigger" not in quiet.content.decode()
    assert _flow(shop, "helper2").title == "helper (copy)"


# --------------------------------------------------------------------------------------------
# Training with only published flows


def _published_tiny(tiny):
    """say_hello published, then edited (a new response); say_bye a draft."""
    hello = _flow(tiny, "say_hello")
    status.publish([hello])
    _edit_steps(hello, [{"action": "utter_bye"}])
    return tiny


def test_training_only_published_flows_trains_the_published_definitions(tiny, admin_user):
    _published_tiny(tiny)
    job = training.request_training(tiny, admin_user, include_drafts=False)
    flows_yml = job.version.input_files["data/flows.yml"]
    trained = formats.load_project_files({"data/flows.yml": flows_yml}).flows
    assert [f.id for f in trained] == ["say_hello"]  # the draft say_bye is left out
    assert trained[0].steps[0]["action"] == "utter_hello"  # as published, not as edited
    everything = training.request_training(tiny, admin_user)  # the default: drafts included
    trained = formats.load_project_files(
        {"data/flows.yml": everything.version.input_files["data/flows.yml"]}
    ).flows
    assert [f.id for f in trained] == ["say_hello", "say_bye"]
    assert trained[0].steps[0]["action"] == "utter_bye"


def test_a_link_into_a_left_out_draft_is_a_clear_validation_error(tiny, admin_user):
    hello = _flow(tiny, "say_hello")
    hello = _edit_steps(hello, [{"action": "utter_hello"}, {"link": "say_bye"}])
    status.publish([hello])
    with pytest.raises(training.TrainingRefused) as refused:
        training.request_training(tiny, admin_user, include_drafts=False)
    messages = [p.message for p in refused.value.problems]
    assert any("links to flow 'say_bye', which is a draft" in m for m in messages), messages
    assert not TrainingJob.objects.exists()
    status.publish([_flow(tiny, "say_bye")])
    assert training.request_training(tiny, admin_user, include_drafts=False).pk


def test_only_published_with_nothing_published_is_refused(tiny, admin_user):
    with pytest.raises(training.TrainingRefused) as refused:
        training.request_training(tiny, admin_user, include_drafts=False)
    assert refused.value.problems[-1].message == training.NOTHING_PUBLISHED


def test_the_train_page_offers_the_choice(admin_client, tiny):
    _published_tiny(tiny)
    url = reverse("training:train", args=["tiny"])
    page = admin_client.get(url).content.decode()
    assert "Only published flows, each as it was last published" in page
    admin_client.post(url, {"name": "pub", "flows": "published"})
    admin_client.post(url, {"name": "all"})
    published, everything = TrainingJob.objects.order_by("pk")
    assert "say_bye" not in published.version.input_files["data/flows.yml"]
    assert "say_bye" in everything.version.input_files["data/flows.yml"]


def test_the_api_and_the_command_train_only_published_flows(client, admin_user, tiny):
    _published_tiny(tiny)
    _, secret = ApiToken.issue(admin_user, "ci")
    response = client.post(
        "/api/v1/assistants/tiny/train",
        {"include_drafts": False},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.status_code == 202
    job = TrainingJob.objects.get(pk=response.json()["id"])
    assert "say_bye" not in job.version.input_files["data/flows.yml"]

    out = StringIO()
    call_command("train", "tiny", "--only-published", stdout=out)
    assert "of only the published flows" in out.getvalue()
    latest = TrainingJob.objects.order_by("-pk").first()
    assert "say_bye" not in latest.version.input_files["data/flows.yml"]
    status.unpublish(Flow.objects.filter(assistant=tiny))
    with pytest.raises(CommandError, match="nothing was queued"):
        call_command("train", "tiny", "--only-published", stderr=StringIO())


def test_the_canvas_shows_the_status_and_publishes_the_flow(ed_client, shop):
    flow = Flow.objects.filter(assistant=shop).exclude(name__startswith="pattern_").first()
    page = ed_client.get(reverse("flows:detail", args=[shop.name, flow.name])).content.decode()
    assert '<span class="status flow-status-draft" id="flow-status">Draft</span>' in page
    answer = ed_client.post(
        reverse("flows:flow_status", args=[shop.name]),
        {"publish_one": flow.name, "back": "canvas", **drawn(shop, flow.name)},
    )
    assert answer.status_code == 302
    assert answer["Location"] == reverse("flows:detail", args=[shop.name, flow.name])
    page = ed_client.get(answer["Location"]).content.decode()
    assert '<span class="status flow-status-published" id="flow-status">Published</span>' in page
    assert 'name="publish_one"' not in page
