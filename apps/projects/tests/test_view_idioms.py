"""What every app's views share: `request.caps` and `caps` in templates, the confirm-by-name
form, the form mixin for refused content changes, and `render_form`."""

from types import SimpleNamespace

import pytest
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import reverse

from apps.accounts.roles import Cap, Role
from apps.projects.access import Caps, can_cancel_training
from apps.projects.forms import ConfirmNameForm
from apps.projects.shortcuts import render_form

pytestmark = pytest.mark.django_db


def test_templates_ask_caps_by_name():
    template = Template(
        "{% if caps.edit_flows %}edit{% endif %}|{% if caps.train %}train{% endif %}"
    )
    assert template.render(Context({"caps": Caps({Cap.EDIT_FLOWS})})) == "edit|"
    assert Cap.EDIT_FLOWS in Caps({Cap.EDIT_FLOWS}) and Cap.TRAIN not in Caps({Cap.EDIT_FLOWS})


def test_an_assistant_page_gets_the_users_caps_on_that_assistant(client, make_user, make_assistant):
    alpha = make_assistant("alpha")
    url = reverse("projects:overview", args=[alpha.name])
    client.force_login(make_user("bu", Role.BUSINESS_USER))
    caps = client.get(url).context["caps"]
    assert Cap.VIEW_FLOWS in caps and Cap.EDIT_FLOWS not in caps
    client.force_login(make_user("fb", Role.FLOW_BUILDER))
    caps = client.get(url).context["caps"]
    assert Cap.EDIT_FLOWS in caps and Cap.MANAGE_SETTINGS not in caps


def test_edit_controls_follow_the_caps(client, make_user, make_assistant):
    alpha = make_assistant("alpha")
    new_flow = reverse("flows:create", args=[alpha.name])
    client.force_login(make_user("bu", Role.BUSINESS_USER))
    assert new_flow not in client.get(reverse("flows:list", args=[alpha.name])).content.decode()
    client.force_login(make_user("fb", Role.FLOW_BUILDER))
    assert new_flow in client.get(reverse("flows:list", args=[alpha.name])).content.decode()


def test_whoever_asked_for_a_training_or_a_superuser_may_cancel_it(make_user):
    asker, other = make_user("asker", Role.DEVELOPER), make_user("other", Role.DEVELOPER)
    boss = make_user("boss", Role.SUPERUSER)
    job = SimpleNamespace(requested_by_id=asker.pk)
    assert can_cancel_training(asker, job) and can_cancel_training(boss, job)
    assert not can_cancel_training(other, job)


def test_confirming_by_name_needs_the_exact_name():
    assert ConfirmNameForm({"confirm_name": " order "}, name="order").is_valid()
    form = ConfirmNameForm({"confirm_name": "Order"}, name="order", mismatch="No.")
    assert not form.is_valid() and form.errors["confirm_name"] == ["No."]
    default = ConfirmNameForm({"confirm_name": "x"}, name="order")
    assert not default.is_valid()
    assert default.errors["confirm_name"] == ["Type order exactly to delete it."]
    short = ConfirmNameForm(name="order", label="Type it", max_length=200)
    assert short.fields["confirm_name"].label == "Type it"
    assert short.fields["confirm_name"].max_length == 200


def test_problems_go_on_their_field_or_on_the_form():
    problem = SimpleNamespace
    form = ConfirmNameForm({"confirm_name": "order"}, name="order")
    assert form.is_valid()
    form.add_problems(
        [problem(message="one", path="a"), problem(message="two", path="b")],
        field_of=lambda p: "confirm_name" if p.path == "a" else "no_such_field",
        prefix="In use: ",
    )
    assert form.errors["confirm_name"] == ["In use: one"]
    assert form.non_field_errors() == ["In use: two"]


def test_a_refused_post_answers_400():
    factory = RequestFactory()
    assert render_form(factory.get("/"), "form_fields.html", {}).status_code == 200
    assert render_form(factory.post("/"), "form_fields.html", {}).status_code == 400
