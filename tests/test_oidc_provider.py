"""Single sign-on against a real OpenID Connect provider (tests/oidc/provider.mjs), without a
browser: the provider's pages are driven with requests, Studio's with the test client, and
Studio talks to the provider over HTTP for the tokens, the keys and the userinfo."""

from __future__ import annotations

from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from django.contrib.auth.models import Group

from apps.accounts.models import AssistantRole, User
from apps.accounts.roles import Role
from tests.support.oidc import keycloak_account, running_provider

pytestmark = [pytest.mark.slow]

STUDIO = "http://testserver"


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    with running_provider([f"{STUDIO}/oidc/callback/"], tmp_path_factory.mktemp("idp")) as idp:
        yield idp


@pytest.fixture
def sso(provider, settings):
    """Single sign-on switched on against the provider; returns a function to change the
    settings' environment (e.g. OIDC_ROLES_CLAIM)."""

    def configure(**env):
        for name, value in provider.settings(**env).items():
            setattr(settings, name, value)

    configure()
    return configure


def sso_login(client, username, password="pw"):
    """Click "Log in with single sign-on", sign in at the provider, come back to Studio.
    Returns Studio's answer to the callback."""
    start = client.get("/oidc/authenticate/?next=/users/")
    assert start.status_code == 302, start
    idp = requests.Session()
    form = idp.get(start["Location"], timeout=10)
    assert "Sign in to the identity provider" in form.text, form.text
    answer = idp.post(
        form.url, data={"username": username, "password": password}, allow_redirects=False
    )
    while answer.is_redirect:
        location = urljoin(answer.url, answer.headers["Location"])
        if location.startswith(STUDIO):
            return client.get(location.removeprefix(STUDIO))
        answer = idp.get(location, allow_redirects=False, timeout=10)
    raise AssertionError(f"the provider did not send us back:\n{answer.text}")


def global_role_labels(user):
    return sorted(user.groups.values_list("name", flat=True))


@pytest.mark.django_db
def test_a_new_person_gets_an_account_with_the_role_of_their_keycloak_group(client, provider, sso):
    provider.set_accounts(
        {"fiona": keycloak_account("fiona", groups=["/studio/Flow Builder"], sub="f-123")}
    )

    answer = sso_login(client, "fiona")

    assert answer.status_code == 302
    assert answer["Location"] == "/users/"  # the `next` the login started with
    user = User.objects.get(oidc_subject="f-123")
    assert (user.username, user.email, user.first_name, user.last_name) == (
        "fiona",
        "fiona@example.com",
        "Fiona",
        "Tester",
    )
    assert not user.has_usable_password()
    assert global_role_labels(user) == ["Flow Builder"]
    assert client.get("/users/").status_code == 403  # logged in, and no SuperUser
    assert client.get("/").status_code == 200


@pytest.mark.django_db
def test_each_login_replaces_the_global_roles_and_keeps_assistant_grants(
    client, provider, sso, make_assistant
):
    provider.set_accounts({"sam": keycloak_account("sam", groups=["/SuperUser"])})
    sso_login(client, "sam")
    sam = User.objects.get(username="sam")
    assert global_role_labels(sam) == ["SuperUser"]
    assert client.get("/users/").status_code == 200
    alpha = make_assistant("alpha")
    AssistantRole.objects.create(user=sam, assistant=alpha, role=Role.ANNOTATOR)

    provider.set_accounts(
        {"sam": keycloak_account("sam", groups=["/studio/Business User", "/Conversation Viewer"])}
    )
    client.logout()
    sso_login(client, "sam")

    assert global_role_labels(sam) == ["Business User", "Conversation Viewer"]
    assert list(sam.assistant_roles.values_list("role", flat=True)) == [Role.ANNOTATOR]
    assert client.get("/users/").status_code == 403
    assert User.objects.filter(username__startswith="sam").count() == 1


@pytest.mark.django_db
def test_unknown_groups_grant_nothing_but_the_person_still_logs_in(client, provider, sso):
    provider.set_accounts({"nina": keycloak_account("nina", groups=["/staff", "/other/Admins"])})

    answer = sso_login(client, "nina")

    assert answer.status_code == 302
    assert global_role_labels(User.objects.get(username="nina")) == []
    welcome = client.get("/")
    assert b"Ask a SuperUser to grant you one" in welcome.content


@pytest.mark.django_db
def test_realm_roles_are_read_from_a_claim_path(client, provider, sso):
    sso(OIDC_ROLES_CLAIM="realm_access.roles")
    provider.set_accounts(
        {"dev": keycloak_account("dev", groups=["/SuperUser"], realm_roles=["Developer"])}
    )

    sso_login(client, "dev")

    assert global_role_labels(User.objects.get(username="dev")) == ["Developer"]


@pytest.mark.django_db
def test_a_studio_account_is_linked_by_verified_email_only(client, provider, sso, make_user):
    ada = make_user("ada", Role.DEVELOPER, email="ada@example.com")
    make_user("bob", email="bob@example.com")
    provider.set_accounts(
        {
            "ada.l": keycloak_account("ada.l", email="ada@example.com", groups=["/Developer"]),
            "bob": keycloak_account("bob", email="bob@example.com", email_verified=False),
        }
    )

    sso_login(client, "ada.l")
    ada.refresh_from_db()
    assert ada.oidc_subject == "kc-ada.l"
    assert ada.username == "ada"  # the Studio account keeps its name
    assert ada.has_usable_password()

    client.logout()
    sso_login(client, "bob")
    assert User.objects.get(username="bob").oidc_subject == ""
    assert User.objects.get(username="bob-2").oidc_subject == "kc-bob"


@pytest.mark.django_db
def test_a_deactivated_account_is_refused(client, provider, sso, make_user):
    provider.set_accounts({"eve": keycloak_account("eve", groups=["/SuperUser"])})
    eve = make_user("eve", is_active=False, oidc_subject="kc-eve")

    answer = sso_login(client, "eve")

    assert answer.status_code == 302
    assert answer["Location"] == "/login/"
    assert "_auth_user_id" not in client.session
    page = client.get("/login/")
    assert b"Your Studio account is deactivated" in page.content
    assert global_role_labels(eve) == []  # nothing changed


@pytest.mark.django_db
def test_logging_out_leaves_the_provider_too(client, provider, sso):
    provider.set_accounts({"lou": keycloak_account("lou")})
    sso_login(client, "lou")

    answer = client.post("/logout/")

    assert answer.status_code == 302
    target = urlsplit(answer["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{provider.issuer}/session/end"
    query = parse_qs(target.query)
    assert query["post_logout_redirect_uri"] == [f"{STUDIO}/login/"]
    assert query["id_token_hint"][0].count(".") == 2  # a JWT
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_a_wrong_password_at_the_provider_goes_nowhere(client, provider, sso):
    provider.set_accounts({"zoe": keycloak_account("zoe")})
    start = client.get("/oidc/authenticate/")
    idp = requests.Session()
    form = idp.get(start["Location"], timeout=10)

    answer = idp.post(form.url, data={"username": "zoe", "password": "nope"}, timeout=10)

    assert "Invalid username or password." in answer.text
    assert not User.objects.filter(username="zoe").exists()
    assert not Group.objects.filter(user__username="zoe").exists()
