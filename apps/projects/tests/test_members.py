"""The Members page: everyone with access to the assistant, and granting a role on it. A
SuperUser of one assistant must not learn who else has an account (L5), and the role to grant
is never chosen in advance (D12)."""

import re

import pytest
from django.urls import reverse

from apps.accounts.models import AssistantRole
from apps.accounts.roles import Role

URL = reverse("projects:members", args=["alpha"])


@pytest.fixture
def people(make_user, make_assistant, assistant):
    beta = make_assistant("beta")
    return {
        "boss": make_user("boss-of-alpha", grants={assistant: [Role.SUPERUSER]}),
        "root": make_user("root-everywhere", Role.SUPERUSER),
        "analyst": make_user("analyst-everywhere", Role.CONVERSATION_ANALYST),
        "builder": make_user("builder-on-alpha", grants={assistant: [Role.FLOW_BUILDER]}),
        "elsewhere": make_user("only-on-beta", grants={beta: [Role.DEVELOPER]}),
        "nobody": make_user("no-roles-at-all"),
        "gone": make_user("gone-analyst", Role.CONVERSATION_ANALYST, is_active=False),
    }


def section(page, heading):
    """The HTML of the card whose heading is `heading`."""
    match = re.search(rf"<h2[^>]*>{re.escape(heading)}</h2>(.*?)</section>", page, re.S)
    assert match, f"no section {heading!r}"
    return match.group(1)


def test_a_superuser_of_one_assistant_sees_only_who_has_access_to_it(client, people):
    client.force_login(people["boss"])
    page = client.get(URL).content.decode()
    for username in ("only-on-beta", "no-roles-at-all", "gone-analyst"):
        assert username not in page
    assert "<datalist" not in page and '<select name="user"' not in page
    # Global role holders have access to alpha too: listed apart from the grants on alpha.
    everywhere = section(page, "Global roles")
    assert "root-everywhere" in everywhere and "analyst-everywhere" in everywhere
    assert "Conversation Analyst" in everywhere
    assert "builder-on-alpha" not in everywhere
    only_here = section(page, "Roles on alpha only")
    assert "builder-on-alpha" in only_here and "boss-of-alpha" in only_here
    assert "root-everywhere" not in only_here


def test_a_superuser_of_one_assistant_grants_a_role_by_exact_username(client, people, assistant):
    client.force_login(people["boss"])
    response = client.post(URL, {"user": "no-roles-at-all", "role": "annotator"})
    assert response.status_code == 302
    assert AssistantRole.objects.filter(
        user=people["nobody"], assistant=assistant, role="annotator"
    ).exists()
    # Near misses resolve to nobody and name the field; nothing is granted.
    for wrong in ("no-roles", "NO-ROLES-AT-ALL", "gone-analyst", ""):
        response = client.post(URL, {"user": wrong, "role": "annotator"})
        assert response.status_code == 400
        assert response.context["form"].errors["user"], wrong
    assert AssistantRole.objects.filter(assistant=assistant, role="annotator").count() == 1


def test_a_global_superuser_is_offered_every_active_account(client, people):
    client.force_login(people["root"])
    page = client.get(URL).content.decode()
    suggestions = re.search(r"<datalist id=\"grant-usernames\">(.*?)</datalist>", page, re.S)
    assert suggestions and 'list="grant-usernames"' in page
    for username in ("only-on-beta", "no-roles-at-all", "boss-of-alpha"):
        assert f'value="{username}"' in suggestions.group(1)
    assert "gone-analyst" not in suggestions.group(1)


def test_no_role_is_chosen_in_advance(client, people, assistant):
    client.force_login(people["root"])
    page = client.get(URL).content.decode()
    select = re.search(r'<select name="role"[^>]*>(.*?)</select>', page, re.S).group(1)
    first = re.search(r"<option[^>]*>", select).group(0)
    assert 'value=""' in first
    assert not re.search(r'<option value="superuser"[^>]*selected', select)
    response = client.post(URL, {"user": "no-roles-at-all"})
    assert response.status_code == 400 and response.context["form"].errors["role"]
    response = client.post(URL, {"user": "no-roles-at-all", "role": ""})
    assert response.status_code == 400 and response.context["form"].errors["role"]
    assert not AssistantRole.objects.filter(user=people["nobody"]).exists()
