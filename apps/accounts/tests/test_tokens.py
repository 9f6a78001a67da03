from django.urls import reverse

from apps.accounts.models import ApiToken


def test_a_token_is_shown_once_and_stored_hashed(client, make_user):
    user = make_user("jo")
    client.force_login(user)
    page = client.post(reverse("accounts:tokens"), {"name": "CI"}).content.decode()
    token = ApiToken.objects.get(user=user)
    secret = page.split('<code class="secret">')[1].split("</code>")[0]
    assert secret.startswith("stu_") and len(secret) > 40
    assert token.digest == ApiToken.digest_of(secret) and secret not in token.digest
    assert secret not in client.get(reverse("accounts:tokens")).content.decode()
    response = client.get("/api/v1/assistants", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_a_user_revokes_only_their_own_tokens(client, make_user):
    jo, kim = make_user("jo"), make_user("kim")
    mine, _ = ApiToken.issue(jo, "mine")
    theirs, _ = ApiToken.issue(kim, "theirs")
    client.force_login(jo)
    assert client.post(reverse("accounts:token_revoke", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("accounts:token_revoke", args=[mine.pk])).status_code == 302
    assert list(ApiToken.objects.active()) == [theirs]
