"""The keys that sign the tokens of Studio's own sign-in realm, and the checks of a signature.

The first token Studio issues creates an RSA key; `manage.py rotate_signing_key` replaces it.
A rotated-out key loses its private half at once (it never signs again) but stays in the JWKS,
and its tokens stay valid, until the longest-lived token it can have signed has expired. Keys
live in the database, so every web replica signs and checks with the same ones; the private
key is encrypted there with a key derived from STUDIO_SECRETS_KEY (or SECRET_KEY).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
from datetime import timedelta

import jwt
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.models import SigningKey

logger = logging.getLogger(__name__)

ALGORITHM = "RS256"
KEY_BITS = 2048


class TokenRefused(Exception):
    """A token that does not let a request in, and why. `counts`: the failure looks like a
    guess or a forgery, and counts toward the address's lockout."""

    def __init__(self, message: str, code: str = "invalid_token", *, counts: bool = False):
        super().__init__(message)
        self.message = message
        self.code = code
        self.counts = counts


def _fernet() -> Fernet:
    material = settings.STUDIO_SECRETS_KEY or settings.SECRET_KEY
    digest = hashlib.sha256(f"studio-signing-keys:{material}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def longest_token_life() -> timedelta:
    return timedelta(
        seconds=max(
            settings.STUDIO_CLI_ACCESS_TOKEN_SECONDS, settings.STUDIO_CLI_REFRESH_TOKEN_SECONDS
        )
    )


def _new_key() -> SigningKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    kid = secrets.token_urlsafe(16)
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return SigningKey(
        kid=kid,
        public_jwk={**jwk, "kid": kid, "use": "sig", "alg": ALGORITHM},
        encrypted_private_key=_fernet().encrypt(pem).decode(),
    )


def _retire(key: SigningKey) -> None:
    now = timezone.now()
    key.is_current = False
    key.encrypted_private_key = ""
    key.retired_at = now
    key.published_until = now + longest_token_life()
    key.save(update_fields=["is_current", "encrypted_private_key", "retired_at", "published_until"])


@transaction.atomic
def rotate() -> tuple[SigningKey, SigningKey | None]:
    """Make a new current key; the previous one (returned second) stays published until its
    tokens have expired."""
    old = SigningKey.objects.select_for_update().filter(is_current=True).first()
    if old is not None:
        _retire(old)
    new = _new_key()
    new.save()
    _private_keys.clear()
    logger.info("New signing key %s%s.", new.kid, f" replaces {old.kid}" if old else "")
    return new, old


_private_keys: dict[str, rsa.RSAPrivateKey] = {}


def _private_key(key: SigningKey) -> rsa.RSAPrivateKey | None:
    if key.kid not in _private_keys:
        try:
            pem = _fernet().decrypt(key.encrypted_private_key.encode())
        except (InvalidToken, ValueError):
            return None
        private = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(private, rsa.RSAPrivateKey):
            return None
        _private_keys.clear()
        _private_keys[key.kid] = private
    return _private_keys[key.kid]


def _current() -> tuple[SigningKey, rsa.RSAPrivateKey]:
    """The current key and its private half, made on first use. A key whose private half no
    longer decrypts (SECRET_KEY or STUDIO_SECRETS_KEY changed) is rotated out."""
    for _ in range(3):
        key = SigningKey.objects.filter(is_current=True).first()
        if key is None:
            try:
                with transaction.atomic():
                    key = _new_key()
                    key.save()
            except IntegrityError:  # another process made one first
                continue
        private = _private_key(key)
        if private is not None:
            return key, private
        logger.warning(
            "Signing key %s does not decrypt with this STUDIO_SECRETS_KEY/SECRET_KEY: "
            "rotating it out.",
            key.kid,
        )
        rotate()
    raise RuntimeError("No signing key could be made.")


def sign(claims: dict) -> str:
    key, private = _current()
    return jwt.encode(claims, private, algorithm=ALGORITHM, headers={"kid": key.kid})


def jwks() -> dict:
    """The published public keys: the current one and those rotated out whose tokens may
    still be valid."""
    _current()  # a realm always has a key, as Keycloak's does
    now = timezone.now()
    keys = SigningKey.objects.filter(is_current=True) | SigningKey.objects.filter(
        published_until__gt=now
    )
    return {"keys": [key.public_jwk for key in keys.order_by("-created_at")]}


def kid_of(token: str) -> str | None:
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.InvalidTokenError:
        return None
    return kid if isinstance(kid, str) else None


def key_of(token: str) -> SigningKey | None:
    """The Studio signing key a token names (current, published or rotated out), if any: a JWT
    that names none is not Studio's."""
    kid = kid_of(token)
    return SigningKey.objects.filter(kid=kid).first() if kid else None


def decode(
    token: str,
    key,
    *,
    algorithms: list[str],
    require: list[str],
    expired: str,
    issuer: str | None = None,
) -> dict:
    """`jwt.decode` (audience left to the caller) with its failures as TokenRefused; `expired`
    is what an expired token is told."""
    try:
        return jwt.decode(
            token,
            key,
            algorithms=algorithms,
            issuer=issuer,
            options={"require": require, "verify_aud": False},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenRefused(expired, "expired_token") from exc
    except jwt.InvalidSignatureError as exc:
        raise TokenRefused("The token's signature is not valid.", counts=True) from exc
    except jwt.InvalidIssuerError as exc:
        raise TokenRefused(
            f"The token was not issued by the identity provider Studio trusts ({issuer})."
        ) from exc
    except jwt.InvalidTokenError as exc:
        raise TokenRefused(f"The token is malformed: {exc}.", counts=True) from exc


def verify(token: str, *, issuer_path: str, key: SigningKey | None = None) -> dict:
    """The claims of a token Studio signed, checked (signature, published key, expiry, and an
    issuer whose path is `issuer_path`: the host part is whichever name the client reached
    Studio by, and the signature already says the token is Studio's); TokenRefused says which
    check failed. `key`: the token's key when the caller has already looked it up."""
    key = key or key_of(token)
    if key is None:
        raise TokenRefused(
            "The token is not signed by any key of Studio's sign-in realm.", counts=True
        )
    if not key.is_published:
        raise TokenRefused(
            "The token was signed with a signing key that has since been rotated out: sign in "
            "again (rasa studio login)."
        )
    claims = decode(
        token,
        jwt.PyJWK(key.public_jwk).key,
        algorithms=[ALGORITHM],
        require=["exp", "iat", "iss", "sub", "typ"],
        expired="The token has expired: sign in again (rasa studio login).",
    )
    if not str(claims["iss"]).rstrip("/").endswith(issuer_path):
        raise TokenRefused(f"The token was not issued by Studio's realm ({issuer_path}).")
    return claims
