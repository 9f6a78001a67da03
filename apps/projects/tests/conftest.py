"""Fixtures the projects app's import and export tests share: a developer, logged in on the
pages (`web`) or holding an API token (`auth`)."""

import pytest

from apps.accounts.models import ApiToken
from apps.accounts.roles import Role


@pytest.fixture
def developer(make_user):
    return make_user("dev", Role.DEVELOPER)


@pytest.fixture
def web(client, developer):
    client.force_login(developer)
    return client


@pytest.fixture
def auth(developer):
    _, secret = ApiToken.issue(developer, "t")
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
