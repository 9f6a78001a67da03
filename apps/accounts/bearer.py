"""Who a request's `Authorization: Bearer ...` header names: the one place that reads it.

Studio's REST API (through `api_auth.ApiTokenAuthentication`) and its GraphQL endpoint both ask
`user_from_request`. It answers None when the request carries no bearer credential, the user
when the credential is good, and raises `BearerError` (with a message that says what is wrong
and what to do) when it is not. The credential is one of:

- a personal API token (`stu_...`);
- an access token of Studio's own sign-in realm (`rasa studio login`, realm.py), a JWT signed
  with one of Studio's keys;
- when single sign-on is configured, a JWT access token of the identity provider (external.py),
  for the CLI pointed at the provider, or CI.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.utils import timezone

from apps.accounts import external, lockout, realm, signing
from apps.accounts.models import ApiToken, User

KEYWORD = "Bearer"


class BearerError(Exception):
    """A bearer credential that does not let the request in.

    code: "invalid_token", "expired_token", "provider_unavailable" (the identity provider's
    keys could not be fetched) or "locked_out" (then `locked_until` is set)."""

    def __init__(
        self, message: str, code: str = "invalid_token", locked_until: datetime | None = None
    ):
        super().__init__(message)
        self.message = message
        self.code = code
        self.locked_until = locked_until


def credential_of(request) -> str | None:
    """The bearer credential of the request, None when it has no bearer header."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if isinstance(header, bytes):
        header = header.decode("latin-1")
    parts = header.split()
    if not parts or parts[0].lower() != KEYWORD.lower():
        return None
    if len(parts) != 2:
        raise BearerError("The Authorization header must be 'Bearer <token>'.")
    return parts[1]


def user_from_request(request) -> User | None:
    """The user a request's bearer credential names; None without one; BearerError when bad.

    Wrong credentials count toward the address's lockout, as wrong passwords do."""
    credential = credential_of(request)
    if credential is None:
        return None
    if credential.startswith(ApiToken.PREFIX) or credential.count(".") != 2:
        return _user_of_api_token(request, credential)
    return _user_of_jwt(request, credential)


# OIDC_* settings come from studio.oidc_settings through globals().update, unseen by the type
# checker; those beyond OIDC_ENABLED exist only with single sign-on on.
def _user_of_jwt(request, credential: str) -> User:
    """Studio's own tokens name one of its keys; any other JWT is the provider's, if there is
    one (else Studio's realm refuses it, saying why)."""
    try:
        key = signing.key_of(credential)
        if key is not None or not getattr(settings, "OIDC_ENABLED", False):
            return realm.user_of_access_token(credential, key)
        return external.user_of_access_token(credential)
    except signing.TokenRefused as exc:
        if exc.counts:
            raise _refused(request, exc.message) from exc
        raise BearerError(exc.message, code=exc.code) from exc


def _refused(request, message: str) -> BearerError:
    until = lockout.record_api_token_failure(request)
    if until is not None:
        return BearerError(
            "Too many failed token attempts from your address. " + lockout.lockout_message(until),
            code="locked_out",
            locked_until=until,
        )
    return BearerError(message)


def _user_of_api_token(request, credential: str) -> User:
    token = (
        ApiToken.objects.active()
        .select_related("user")
        .filter(digest=ApiToken.digest_of(credential))
        .first()
    )
    if token is None or not token.user.is_active:
        raise _refused(request, "Invalid or revoked API token.")
    if token.is_expired:
        raise BearerError(
            f"API token expired on {token.expires_at:%Y-%m-%d %H:%M} UTC: create a new one "
            "on the API tokens page.",
            code="expired_token",
        )
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return token.user
