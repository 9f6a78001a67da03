"""An assistant whose flows call sub-agents and an MCP tool: imported as it is, drawn on the
canvas as calls of something outside the assistant, edited in the step forms, exported with
its sub_agents/ files and call steps unchanged."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.flows.models import Flow
from apps.flows.tests.conftest import drawn
from apps.projects import content
from engine import formats
from tests.support.rasa_projects import project_texts

pytestmark = pytest.mark.django_db


def project_files() -> dict[str, str]:
    return project_texts("sub-agents")


@pytest.fixture
def outdoor(make_assistant):
    assistant = make_assistant("outdoor")
    content.import_files(assistant, project_files())
    return assistant


def canvas(client, assistant, flow: str) -> str:
    response = client.get(reverse("flows:detail", args=[assistant.name, flow]))
    assert response.status_code == 200
    return response.content.decode()


def steps_of(assistant, flow: str) -> list:
    return Flow.objects.get(assistant=assistant, name=flow).definition["steps"]


def test_the_import_accepts_the_calls_and_keeps_the_sub_agents(outdoor):
    files = outdoor.files
    assert sorted(p for p in files.other_files if p.startswith("sub_agents/")) == [
        "sub_agents/product_expert/config.yml",
        "sub_agents/product_expert/prompt.jinja2",
        "sub_agents/returns_desk/config.yml",
    ]
    errors = list(formats.validate_project(content.export_project(outdoor)))
    assert [str(p) for p in errors if p.severity == "error"] == []


def test_the_export_keeps_sub_agent_files_and_call_steps_unchanged(outdoor):
    exported = content.export_files(outdoor)
    originals = project_files()
    for path in (
        "sub_agents/product_expert/config.yml",
        "sub_agents/product_expert/prompt.jinja2",
        "sub_agents/returns_desk/config.yml",
    ):
        assert exported[path] == originals[path]
    before = {f.id: f.steps for f in formats.load_project_files(originals).flows}
    after = {f.id: f.steps for f in formats.load_project_files(exported).flows}
    for flow in ("ask_product_expert", "return_item", "check_order_status"):
        assert after[flow] == before[flow]
    assert after["return_item"][1]["exit_if"] == ["slots.return_label is not null"]


def test_the_canvas_shows_a_sub_agent_call_as_an_external_agent(admin_client, outdoor):
    page = canvas(admin_client, outdoor, "ask_product_expert")
    assert "kind-agent" in page
    assert "Calls sub-agent product_expert" in page
    assert "Answers questions about the outdoor gear in the shop&#x27;s catalogue" in page
    assert "Runs outside the assistant (sub_agents/product_expert/)" in page
    assert "does not exist" not in page


def test_the_canvas_shows_the_exit_condition_of_a_sub_agent_call(admin_client, outdoor):
    page = canvas(admin_client, outdoor, "return_item")
    assert "Calls sub-agent returns_desk" in page
    assert "Exits when slots.return_label is not null" in page


def test_the_canvas_shows_an_mcp_tool_call_with_its_mapping(admin_client, outdoor):
    page = canvas(admin_client, outdoor, "check_order_status")
    assert "kind-mcp" in page
    assert "Calls MCP tool get_order_status" in page
    assert "On MCP server orders" in page
    assert "order_number → order_id" in page
    assert "result.structuredContent.status → order_status" in page


def test_a_flow_call_stays_a_plain_call_card(admin_client, outdoor):
    page = canvas(admin_client, outdoor, "opening_hours")
    assert "kind-call" in page and "kind-agent" not in page
    assert "say_opening_hours" in page


def step_url(assistant, flow: str, **query: str) -> str:
    url = reverse(f"flows:step_{'add' if 'kind' in query else 'edit'}", args=[assistant.name, flow])
    return url + "?" + "&".join(f"{k}={v}" for k, v in query.items())


def test_the_call_form_offers_the_sub_agents(admin_client, outdoor):
    page = admin_client.get(step_url(outdoor, "return_item", path="steps[1]")).content.decode()
    assert '<option value="returns_desk" selected>returns_desk (sub-agent)</option>' in page
    assert '<option value="product_expert">product_expert (sub-agent)</option>' in page


def test_editing_a_sub_agent_call_keeps_its_exit_condition(admin_client, outdoor):
    response = admin_client.post(
        step_url(outdoor, "return_item", path="steps[1]"),
        {
            "flow": "returns_desk",
            "step_id": "hand_over_return",
            **drawn(outdoor, "return_item", "steps[1]"),
        },
    )
    assert response.status_code == 302, response.content.decode()
    assert steps_of(outdoor, "return_item")[1] == {
        "id": "hand_over_return",
        "call": "returns_desk",
        "exit_if": ["slots.return_label is not null"],
    }


def test_editing_an_mcp_call_keeps_its_server_and_mapping(admin_client, outdoor):
    before = steps_of(outdoor, "check_order_status")[1]
    response = admin_client.post(
        step_url(outdoor, "check_order_status", path="steps[1]"),
        {
            "flow": "get_order_status",
            "step_id": "lookup",
            **drawn(outdoor, "check_order_status", "steps[1]"),
        },
    )
    assert response.status_code == 302, response.content.decode()
    assert steps_of(outdoor, "check_order_status")[1] == {"id": "lookup", **before}


def test_a_new_call_of_a_sub_agent_can_be_added(admin_client, outdoor):
    response = admin_client.post(
        step_url(outdoor, "opening_hours", list="steps", index="1", kind="call"),
        {"flow": "product_expert", **drawn(outdoor, "opening_hours")},
    )
    assert response.status_code == 302, response.content.decode()
    assert steps_of(outdoor, "opening_hours") == [
        {"call": "say_opening_hours"},
        {"call": "product_expert"},
    ]


def test_a_call_of_an_unknown_name_is_refused_in_the_form(admin_client, outdoor):
    response = admin_client.post(
        step_url(outdoor, "opening_hours", list="steps", index="1", kind="call"),
        {"flow": "product_expertt", **drawn(outdoor, "opening_hours")},
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert len(steps_of(outdoor, "opening_hours")) == 1


def test_removing_a_sub_agent_makes_its_call_an_error_on_the_canvas(admin_client, outdoor):
    files = outdoor.files
    del files.other_files["sub_agents/product_expert/config.yml"]
    files.save()
    page = canvas(admin_client, outdoor, "ask_product_expert")
    assert "called flow &#x27;product_expert&#x27; does not exist" in page
    assert "kind-agent" not in page


def test_a_new_flow_cannot_take_a_sub_agents_name(admin_client, outdoor):
    response = admin_client.post(
        reverse("flows:create", args=[outdoor.name]),
        {"name": "returns_desk", "description": "Returns"},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "sub-agent name &#x27;returns_desk&#x27; is also the id of a flow" in page
    assert not Flow.objects.filter(assistant=outdoor, name="returns_desk").exists()
