"""Single sign-on: claims to roles, accounts from claims, and the pages around it. The whole
login against a real provider is in tests/test_oidc_provider.py and tests/browser/."""

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import SuspiciousOperation

from apps.accounts.models import AssistantRole, User
from apps.accounts.oidc import (
    OIDCBackend,
    claim_value,
    free_username,
    provider_logout_url,
    role_of_group,
    roles_from_claims,
)
from apps.accounts.roles import Role
from tests.support.oidc import studio_settings

ENDPOINTS = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "https://idp.example.com/auth",
    "OIDC_OP_TOKEN_ENDPOINT": "https://idp.example.com/token",
    "OIDC_OP_USER_ENDPOINT": "https://idp.example.com/userinfo",
    "OIDC_OP_JWKS_ENDPOINT": "https://idp.example.com/certs",
}


@pytest.fixture
def sso(settings):
    def configure(**env):
        for name, value in studio_settings(ENDPOINTS, **env).items():
            setattr(settings, name, value)

    configure()
    return configure


@pytest.mark.parametrize(
    ("name", "role"),
    [
        ("SuperUser", Role.SUPERUSER),
        ("/SuperUser", Role.SUPERUSER),
        ("/studio/Flow Builder", Role.FLOW_BUILDER),
        ("/a/b/Conversation Viewer/", Role.CONVERSATION_VIEWER),
        ("nlu editor", Role.NLU_EDITOR),
        ("Flow Builders", None),
        ("/Flow Builder/staff", None),
        ("default-roles-studio", None),
        ("", None),
    ],
)
def test_a_group_or_role_name_maps_to_a_role_by_its_last_segment(name, role):
    assert role_of_group(name) == role


def test_roles_come_from_the_named_claims_and_claim_paths():
    claims = {
        "groups": ["/SuperUser", "/staff", 7, None],
        "realm_access": {"roles": ["offline_access", "Developer"]},
        "resource_access": {"studio": {"roles": "Annotator"}},
        "https://example.com/roles": ["Business User"],
    }
    assert roles_from_claims(claims, ["groups"]) == {Role.SUPERUSER}
    assert roles_from_claims(claims, ["realm_access.roles"]) == {Role.DEVELOPER}
    assert roles_from_claims(claims, ["resource_access.studio.roles"]) == {Role.ANNOTATOR}
    assert roles_from_claims(claims, ["https://example.com/roles"]) == {Role.BUSINESS_USER}
    assert roles_from_claims(claims, ["groups", "realm_access.roles"]) == {
        Role.SUPERUSER,
        Role.DEVELOPER,
    }
    assert roles_from_claims(claims, ["missing", "realm_access.missing", "groups.x"]) == set()
    assert roles_from_claims({"groups": {"SuperUser": True}}, ["groups"]) == set()
    assert claim_value({"a": {"b": 1}}, "a.b") == 1


def claims(username="ada", **extra):
    return {
        "sub": f"kc-{username}",
        "preferred_username": username,
        "email": f"{username}@example.com",
        "email_verified": True,
        "given_name": "Ada",
        "family_name": "Lovelace",
        "groups": ["/studio/Flow Builder"],
        **extra,
    }


def roles_of(user):
    return sorted(user.groups.values_list("name", flat=True))


@pytest.mark.django_db
def test_it_creates_an_account_from_the_claims(sso):
    user = OIDCBackend().user_for_claims(claims())

    user.refresh_from_db()
    assert (user.username, user.email, user.first_name, user.last_name, user.oidc_subject) == (
        "ada",
        "ada@example.com",
        "Ada",
        "Lovelace",
        "kc-ada",
    )
    assert not user.has_usable_password()
    assert roles_of(user) == ["Flow Builder"]


@pytest.mark.django_db
def test_it_finds_the_account_by_subject_and_replaces_only_its_role_groups(sso, make_assistant):
    backend = OIDCBackend()
    user = backend.user_for_claims(claims())
    user.groups.add(Group.objects.create(name="Beta testers"))
    alpha = make_assistant("alpha")
    AssistantRole.objects.create(user=user, assistant=alpha, role=Role.ANNOTATOR)

    again = backend.user_for_claims(
        claims(preferred_username="renamed", email="new@example.com", groups=["/SuperUser"])
    )

    assert again.pk == user.pk
    assert again.username == "ada"
    assert again.email == "new@example.com"
    assert roles_of(again) == ["Beta testers", "SuperUser"]
    assert again.global_roles() == {Role.SUPERUSER}
    assert list(again.assistant_roles.values_list("role", flat=True)) == [Role.ANNOTATOR]

    backend.user_for_claims(claims(groups=[]))
    assert roles_of(again) == ["Beta testers"]
    backend.user_for_claims({"sub": "kc-ada"})  # no groups claim at all: no role either
    assert User.objects.get(pk=user.pk).global_roles() == frozenset()


