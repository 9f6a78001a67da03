"""Ids in URLs and query strings that are digits to `str.isdigit()` but not to `int()`
(superscripts, other scripts) answer 404, never 500."""

import pytest

from apps.accounts.models import ApiToken
from apps.accounts.roles import Role

pytestmark = pytest.mark.django_db

ODD_NUMBERS = ["¹", "²", "9³", "١", "٣٤", "1" * 19]


@pytest.fixture
def developer_api(client, make_user, assistant):
    _, secret = ApiToken.issue(make_user("dev", Role.SUPERUSER), "t")
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    return client


@pytest.mark.parametrize("number", ODD_NUMBERS)
@pytest.mark.parametrize("what", ["model", "input"])
def test_a_version_download_with_an_odd_number_is_not_found(developer_api, number, what):
    response = developer_api.get(f"/api/v1/assistants/alpha/versions/{number}/{what}")
    assert response.status_code == 404


@pytest.mark.parametrize("number", ODD_NUMBERS)
def test_a_conversation_with_an_odd_id_is_not_found(developer_api, number):
    response = developer_api.get(f"/api/v1/assistants/alpha/conversations/{number}")
    assert response.status_code == 404


@pytest.mark.parametrize("number", ODD_NUMBERS)
@pytest.mark.parametrize("page", ["try", "try/transcript"])
def test_the_try_page_with_an_odd_version_is_not_found(client, make_user, assistant, number, page):
    client.force_login(make_user("dev", Role.DEVELOPER))
    response = client.get(f"/a/alpha/{page}", {"version": number})
    assert response.status_code == 404
