"""A NUL character in a URL path is answered 404, never 500: PostgreSQL refuses NUL in strings,
so without the check such a request fails inside the database query. (NUL in a query parameter
is reported at its field: apps/ingestion/tests/test_review_pages.py.)"""

import pytest

from apps.accounts.models import ApiToken

pytestmark = pytest.mark.django_db


@pytest.fixture
def auth(admin_user, assistant):
    _, secret = ApiToken.issue(admin_user, "t")
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/assistants/%00",
        "/api/v1/assistants/%00/export",
        "/api/v1/assistants/alpha/conversations/%00",
        "/api/v1/assistants/al%00pha/conversations",
    ],
)
def test_a_nul_in_an_api_path_is_not_found(client, auth, url):
    assert client.get(url, **auth).status_code == 404
    assert client.post(url, {}, content_type="application/json", **auth).status_code == 404


def test_a_nul_in_a_page_path_is_not_found(admin_client, assistant):
    assert admin_client.get("/a/%00/flows").status_code == 404
    assert admin_client.get("/a/alpha/flows/%00").status_code == 404
