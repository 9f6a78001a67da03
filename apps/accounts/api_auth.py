from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from apps.accounts import lockout
from apps.accounts.models import ApiToken


class TooManyTokenFailures(exceptions.Throttled):
    """429 with Retry-After: too many wrong API tokens from this address."""

    extra_detail_singular = extra_detail_plural = (
        "Try again in {wait} seconds, or ask a SuperUser to unlock the address on the Users page."
    )

    def __init__(self, until):
        super().__init__(
            wait=lockout.seconds_left(until),
            detail="Too many failed API token attempts from your address.",
        )


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer stu_...` with a personal API token."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        parts = header.split()
        if parts[0] != self.keyword:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Authorization header must be 'Bearer <token>'.")
        token = (
            ApiToken.objects.active()
            .select_related("user")
            .filter(digest=ApiToken.digest_of(parts[1]))
            .first()
        )
        if token is None or not token.user.is_active:
            # Wrong tokens are counted per address (the same lockout as password logins).
            until = lockout.record_api_token_failure(request._request)
            if until is not None:
                raise TooManyTokenFailures(until)
            raise exceptions.AuthenticationFailed("Invalid or revoked API token.")
        if token.is_expired:
            raise exceptions.AuthenticationFailed(
                f"API token expired on {token.expires_at:%Y-%m-%d %H:%M} UTC: create a new one "
                "on the API tokens page.",
                code="token_expired",
            )
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
        return token.user, token

    def authenticate_header(self, request):
        return self.keyword


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """Describes the token in the OpenAPI schema."""

    target_class = ApiTokenAuthentication
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API token from the 'API tokens' page (stu_...).",
        }