@pytest.mark.django_db
def test_it_links_by_email_only_when_the_provider_verified_it(sso, make_user):
    local = make_user("ada", email="ADA@example.com")
    other = make_user("grace", email="grace@example.com")
    backend = OIDCBackend()

    assert backend.user_for_claims(claims()).pk == local.pk
    local.refresh_from_db()
    assert local.oidc_subject == "kc-ada"

    unverified = backend.user_for_claims(claims("grace", email_verified=False))
    assert unverified.pk != other.pk
    assert unverified.username == "grace-2"
    also_unverified = backend.user_for_claims(claims("hopper", email_verified=None))
    assert also_unverified.username == "hopper"


@pytest.mark.django_db
def test_it_never_takes_over_an_account_linked_to_another_subject(sso, make_user):
    make_user("ada", email="ada@example.com", oidc_subject="kc-somebody-else")

    user = OIDCBackend().user_for_claims(claims())

    assert (user.username, user.oidc_subject) == ("ada-2", "kc-ada")


@pytest.mark.django_db
def test_it_refuses_ambiguous_emails_and_missing_subjects(sso, make_user):
    make_user("a1", email="ada@example.com")
    make_user("a2", email="ada@example.com")
    with pytest.raises(SuspiciousOperation):
        OIDCBackend().user_for_claims(claims())
    with pytest.raises(SuspiciousOperation):
        OIDCBackend().user_for_claims({"preferred_username": "x"})
    assert User.objects.count() == 2


@pytest.mark.django_db
def test_a_deactivated_account_is_refused_and_left_alone(sso, make_user):
    eve = make_user("eve", Role.DEVELOPER, is_active=False, oidc_subject="kc-eve")

    assert OIDCBackend().user_for_claims(claims("eve", groups=["/SuperUser"])) is None
    assert roles_of(eve) == ["Developer"]
    assert OIDCBackend().get_user(eve.pk) is None


@pytest.mark.django_db
def test_only_the_callback_logs_in_through_the_provider(rf, sso, make_user):
    make_user("ada")
    request = rf.post("/login/?code=stolen&state=x")
    assert OIDCBackend().authenticate(request, username="ada", password="pw") is None


@pytest.mark.django_db
def test_usernames_are_made_unique_and_valid(make_user):
    make_user("ada")
    make_user("ADA-2")
    assert free_username({"sub": "s", "preferred_username": "ada"}) == "ada-3"
    assert free_username({"sub": "s", "preferred_username": "Ada Lovelace!"}) == "Ada-Lovelace"
    assert free_username({"sub": "s", "email": "grace@example.com"}) == "grace"
    assert free_username({"sub": "f81d4fae-7dec"}) == "f81d4fae-7dec"
    assert len(free_username({"sub": "s", "preferred_username": "x" * 300})) <= 150


@pytest.mark.django_db
def test_the_single_sign_on_urls_answer_404_while_it_is_off(client):
    assert client.get("/oidc/authenticate/").status_code == 404
    assert client.get("/oidc/callback/?code=x&state=y").status_code == 404
    assert b"single sign-on" not in client.get("/login/").content


@pytest.mark.django_db
def test_the_login_page_offers_single_sign_on_when_it_is_on(client, sso):
    page = client.get("/login/?next=/a/alpha/")
    assert b'href="/oidc/authenticate/?next=/a/alpha/"' in page.content
    assert b'name="password"' in page.content

    start = client.get("/oidc/authenticate/")
    assert start.status_code == 302
    assert start["Location"].startswith("https://idp.example.com/auth?")
    assert "code_challenge=" in start["Location"]


@pytest.mark.django_db
def test_without_local_login_only_single_sign_on_is_left(client, sso, make_user):
    sso(OIDC_LOCAL_LOGIN="false")
    make_user("ada")

    page = client.get("/login/")
    assert b"Log in with single sign-on" in page.content
    assert b'name="password"' not in page.content
    answer = client.post("/login/", {"username": "ada", "password": "pw"})
    assert answer.status_code == 403
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_the_callback_sends_failures_back_to_the_login_page(client, sso):
    answer = client.get("/oidc/callback/?error=access_denied&state=x")
    assert answer.status_code == 302
    assert answer["Location"] == "/login/"
    assert b"Single sign-on did not log you in" in client.get("/login/").content


def test_the_provider_logout_url_needs_an_endpoint_and_an_id_token(rf, settings, sso):
    request = rf.get("/")
    request.session = {"oidc_id_token": "a.b.c"}
    assert provider_logout_url(request) is None  # no OIDC_OP_LOGOUT_ENDPOINT
    settings.OIDC_OP_LOGOUT_ENDPOINT = "https://idp.example.com/logout"
    assert provider_logout_url(request) == (
        "https://idp.example.com/logout?id_token_hint=a.b.c&client_id=studio"
        "&post_logout_redirect_uri=http%3A%2F%2Ftestserver%2Flogin%2F"
    )
    request.session = {}
    assert provider_logout_url(request) is None
