"""Where Studio is: `~/.config/rasa/global.yml`, key `studio`, as Rasa's CLI keeps it.

The same file and keys as `rasa studio config` writes, and the same environment variables
override them, so both command lines share one configuration. Other keys of `global.yml`
(Rasa's own settings) are kept when the file is rewritten.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

from studio_cli import yamlfiles
from studio_cli.errors import CliError, ExitCode

CONFIG_KEY = "studio"
DEFAULT_REALM = "rasa-studio"
DEFAULT_CLIENT_ID = "admin-cli"

#: field -> the variable that overrides it (names as in Rasa's client).
ENVIRONMENT = {
    "authentication_server_url": "RASA_STUDIO_AUTH_SERVER_URL",
    "studio_url": "RASA_STUDIO_CLI_STUDIO_URL",
    "client_id": "RASA_STUDIO_CLI_CLIENT_ID_KEY",
    "realm_name": "RASA_STUDIO_CLI_REALM_NAME_KEY",
}
DISABLE_VERIFY_VARIABLE = "RASA_STUDIO_CLI_DISABLE_VERIFY_KEY"


def config_dir() -> Path:
    """Read at every call: HOME may change between calls (the tests point it elsewhere)."""
    return Path.home() / ".config" / "rasa"


def global_config_path() -> Path:
    return config_dir() / "global.yml"


@dataclass
class StudioConfig:
    authentication_server_url: str | None = None
    #: The full GraphQL URL, with its trailing slash (`https://host/api/graphql/`).
    studio_url: str | None = None
    client_id: str | None = None
    realm_name: str | None = None
    disable_verify: bool = False

    @property
    def verify(self) -> bool:
        return not self.disable_verify

    @property
    def base_url(self) -> str:
        """Studio's root URL, read off the GraphQL URL (REST downloads live beside it)."""
        url = self.require_studio_url()
        suffix = "api/graphql/"
        return url[: -len(suffix)] if url.endswith(suffix) else url.rstrip("/") + "/"

    def require_studio_url(self) -> str:
        if not self.studio_url:
            raise CliError("Studio is not configured: run `studio config` first.")
        return self.studio_url

    def require_complete(self) -> StudioConfig:
        """`link`, `push` and `pull` need all four values, as Rasa's CLI does."""
        missing = [
            name
            for name in ("authentication_server_url", "studio_url", "client_id", "realm_name")
            if not getattr(self, name)
        ]
        if missing:
            raise CliError(
                f"Studio is not configured ({', '.join(missing)} missing): run `studio config`."
            )
        return self

    def to_dict(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def read_config() -> StudioConfig:
    """The environment's values first, then the file's."""
    stored = _read_file_config()
    values: dict[str, object] = {}
    for name, variable in ENVIRONMENT.items():
        value = os.environ.get(variable)
        if value == "":
            raise CliError(f"The environment variable {variable} is set but empty.")
        values[name] = value or getattr(stored, name)
    disable_verify = bool(os.environ.get(DISABLE_VERIFY_VARIABLE)) or stored.disable_verify
    return StudioConfig(**values, disable_verify=disable_verify)  # type: ignore[arg-type]


def _read_file_config() -> StudioConfig:
    path = global_config_path()
    document = yamlfiles.read_mapping(path) if path.is_file() else {}
    section = document.get(CONFIG_KEY)
    if section is None:
        return StudioConfig()
    if not isinstance(section, dict):
        raise CliError(f"{path}: the key '{CONFIG_KEY}' must be a mapping.", ExitCode.USAGE)
    for key, value in section.items():
        if key != "disable_verify" and value is not None and not isinstance(value, str):
            raise CliError(f"{path}: '{CONFIG_KEY}.{key}' must be a text value.")
    return StudioConfig(
        authentication_server_url=section.get("authentication_server_url"),
        studio_url=section.get("studio_url"),
        client_id=section.get("client_id"),
        realm_name=section.get("realm_name"),
        disable_verify=bool(section.get("disable_verify", False)),
    )


def write_config(config: StudioConfig) -> Path:
    path = global_config_path()
    document = yamlfiles.read_mapping(path) if path.is_file() else {}
    document[CONFIG_KEY] = config.to_dict()
    yamlfiles.write_private(path, document)
    return path


def normalise_studio_url(url: str) -> str:
    """As Rasa's `studio config` does: a trailing slash, and `https://` when no scheme is given."""
    url = url.strip()
    if not url:
        raise CliError("The Studio URL is empty.")
    if not url.endswith("/"):
        url += "/"
    if not url.startswith(("http://", "https://")):
        url = "https://" + url
    return url


def with_trailing_slash(url: str) -> str:
    """Keycloak URLs are joined with urljoin, which drops the last segment without one."""
    return url if url.endswith("/") else url + "/"
