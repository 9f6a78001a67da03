"""The identity provider's own access tokens as bearer credentials (with single sign-on on).

When Studio signs people in through Keycloak (OIDC_*), the CLI can be pointed at Keycloak
itself (`rasa studio config --advanced`: its URL, realm and a public client such as
`admin-cli`), and CI can use a service account: either way the request carries Keycloak's JWT
access token. It is accepted when its signature checks against the provider's JWKS
(OIDC_OP_JWKS_ENDPOINT, fetched and cached by PyJWT's PyJWKClient), its `iss` is
OIDC_OP_ISSUER, its `aud` or `azp` is one of OIDC_ACCEPTED_AUDIENCES, and it has not expired.
The account and its global roles then come from the token's claims exactly as at a web login
(oidc.OIDCBackend.user_for_claims: same lookup by subject or verified email, same roles claim).
"""

from __future__ import annotations

import jwt
from django.conf import settings
from django.core.exceptions import SuspiciousOperation

from apps.accounts.models import User
from apps.accounts.oidc import DEACTIVATED, OIDCBackend
from apps.accounts.signing import TokenRefused, decode

# OIDC_* settings come from studio.oidc_settings through globals().update, unseen by the type
# checker; they exist only with single sign-on on.
JWKS_CACHE_SECONDS = 300
FETCH_TIMEOUT_SECONDS = 10
_clients: dict[str, jwt.PyJWKClient] = {}


def _jwks_client() -> jwt.PyJWKClient:
    url = getattr(settings, "OIDC_OP_JWKS_ENDPOINT", "")
    if url not in _clients:
        _clients[url] = jwt.PyJWKClient(
            url, cache_keys=True, lifespan=JWKS_CACHE_SECONDS, timeout=FETCH_TIMEOUT_SECONDS
        )
    return _clients[url]


def _signing_key(token: str):
    try:
        return _jwks_client().get_signing_key_from_jwt(token).key
    except jwt.PyJWKClientConnectionError as exc:
        raise TokenRefused(
            "Studio could not fetch the identity provider's keys (OIDC_OP_JWKS_ENDPOINT): "
            "try again later.",
            "provider_unavailable",
        ) from exc
    except jwt.PyJWKClientError as exc:
        raise TokenRefused(
            "The token is signed by a key the identity provider does not publish.", counts=True
        ) from exc
    except jwt.InvalidTokenError as exc:
        raise TokenRefused(f"The token is malformed: {exc}.", counts=True) from exc


def _claims(token: str, issuer: str) -> dict:
    return decode(
        token,
        _signing_key(token),
        algorithms=[getattr(settings, "OIDC_RP_SIGN_ALGO", "RS256")],
        require=["exp", "iss", "sub"],
        expired="The identity provider's token has expired: sign in again.",
        issuer=issuer,
    )


def _check_audience(claims: dict) -> None:
    audience = claims.get("aud") or []
    parties = {audience} if isinstance(audience, str) else set(audience)
    if isinstance(claims.get("azp"), str):
        parties.add(claims["azp"])
    accepted = getattr(settings, "OIDC_ACCEPTED_AUDIENCES", [])
    if not parties & set(accepted):
        raise TokenRefused(
            f"The token is meant for {', '.join(sorted(map(str, parties))) or 'nobody'}, not "
            f"for Studio: its audience (aud) or authorized party (azp) must be one of "
            f"{', '.join(accepted)} (OIDC_ACCEPTED_AUDIENCES)."
        )


def user_of_access_token(token: str) -> User:
    """The account the provider's access token names (made or linked, its roles updated, as
    at a web login); TokenRefused says why the token does not let the request in."""
    issuer = getattr(settings, "OIDC_OP_ISSUER", "")
    if not issuer:
        raise TokenRefused(
            "Studio does not accept the identity provider's tokens until OIDC_OP_ISSUER names "
            "the provider's issuer."
        )
    claims = _claims(token, issuer)
    if claims.get("typ") not in (None, "Bearer"):
        raise TokenRefused(f"This is not an access token (typ {claims['typ']}).")
    _check_audience(claims)
    try:
        user = OIDCBackend().user_for_claims(claims)
    except SuspiciousOperation as exc:
        raise TokenRefused(f"The token's account cannot be used: {exc}") from exc
    if user is None:
        raise TokenRefused(DEACTIVATED)
    return user
