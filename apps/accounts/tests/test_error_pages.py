"""The 403, 404 and 500 pages: styled like the rest, with the navigation, saying what is missing
and who can grant it; htmx requests get the message alone, to show in place."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import include, path, reverse

from apps.accounts.roles import Role
from studio import urls as project_urls

LAYOUT = '<header class="topbar">'


def as_role(make_user, role, **kwargs):
    client = Client()
    client.force_login(make_user(f"u-{role.value}", role, **kwargs))
    return client


def test_a_business_user_creating_a_flow_gets_the_styled_403(make_user, shop):
    client = as_role(make_user, Role.BUSINESS_USER)
    response = client.post(reverse("flows:create", args=[shop.name]), {"name": "x"})
    assert response.status_code == 403
    html = response.content.decode()
    assert LAYOUT in html and 'class="sidebar"' in html  # the assistant's navigation
    assert f'href="{reverse("flows:list", args=[shop.name])}"' in html
    assert f'href="{reverse("training:try", args=[shop.name])}"' in html
    assert (
        "Your role Business User on shop does not let you edit the flows, responses, slots and "
        "custom actions."
    ) in html
    assert (
        "This needs the role Developer, Flow Builder or SuperUser on shop: ask a SuperUser of "
        "shop or a global SuperUser to grant it on the assistant&#x27;s Members page."
    ) in html
    assert "Back to shop" in html


def test_a_conversation_viewer_opening_the_flows_gets_the_styled_403(make_user, shop):
    client = as_role(make_user, Role.CONVERSATION_VIEWER)
    response = client.get(reverse("flows:list", args=[shop.name]))
    assert response.status_code == 403
    html = response.content.decode()
    assert LAYOUT in html
    assert f'href="{reverse("ingestion:list", args=[shop.name])}"' in html  # its own pages
    assert f'href="{reverse("flows:list", args=[shop.name])}"' not in html
    assert (
        "Your role Conversation Viewer on shop does not let you view the flows, responses, "
        "slots and custom actions."
    ) in html
    assert "Developer, Flow Builder, NLU Editor, Business User or SuperUser on shop" in html


def test_a_role_granted_on_the_assistant_only_is_named_too(make_user, shop):
    client = Client()
    client.force_login(make_user("ann", grants={shop: [Role.ANNOTATOR, Role.CONVERSATION_VIEWER]}))
    html = client.get(reverse("flows:slots", args=[shop.name])).content.decode()
    assert "Your roles Annotator and Conversation Viewer on shop does not let you" in html


def test_a_global_page_says_a_global_superuser_grants_it(make_user):
    client = as_role(make_user, Role.DEVELOPER)
    response = client.get(reverse("accounts:user_list"))
    assert response.status_code == 403
    html = response.content.decode()
    assert LAYOUT in html and "Log out" in html
    assert "Your role does not let you manage users and their roles." in html
    assert "This needs the role SuperUser held for all of Studio: ask a global SuperUser" in html


@pytest.mark.parametrize("debug", [True, False], ids=["DEBUG", "production"])
def test_no_such_assistant_is_the_styled_404_with_debug_too(settings, make_user, shop, debug):
    settings.DEBUG = debug
    client = as_role(make_user, Role.FLOW_BUILDER)
    response = client.get("/a/nope/flows")
    assert response.status_code == 404
    html = response.content.decode()
    assert LAYOUT in html and "Log out" in html
    assert "There is no assistant called “nope” that you have a role on." in html
    assert "a SuperUser of that assistant or a global SuperUser can give you a role on it" in html
    assert "URLconf" not in html  # not Django's list of every URL pattern


def test_an_assistant_without_a_role_on_it_looks_missing(make_user, make_assistant, shop):
    other = make_assistant("other")
    client = Client()
    client.force_login(make_user("elsewhere", grants={other: [Role.SUPERUSER]}))
    hidden = client.get(reverse("flows:list", args=[shop.name]))
    missing = client.get("/a/nosuch/flows")
    assert hidden.status_code == missing.status_code == 404

    def main(response, name):
        html = response.content.decode()
        return html[html.index('<main id="main">') : html.index("</main>")].replace(name, "X")

    assert main(hidden, "shop") == main(missing, "nosuch")


def test_a_missing_page_is_the_styled_404(make_user, shop):
    client = as_role(make_user, Role.FLOW_BUILDER)
    response = client.get(reverse("flows:detail", args=[shop.name, "no_such_flow"]))
    assert response.status_code == 404
    html = response.content.decode()
    assert LAYOUT in html and "Page not found" in html
    assert "Nothing is at /a/shop/flows/no_such_flow/." in html


def test_htmx_gets_the_403_message_alone_marked_to_show_in_place(make_user, shop):
    client = as_role(make_user, Role.BUSINESS_USER)
    response = client.post(
        reverse("flows:step_edit", args=[shop.name, "order"]) + "?path=steps[0]",
        {"slot": "amount"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 403
    assert response["X-Studio-Error"] == "403"
    html = response.content.decode()
    assert "<html" not in html and LAYOUT not in html
    assert 'role="alert"' in html
    assert "Your role Business User on shop does not let you edit the flows" in html


def test_htmx_gets_the_404_message_alone(make_user, shop):
    client = as_role(make_user, Role.BUSINESS_USER)
    response = client.get("/a/nope/flows", headers={"HX-Request": "true"})
    assert response.status_code == 404
    assert response["X-Studio-Error"] == "404"
    assert "<html" not in response.content.decode()


# A page that fails, next to every real URL and with the project's own error handlers.
def fails(request):
    raise RuntimeError("something broke")


urlpatterns = [path("fails", fails), path("", include("studio.urls"))]
handler500 = getattr(project_urls, "handler500", "django.views.defaults.server_error")


@pytest.mark.urls(__name__)
def test_a_server_error_is_the_styled_500(db):
    client = Client(raise_request_exception=False)
    response = client.get("/fails")
    assert response.status_code == 500
    html = response.content.decode()
    assert LAYOUT in html and 'href="/static/studio/studio.css"' in html
    assert "Something went wrong" in html and "Reload the page and try again" in html
    assert "something broke" not in html


def test_the_500_page_needs_no_database(rf, django_db_blocker):
    from apps.accounts.errors import server_error

    with django_db_blocker.block():  # any query would raise here
        response = server_error(rf.get("/a/shop/flows"))
    assert response.status_code == 500
    assert "Something went wrong" in response.content.decode()


def test_every_capability_has_words():
    from apps.accounts.explain import CAPABILITY_WORDS
    from apps.accounts.roles import Cap

    assert set(CAPABILITY_WORDS) == set(Cap)


def test_the_role_a_403_names_is_the_one_on_that_assistant(make_user, make_assistant, shop):
    """A Flow Builder on another assistant is only a Business User here."""
    other = make_assistant("other")
    client = Client()
    user = make_user("mixed", grants={other: [Role.FLOW_BUILDER], shop: [Role.BUSINESS_USER]})
    client.force_login(user)
    html = client.get(reverse("flows:create", args=[shop.name])).content.decode()
    assert "Your role Business User on shop does not let you edit" in html
