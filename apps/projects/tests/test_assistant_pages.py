import pytest
from django.urls import reverse

from apps.accounts.roles import Role
from apps.projects.models import Assistant


def create(client, **data):
    payload = {"name": "pizza", "mode": "modern", "language": "en", "description": ""} | data
    return client.post(reverse("projects:create"), payload)


def test_it_creates_an_assistant_and_opens_it(admin_client, admin_user):
    response = create(admin_client, name="pizza_shop", description="Orders pizza")
    assistant = Assistant.objects.get(name="pizza_shop")
    assert response.status_code == 302
    # A SuperUser lands on the flows, as in Rasa Studio (LANDING_PAGES).
    assert response["Location"] == reverse("flows:list", args=["pizza_shop"])
    assert assistant.created_by == admin_user
    assert assistant.api_id is not None
    page = admin_client.get(reverse("projects:overview", args=["pizza_shop"]))
    assert b"pizza_shop" in page.content and str(assistant.api_id).encode() in page.content


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("my bot", "no spaces"),
        ("-bot", "starting with a letter or digit"),
        ("bot/x", "no spaces"),
        ("b" * 129, "at most 128 characters"),
        ("", "This field is required"),
        ("bötchen", "no spaces"),
    ],
)
def test_it_rejects_an_invalid_name_at_the_field(admin_client, name, message):
    response = create(admin_client, name=name)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Assistant.objects.exists()


def test_it_rejects_a_duplicate_name_whatever_its_case(admin_client, make_assistant):
    make_assistant("Pizza")
    response = create(admin_client, name="pizza")
    assert response.status_code == 200
    assert "An assistant called &#x27;pizza&#x27; already exists." in response.content.decode()
    assert Assistant.objects.count() == 1


def test_it_rejects_a_malformed_language(admin_client):
    response = create(admin_client, language="English please")
    assert "Use a language code" in response.content.decode()
    assert not Assistant.objects.exists()


def test_a_business_user_may_not_create(client, make_user):
    client.force_login(make_user("bea", Role.BUSINESS_USER))
    assert create(client).status_code == 403
    assert not Assistant.objects.exists()


def test_the_welcome_page_lists_only_what_the_user_may_see(client, make_user, make_assistant):
    make_assistant("alpha")
    beta = make_assistant("beta")
    client.force_login(make_user("ann", grants={beta: [Role.ANNOTATOR]}))
    page = client.get(reverse("projects:welcome")).content.decode()
    assert "beta" in page and "alpha" not in page
    assert "Create assistant" not in page


def test_a_user_without_roles_is_told_to_ask_for_one(client, make_user, assistant):
    client.force_login(make_user("nobody"))
    page = client.get(reverse("projects:welcome")).content.decode()
    assert "You have no role on any assistant yet" in page
    assert "alpha" not in page


def test_each_role_lands_on_its_page(client, make_user, assistant):
    client.force_login(make_user("viewer", Role.CONVERSATION_VIEWER))
    response = client.get(reverse("projects:open", args=["alpha"]))
    assert response["Location"] == reverse("ingestion:list", args=["alpha"])
    client.force_login(make_user("builder", Role.FLOW_BUILDER))
    response = client.get(reverse("projects:open", args=["alpha"]))
    assert response["Location"] == reverse("flows:list", args=["alpha"])


def test_the_navigation_shows_only_pages_the_role_may_open(client, make_user, assistant):
    client.force_login(make_user("viewer", Role.CONVERSATION_VIEWER))
    page = client.get(reverse("projects:overview", args=["alpha"])).content.decode()
    assert reverse("projects:overview", args=["alpha"]) in page
    assert reverse("projects:settings", args=["alpha"]) not in page
    assert reverse("projects:members", args=["alpha"]) not in page


def test_settings_save_and_reject_bad_values(admin_client, assistant):
    url = reverse("projects:settings", args=["alpha"])
    response = admin_client.post(url, {"mode": "classic", "language": "de", "description": "Hallo"})
    assert response.status_code == 302
    assistant.refresh_from_db()
    assert (assistant.mode, assistant.language, assistant.description) == ("classic", "de", "Hallo")
    response = admin_client.post(url, {"mode": "quantum", "language": "de", "description": ""})
    assert "Select a valid choice" in response.content.decode()
    assistant.refresh_from_db()
    assert assistant.mode == "classic"


def test_delete_needs_the_exact_name(admin_client, assistant):
    url = reverse("projects:delete", args=["alpha"])
    for wrong in ("Alpha", "alph", ""):
        response = admin_client.post(url, {"confirm_name": wrong})
        assert response.status_code == 200
        assert Assistant.objects.filter(name="alpha").exists()
    assert "type alpha exactly" in admin_client.post(url, {"confirm_name": "x"}).content.decode()
    response = admin_client.post(url, {"confirm_name": "alpha"})
    assert response.status_code == 302
    assert not Assistant.objects.filter(name="alpha").exists()


def test_members_grant_and_revoke_a_role_on_one_assistant(admin_client, make_user, make_assistant):
    alpha, beta = make_assistant("alpha"), make_assistant("beta")
    bob = make_user("bob")
    url = reverse("projects:members", args=["alpha"])
    assert admin_client.post(url, {"user": "bob", "role": "flow_builder"}).status_code == 302
    grant = bob.assistant_roles.get()
    assert (grant.assistant, grant.role) == (alpha, "flow_builder")
    duplicate = admin_client.post(url, {"user": "bob", "role": "flow_builder"})
    assert "already has that role" in duplicate.content.decode()
    unknown = admin_client.post(url, {"user": "nobody", "role": "flow_builder"})
    assert "No active account has the username" in unknown.content.decode()
    revoke = reverse("projects:revoke_member", args=["alpha", grant.pk])
    assert admin_client.post(revoke).status_code == 302
    assert not bob.assistant_roles.exists()
    # A grant id from another assistant is not found through this one.
    other = bob.assistant_roles.create(assistant=beta, role="annotator")
    assert (
        admin_client.post(reverse("projects:revoke_member", args=["alpha", other.pk])).status_code
        == 404
    )
