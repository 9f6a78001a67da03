"""The sign-in tokens: `~/.config/rasa/studio_token.yaml`, the file Rasa's CLI keeps.

Same five keys and types as Rasa's `KeycloakTokenReader` checks, so `rasa studio` can use a
sign-in made here and the other way round. Expiry is read from the tokens' `exp` claims
(decoded, not verified: the server checks signatures, the client only needs to know when to
refresh).
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass
from pathlib import Path

from studio_cli import settings, yamlfiles
from studio_cli.errors import CliError, ExitCode

#: A token this close to its expiry is refreshed first: it would expire on its way.
EXPIRY_MARGIN = 10


def token_path() -> Path:
    return settings.config_dir() / "studio_token.yaml"


@dataclass
class Token:
    access_token: str
    access_token_expiration_time: int
    refresh_token: str
    refresh_token_expiration_time: int
    token_type: str

    @property
    def authorization(self) -> str:
        return f"{self.token_type} {self.access_token}"

    def access_expired(self, now: float | None = None) -> bool:
        return _expires_at(self.access_token) - EXPIRY_MARGIN < (now or time.time())

    def can_refresh(self, now: float | None = None) -> bool:
        return bool(self.refresh_token) and _expires_at(self.refresh_token) > (now or time.time())

    @classmethod
    def from_grant(cls, answer: dict) -> Token:
        """From the token endpoint's JSON; every field Rasa's file needs must be there."""
        try:
            token = cls(
                access_token=answer["access_token"],
                access_token_expiration_time=int(answer["expires_in"]),
                # A provider without refresh tokens (some password grants): sign in again
                # when the access token expires.
                refresh_token=answer.get("refresh_token") or "",
                refresh_token_expiration_time=int(answer.get("refresh_expires_in") or 0),
                token_type=answer["token_type"],
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CliError(
                f"The sign-in server's answer lacks a token field ({exc}).", ExitCode.AUTH
            ) from exc
        _expires_at(token.access_token)
        return token

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def _expires_at(jwt: str) -> int:
    try:
        payload = jwt.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return int(claims["exp"])
    except (IndexError, KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise CliError(
            "The stored token is not a JWT with an expiry: run `studio login` again.",
            ExitCode.AUTH,
        ) from exc


_FIELDS = {
    "access_token": str,
    "access_token_expiration_time": int,
    "refresh_token": str,
    "refresh_token_expiration_time": int,
    "token_type": str,
}


def read_token() -> Token:
    path = token_path()
    if not path.is_file():
        raise CliError("Not signed in: run `studio login` first.", ExitCode.AUTH)
    content = yamlfiles.read(path)
    if not isinstance(content, dict):
        raise CliError(f"{path}: not a token file; run `studio login` again.", ExitCode.AUTH)
    for key, kind in _FIELDS.items():
        value = content.get(key)
        if not isinstance(value, kind) or (value == "" and key != "refresh_token"):
            raise CliError(
                f"{path}: '{key}' is missing or not {kind.__name__}; run `studio login` again.",
                ExitCode.AUTH,
            )
    return Token(**{key: content[key] for key in _FIELDS})


def write_token(token: Token) -> Path:
    path = token_path()
    yamlfiles.write_private(path, token.to_dict())
    return path
