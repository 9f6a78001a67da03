"""Brute-force protection: password logins are locked per account and per address, wrong API
tokens are throttled per address, and SuperUsers unlock.

Failed attempts are rows in the test database, so every test starts with none.
"""

from datetime import timedelta

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import ApiToken

LOGIN = "/login/"


@pytest.fixture(autouse=True)
def limits(settings):
    settings.LOGIN_FAILURE_LIMIT = settings.AXES_FAILURE_LIMIT = 5
    settings.LOGIN_COOLOFF_MINUTES = 15
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)


def attempts():
    from axes.models import AccessAttempt

    return AccessAttempt.objects


def from_address(address):
    return Client(REMOTE_ADDR=address)


def log_in(client, username, password):
    return client.post(LOGIN, {"username": username, "password": password})


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def fail(client, username, times):
    return [log_in(client, username, "wrong").status_code for _ in range(times)]


def test_five_wrong_passwords_lock_the_account_with_a_clear_message(make_user):
    make_user("jo")
    client = from_address("10.0.0.1")
    assert fail(client, "jo", 4) == [200, 200, 200, 200]
    locked = log_in(client, "jo", "wrong")
    assert locked.status_code == 429
    page = locked.content.decode()
    assert "Too many failed logins" in page and "15 more minutes" in page
    assert "ask a SuperUser to unlock it" in page
    assert 14 * 60 < int(locked["Retry-After"]) <= 15 * 60

    refused = log_in(client, "jo", "pw")
    assert refused.status_code == 429 and "Too many failed logins" in refused.content.decode()
    assert not logged_in(client)


def test_the_account_stays_locked_from_another_address(make_user):
    make_user("jo")
    fail(from_address("10.0.0.1"), "jo", 5)
    elsewhere = from_address("10.0.0.2")
    assert log_in(elsewhere, "jo", "pw").status_code == 429
    assert not logged_in(elsewhere)


def test_one_address_is_limited_across_accounts(make_user):
    make_user("kim")
    attacker = from_address("10.0.0.3")
    for name in ["a", "b", "c", "d", "e"]:
        fail(attacker, name, 1)
    assert log_in(attacker, "kim", "pw").status_code == 429
    assert not logged_in(attacker)
    # kim, from her own address, is not locked: the failures were for other accounts.
    own = from_address("10.0.0.4")
    assert log_in(own, "kim", "pw").status_code == 302 and logged_in(own)


def test_failures_while_locked_do_not_extend_the_lockout_and_it_ends(make_user):
    make_user("jo")
    client = from_address("10.0.0.1")
    fail(client, "jo", 8)
    assert attempts().get(username="jo").failures_since_start == 5
    # Sixteen minutes later (moved back in the database rather than waited for):
    attempts().update(attempt_time=timezone.now() - timedelta(minutes=16))
    assert log_in(client, "jo", "pw").status_code == 302 and logged_in(client)


def test_a_superuser_unlocks_an_account_from_the_users_pages(make_user, admin_client):
    jo = make_user("jo")
    fail(from_address("10.0.0.1"), "jo", 5)

    edit = admin_client.get(reverse("accounts:user_edit", args=[jo.pk])).content.decode()
    assert "Locked after too many failed logins" in edit and "Unlock" in edit
    listed = admin_client.get(reverse("accounts:lockouts")).content.decode()
    assert "Account <strong>jo</strong>" in listed and "Address <code>10.0.0.1</code>" in listed

    done = admin_client.post(reverse("accounts:lockouts"), {"kind": "account", "value": "jo"})
    assert done.status_code == 302
    client = from_address("10.0.0.2")
    assert log_in(client, "jo", "pw").status_code == 302 and logged_in(client)
    assert (
        "Account <strong>jo</strong>"
        not in admin_client.get(reverse("accounts:lockouts")).content.decode()
    )


def test_only_superusers_unlock(make_user, client):
    from apps.accounts.roles import Role

    make_user("jo")
    fail(from_address("10.0.0.1"), "jo", 5)
    client.force_login(make_user("dev", Role.DEVELOPER))
    response = client.post(reverse("accounts:lockouts"), {"kind": "account", "value": "jo"})
    assert response.status_code == 403
    assert attempts().filter(username="jo").exists()


def _bearer(client, token, **extra):
    return client.get("/api/v1/assistants", HTTP_AUTHORIZATION=f"Bearer {token}", **extra)


