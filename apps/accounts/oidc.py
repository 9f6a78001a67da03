"""Single sign-on through an OpenID Connect provider (Keycloak in production).

The provider says who someone is and which roles they hold; Studio keeps the account. People
are found by their subject (`sub`), or, the first time, by a verified email address, and linked.
On every login their global roles become those the roles claim names (Keycloak groups such as
"/SuperUser" or "/studio/Flow Builder", or realm roles); roles granted on one assistant in
Studio are kept. See the README's "Single sign-on" section for the provider's side.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from django.urls import reverse
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from apps.accounts.models import User
from apps.accounts.roles import ROLE_LABELS, Role

logger = logging.getLogger(__name__)

_ROLES_BY_LABEL = {label.casefold(): role for role, label in ROLE_LABELS.items()}
DEACTIVATED = "Your Studio account is deactivated. Ask a SuperUser to reactivate it."


def claim_value(claims: dict, name: str):
    """The claim called `name`, or the value at a dotted path (`realm_access.roles`)."""
    if name in claims:
        return claims[name]
    value = claims
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def role_of_group(name: str) -> Role | None:
    """The role a group or role name stands for: a role label ("Flow Builder"), or a group path
    whose last segment is one ("/studio/Flow Builder"). Case is ignored."""
    label = name.strip().rstrip("/").rsplit("/", 1)[-1].strip()
    return _ROLES_BY_LABEL.get(label.casefold())


def roles_from_claims(claims: dict, claim_names: list[str]) -> set[Role]:
    """The roles the claims grant; names that are no role are ignored."""
    roles = set()
    for claim_name in claim_names:
        value = claim_value(claims, claim_name)
        entries = [value] if isinstance(value, str) else value
        if not isinstance(entries, list | tuple):
            continue
        roles |= {role_of_group(e) for e in entries if isinstance(e, str)}
    roles.discard(None)
    return roles


def replace_global_roles(user: User, roles: set[Role]) -> None:
    """Make `roles` the user's global roles. Other groups and per-assistant grants stay."""
    wanted = sorted(role.label for role in roles)
    stale = user.groups.filter(name__in=ROLE_LABELS.values()).exclude(name__in=wanted)
    user.groups.remove(*stale)
    user.groups.add(*(Group.objects.get_or_create(name=label)[0] for label in wanted))
    user.__dict__.pop("_studio_global_roles", None)


def free_username(claims: dict) -> str:
    """A username nobody has, from preferred_username (else the email's local part, else
    the subject): "ada", then "ada-2", "ada-3"..."""
    email = claims.get("email") or ""
    wanted = claims.get("preferred_username") or email.split("@")[0] or claims["sub"]
    base = re.sub(r"[^\w.@+-]+", "-", str(wanted)).strip("-")[:140] or "user"
    username, n = base, 1
    while User.objects.filter(username__iexact=username).exists():
        n += 1
        username = f"{base}-{n}"
    return username


class OIDCBackend(OIDCAuthenticationBackend):
    """mozilla-django-oidc's code flow, with Studio's way of finding accounts and roles."""

    def authenticate(self, request, **kwargs):
        # Only the callback view logs in through the provider (it passes the login's nonce);
        # a password login whose URL happens to carry ?code=&state= must not.
        if "nonce" not in kwargs:
            return None
        return super().authenticate(request, **kwargs)

    def get_userinfo(self, access_token, id_token, payload):
        """The ID token's claims completed by the userinfo endpoint's (which win)."""
        userinfo = super().get_userinfo(access_token, id_token, payload)
        if userinfo.get("sub") != payload.get("sub"):
            raise SuspiciousOperation("The userinfo endpoint names another subject.")
        return {**payload, **userinfo}

    def get_or_create_user(self, access_token, id_token, payload):
        claims = self.get_userinfo(access_token, id_token, payload)
        return self.user_for_claims(claims)

    @transaction.atomic
    def user_for_claims(self, claims: dict) -> User | None:
        """The account these claims log into (created or linked if need be), its roles updated.
        None for a deactivated account."""
        if not claims.get("sub"):
            raise SuspiciousOperation("The provider sent no subject (sub).")
        user = self._find(claims)
        if user is not None and not user.is_active:
            logger.warning("Single sign-on refused: %s is deactivated.", user.username)
            if getattr(self, "request", None) is not None:
                self.request.sso_refusal = DEACTIVATED
            return None
        if user is None:
            user = User(username=free_username(claims), oidc_subject=claims["sub"])
            user.set_unusable_password()
            logger.info("Single sign-on created %s.", user.username)
        self._update_profile(user, claims)
        roles = roles_from_claims(claims, settings.OIDC_ROLES_CLAIM)
        replace_global_roles(user, roles)
        logger.info(
            "Single sign-on: %s with roles %s.",
            user.username,
            ", ".join(sorted(r.label for r in roles)) or "none",
        )
        return user

    def _find(self, claims: dict) -> User | None:
        user = User.objects.filter(oidc_subject=claims["sub"]).first()
        if user is not None:
            return user
        email = claims.get("email")
        if not email or claims.get("email_verified") not in (True, "true"):
            return None
        # Link an account made in Studio; never one already linked to another subject.
        matches = list(User.objects.filter(email__iexact=email, oidc_subject="")[:2])
        if len(matches) > 1:
            raise SuspiciousOperation(f"Several Studio accounts have the address {email}.")
        if matches:
            matches[0].oidc_subject = claims["sub"]
            logger.info("Single sign-on linked %s by email.", matches[0].username)
            return matches[0]
        return None

    def _update_profile(self, user: User, claims: dict) -> None:
        for field, claim in (
            ("email", "email"),
            ("first_name", "given_name"),
            ("last_name", "family_name"),
        ):
            value = claims.get(claim)
            if isinstance(value, str) and value:
                setattr(user, field, value[: User._meta.get_field(field).max_length])
        user.save()

    def get_user(self, user_id):
        # Django's rule (deactivated accounts lose their sessions), not the library's.
        return ModelBackend.get_user(self, user_id)


def provider_logout_url(request) -> str | None:
    """Where to send someone who logs out of Studio so that they leave the provider too:
    its end-session endpoint, back to Studio's login page. None when there is none."""
    id_token = request.session.get("oidc_id_token")
    if not (settings.OIDC_ENABLED and settings.OIDC_OP_LOGOUT_ENDPOINT and id_token):
        return None
    query = urlencode(
        {
            "id_token_hint": id_token,
            "client_id": settings.OIDC_RP_CLIENT_ID,
            "post_logout_redirect_uri": request.build_absolute_uri(reverse(settings.LOGIN_URL)),
        }
    )
    return f"{settings.OIDC_OP_LOGOUT_ENDPOINT}?{query}"
