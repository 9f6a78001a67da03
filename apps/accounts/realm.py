"""Studio's own sign-in realm, shaped like Keycloak's `rasa-studio` realm, for Rasa Pro's CLI.

`rasa studio login` sends a password grant for the public client `admin-cli` to
`<studio>/auth/realms/rasa-studio/protocol/openid-connect/token` (python-keycloak's form,
with empty `code` and `redirect_uri`), stores the five fields of the answer, decodes both
tokens as JWTs (without checking them) to read `exp`, refreshes with `grant_type=
refresh_token` before `download`, `pull` and `train`, and sends the access token to Studio as
`Authorization: Bearer`. Both tokens are RS256 JWTs signed with Studio's key (signing.py).

The password is checked by Django's `authenticate()` with the request, so wrong passwords count
toward the login lockout like the login page's, and a locked account gets no token. Errors use
Keycloak's shapes (`{"error": "invalid_grant", "error_description": "..."}`) and statuses.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import authenticate
from django.utils import timezone

from apps.accounts import signing
from apps.accounts.models import SigningKey, User

REALM = "rasa-studio"
REALM_PATH = f"/auth/realms/{REALM}"
CLIENT_ID = "admin-cli"
SCOPE = "openid"
ACCESS, REFRESH = "Bearer", "Refresh"

PASSWORDS_OFF = (
    "Password sign-in is turned off (OIDC_LOCAL_LOGIN=false): sign in through your identity "
    "provider instead. Run `rasa studio config --advanced` and give the provider's URL, realm "
    "and client (a public client with direct access grants)."
)


@dataclass
class GrantError(Exception):
    """A refused token request, as Keycloak answers it."""

    error: str
    description: str
    status: int = 400

    def body(self) -> dict:
        return {"error": self.error, "error_description": self.description}


def issuer(request) -> str:
    return request.build_absolute_uri(REALM_PATH)


# OIDC_* settings come from studio.oidc_settings through globals().update, unseen by the type
# checker; those beyond OIDC_ENABLED exist only with single sign-on on.
def passwords_allowed() -> bool:
    return not getattr(settings, "OIDC_ENABLED", False) or getattr(
        settings, "OIDC_LOCAL_LOGIN", True
    )


# -- the token endpoint ---------------------------------------------------------------------


def grant(request, form) -> dict:
    """The answer to a token request (form: the POSTed fields); GrantError when refused."""
    grant_type = form.get("grant_type", "")
    if not grant_type:
        raise GrantError("invalid_request", "Missing form parameter: grant_type")
    if grant_type not in ("password", "refresh_token"):
        raise GrantError("unsupported_grant_type", f"Unsupported grant_type: {grant_type}")
    client_id = form.get("client_id", "")
    if client_id != CLIENT_ID:
        raise GrantError(
            "invalid_client",
            f"Invalid client: {client_id or '(none)'}. Studio's realm has one client, {CLIENT_ID}.",
            401,
        )
    if not passwords_allowed():
        raise GrantError("unauthorized_client", PASSWORDS_OFF)
    if grant_type == "password":
        user = _password_user(request, form)
        return issue(request, user, session=str(uuid.uuid4()))
    user, session = _refresh_user(request, form)
    return issue(request, user, session=session)


def _password_user(request, form) -> User:
    username, password = form.get("username", ""), form.get("password", "")
    if not username:
        raise GrantError("invalid_request", "Missing parameter: username")
    user = authenticate(request, username=username, password=password)
    if getattr(request, "axes_locked_out", False):
        # The lockout response (lockout.lockout_response) replaces whatever is answered here.
        raise GrantError("invalid_grant", "Too many failed logins.")
    if user is not None:
        return user
    disabled = User.objects.filter(username=username, is_active=False).first()
    if disabled is not None and disabled.check_password(password):
        raise GrantError("invalid_grant", "Account disabled")
    raise GrantError("invalid_grant", "Invalid user credentials", 401)


def _refresh_user(request, form) -> tuple[User, str]:
    token = form.get("refresh_token", "")
    if not token:
        raise GrantError("invalid_request", "Missing parameter: refresh_token")
    try:
        claims = signing.verify(token, issuer_path=REALM_PATH)
    except signing.TokenRefused as exc:
        message = "Token is not active" if exc.code == "expired_token" else "Invalid refresh token"
        raise GrantError("invalid_grant", f"{message}: {exc.message}") from exc
    if claims.get("typ") != REFRESH:
        raise GrantError("invalid_grant", "Invalid refresh token: this is not a refresh token.")
    if claims.get("azp") != form.get("client_id"):
        raise GrantError("invalid_grant", "Invalid refresh token: issued to another client.")
    user = _user_of(claims)
    if user is None or not user.is_active:
        raise GrantError("invalid_grant", "Account disabled")
    if claims.get("pwd") != password_mark(user):
        raise GrantError(
            "invalid_grant",
            "Invalid refresh token: the password changed since this sign-in; sign in again "
            "(rasa studio login).",
        )
    return user, str(claims.get("sid", ""))


def password_mark(user: User) -> str:
    """A digest that changes when the password does (from Django's session hash, which a
    password change also uses to end the account's sessions): refresh tokens carry it, so a
    new password ends the CLI's sign-ins at their next refresh."""
    return hashlib.sha256(user.get_session_auth_hash().encode()).hexdigest()[:16]


def _user_of(claims: dict) -> User | None:
    try:
        return User.objects.filter(pk=int(claims["sub"])).first()
    except (TypeError, ValueError):
        return None


def issue(request, user: User, *, session: str) -> dict:
    """A new access and refresh token for the user, in the token endpoint's answer."""
    access_life = settings.STUDIO_CLI_ACCESS_TOKEN_SECONDS
    refresh_life = settings.STUDIO_CLI_REFRESH_TOKEN_SECONDS
    now = int(timezone.now().timestamp())
    common = {
        "iat": now,
        "iss": issuer(request),
        "sub": str(user.pk),
        "azp": CLIENT_ID,
        "sid": session,
        "scope": SCOPE,
        "preferred_username": user.username,
    }
    access = {**common, "exp": now + access_life, "jti": str(uuid.uuid4()), "typ": ACCESS}
    if user.email:
        access["email"] = user.email
    refresh = {
        **common,
        "exp": now + refresh_life,
        "jti": str(uuid.uuid4()),
        "typ": REFRESH,
        "pwd": password_mark(user),
    }
    return {
        "access_token": signing.sign(access),
        "expires_in": access_life,
        "refresh_expires_in": refresh_life,
        "refresh_token": signing.sign(refresh),
        "token_type": ACCESS,
        "not-before-policy": 0,
        "session_state": session,
        "scope": SCOPE,
    }


# -- the access tokens, as bearer credentials -----------------------------------------------


def user_of_access_token(token: str, key: SigningKey | None = None) -> User:
    """The user an access token of this realm names (`key`: the token's signing key, when
    already looked up); signing.TokenRefused says why not."""
    claims = signing.verify(token, issuer_path=REALM_PATH, key=key)
    if claims.get("typ") == REFRESH:
        raise signing.TokenRefused(
            "This is a refresh token: send the access token (access_token) instead."
        )
    if claims.get("typ") != ACCESS or claims.get("azp") != CLIENT_ID:
        raise signing.TokenRefused(
            "The token is not an access token of Studio's realm.", counts=True
        )
    if not passwords_allowed():
        raise signing.TokenRefused(PASSWORDS_OFF)
    user = _user_of(claims)
    if user is None:
        raise signing.TokenRefused("The token's account no longer exists.")
    if not user.is_active:
        raise signing.TokenRefused(
            "Your Studio account is deactivated. Ask a SuperUser to reactivate it."
        )
    return user


def discovery(request) -> dict:
    """The realm's /.well-known/openid-configuration: what this subset of Keycloak offers."""
    base = issuer(request)
    return {
        "issuer": base,
        "token_endpoint": f"{base}/protocol/openid-connect/token",
        "jwks_uri": f"{base}/protocol/openid-connect/certs",
        "grant_types_supported": ["password", "refresh_token"],
        # No authorization endpoint and no ID tokens: the password and refresh grants only.
        "response_types_supported": [],
        "subject_types_supported": ["public"],
        "token_endpoint_auth_methods_supported": ["none"],
        "scopes_supported": [SCOPE],
        "claims_supported": ["sub", "iss", "preferred_username", "email"],
    }