def test_wrong_api_tokens_from_one_address_answer_429(make_user, admin_client):
    _, good = ApiToken.issue(make_user("ci"), "ci")
    attacker, other = from_address("10.0.0.5"), from_address("10.0.0.6")
    codes = [_bearer(attacker, f"stu_guess{n}").status_code for n in range(4)]
    assert codes == [401, 401, 401, 401]
    throttled = _bearer(attacker, "stu_guess5")
    assert throttled.status_code == 429
    assert 14 * 60 < int(throttled["Retry-After"]) <= 15 * 60
    assert "Too many failed API token attempts" in throttled.json()["detail"]
    assert _bearer(attacker, "stu_guess6").status_code == 429
    # Only that address: another still gets the plain 401.
    assert _bearer(other, "stu_guess7").status_code == 401
    # A real token still works from the throttled address (guessing one is what is limited).
    assert _bearer(attacker, good).status_code == 200
    # The address is listed for SuperUsers, and unlocking it lets it try again.
    assert (
        "Address <code>10.0.0.5</code>"
        in admin_client.get(reverse("accounts:lockouts")).content.decode()
    )
    admin_client.post(reverse("accounts:lockouts"), {"kind": "address", "value": "10.0.0.5"})
    assert _bearer(attacker, "stu_guess8").status_code == 401


def test_wrong_api_tokens_lock_password_logins_from_that_address(make_user):
    make_user("jo")
    attacker = from_address("10.0.0.7")
    for n in range(5):
        _bearer(attacker, f"stu_guess{n}")
    assert log_in(attacker, "jo", "pw").status_code == 429


def test_an_expired_token_answers_401_token_expired(make_user, client):
    user = make_user("ci")
    token, secret = ApiToken.issue(user, "old", expires_in=timedelta(days=30))
    assert _bearer(client, secret).status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    for _ in range(6):  # a real but expired token is not a guess: never throttled
        response = _bearer(client, secret)
        assert response.status_code == 401
        assert "API token expired on" in response.json()["detail"]

    client.force_login(user)
    page = client.get(reverse("accounts:tokens")).content.decode()
    assert '<span class="badge">expired</span>' in page


def test_a_token_gets_the_expiry_chosen_when_it_is_made(make_user, client):
    user = make_user("jo")
    client.force_login(user)
    client.post(reverse("accounts:tokens"), {"name": "month", "expires_in": "30"})
    client.post(reverse("accounts:tokens"), {"name": "forever", "expires_in": "never"})
    client.post(reverse("accounts:tokens"), {"name": "default"})
    expiry = {t.name: t.expires_at for t in ApiToken.objects.filter(user=user)}
    assert expiry["forever"] is None
    assert abs(expiry["month"] - (timezone.now() + timedelta(days=30))) < timedelta(minutes=5)
    assert abs(expiry["default"] - (timezone.now() + timedelta(days=90))) < timedelta(minutes=5)
    bad = client.post(reverse("accounts:tokens"), {"name": "x", "expires_in": "7000"})
    assert bad.status_code == 200 and "Select a valid choice" in bad.content.decode()
    assert not ApiToken.objects.filter(name="x").exists()


def test_the_token_pages_are_never_cached(make_user, client):
    user = make_user("jo")
    client.force_login(user)
    shown = client.post(reverse("accounts:tokens"), {"name": "CI"})
    assert "no-store" in shown["Cache-Control"]
    assert "no-store" in client.get(reverse("accounts:tokens"))["Cache-Control"]


@pytest.mark.parametrize(
    "proxies, forwarded, expected",
    [
        (0, "203.0.113.9", "10.1.1.1"),  # no proxy: the header is the client's own words
        (1, "203.0.113.9", "203.0.113.9"),
        (1, "198.51.100.1, 203.0.113.9", "203.0.113.9"),  # the left entry was forged
        (2, "198.51.100.1, 203.0.113.9, 10.2.2.2", "203.0.113.9"),
        (1, "not-an-address", "10.1.1.1"),
        (2, "203.0.113.9", "10.1.1.1"),  # fewer entries than proxies
    ],
)
def test_the_client_address_behind_trusted_proxies(settings, proxies, forwarded, expected):
    from apps.accounts.lockout import client_address

    settings.TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/", REMOTE_ADDR="10.1.1.1", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_address(request) == expected
