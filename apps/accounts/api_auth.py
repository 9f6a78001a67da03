from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from apps.accounts import bearer, lockout


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
    """`Authorization: Bearer ...`: whatever `bearer.user_from_request` accepts."""

    keyword = bearer.KEYWORD

    def authenticate(self, request):
        try:
            user = bearer.user_from_request(request._request)
        except bearer.BearerError as exc:
            if exc.locked_until is not None:
                raise TooManyTokenFailures(exc.locked_until) from exc
            raise exceptions.AuthenticationFailed(exc.message, code=exc.code) from exc
        if user is None:
            return None
        return user, None

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
            "description": (
                "A personal API token from the 'API tokens' page (stu_...), or an access token "
                "of Studio's sign-in realm (/auth/realms/rasa-studio/, `rasa studio login`) or, "
                "with single sign-on, of the identity provider."
            ),
        }
