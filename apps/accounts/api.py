"""The HTTP endpoints of Studio's own sign-in realm, under /auth/realms/rasa-studio/: the
subset of Keycloak that Rasa Pro's `rasa studio config` and `rasa studio login` call.

Every answer is JSON, as Keycloak's are (python-keycloak reads `error_description` from any
refusal). The token endpoint takes form-urlencoded POSTs only and is CSRF-exempt: its callers
are command-line clients that hold no session.
"""

from __future__ import annotations

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from apps.accounts import lockout, realm, signing
from apps.projects.access import public_view

FORM = "application/x-www-form-urlencoded"


def _json(body: dict, status: int = 200, **headers: str) -> JsonResponse:
    response = JsonResponse(body, status=status)
    response["Cache-Control"] = "no-store"
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _method_not_allowed(allowed: str) -> JsonResponse:
    return _json(
        {"error": "invalid_request", "error_description": f"Use {allowed} on this endpoint."},
        405,
        Allow=allowed,
    )


def _get_only(view):
    def wrapper(request):
        if request.method not in ("GET", "HEAD"):
            return _method_not_allowed("GET")
        return view(request)

    wrapper.__name__ = view.__name__
    wrapper.__doc__ = view.__doc__
    return wrapper


@_get_only
def _openid_configuration(request):
    """Discovery: `rasa studio config` checks that it answers 2xx."""
    return _json(realm.discovery(request))


@_get_only
def _certs(request):
    """The JWKS: the current signing key and those rotated out whose tokens are still valid."""
    return _json(signing.jwks())


def _token(request):
    """The token endpoint: `grant_type=password` and `grant_type=refresh_token`."""
    if request.method != "POST":
        return _method_not_allowed("POST")
    if request.content_type != FORM:
        return _json(
            {
                "error": "invalid_request",
                "error_description": f"Send the token request as {FORM}.",
            },
            400,
        )
    setattr(request, lockout.TOKEN_ENDPOINT, True)
    try:
        return _json(realm.grant(request, request.POST))
    except realm.GrantError as exc:
        return _json(exc.body(), exc.status)


openid_configuration = public_view(_openid_configuration)
certs = public_view(_certs)
token = public_view(csrf_exempt(_token))
