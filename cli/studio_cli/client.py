"""Talking to Studio: GraphQL over HTTP with the stored sign-in, and authenticated downloads.

Requests carry `Authorization: <token_type> <access_token>` and a JSON body, as Rasa's client
sends them. An answer is a success when it is JSON without a non-empty `errors` list; an error
becomes a `CliError` whose exit code follows the error's `extensions.code`.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio_cli import auth, documents, http, progress, settings, tokens
from studio_cli.errors import CliError, ExitCode, exit_code_for


@dataclass
class Studio:
    config: settings.StudioConfig
    token: tokens.Token

    @classmethod
    def connect(cls, config: settings.StudioConfig | None = None) -> Studio:
        config = config or settings.read_config()
        config.require_studio_url()
        return cls(config, auth.current_token(config))

    # -- GraphQL ---------------------------------------------------------------------------

    def graphql(self, query: str, variables: dict[str, Any], operation: str | None = None) -> Any:
        """The `data` of the answer; raises on any error the answer carries."""
        body: dict[str, Any] = {"query": query, "variables": variables}
        if operation:
            body = {"operationName": operation, **body}
        response = http.request(
            "POST",
            self.config.require_studio_url(),
            json=body,
            headers={"Authorization": self.token.authorization, "Content-Type": "application/json"},
            verify=self.config.verify,
        )
        answer = http.json_body(response)
        if not isinstance(answer, dict):
            raise CliError("Studio answered with something else than a GraphQL answer.")
        errors = answer.get("errors")
        if errors:
            raise _graphql_error(errors)
        if response.status_code != 200:
            raise CliError(f"Studio answered HTTP {response.status_code}.", ExitCode.CONNECTION)
        return answer.get("data") or {}

    def check_signed_in(self) -> None:
        """The probe Rasa's CLI starts `upload`, `link` and `push` with."""
        self.graphql(documents.LICENSE_DETAILS, {}, operation="LicenseDetails")

    def assistant_id(self, name: str) -> str | None:
        data = self.graphql(documents.ASSISTANT_BY_NAME, {"input": {"assistantName": name}})
        found = data.get("assistantByName") or {}
        identifier = found.get("id") if isinstance(found, dict) else None
        return identifier if isinstance(identifier, str) and identifier else None

    def require_assistant_id(self, name: str) -> str:
        identifier = self.assistant_id(name)
        if identifier is None:
            raise CliError(f"Studio has no assistant named {name!r}.", ExitCode.NOT_FOUND)
        return identifier

    def delete_assistant(self, assistant_id: str) -> None:
        self.graphql(documents.DELETE_ASSISTANT, {"input": {"assistantId": assistant_id}})

    def upload(self, assistant_name: str, parts: dict[str, str], prompts: dict[str, str]) -> None:
        """`uploadModernAssistant`: the parts given (YAML text) base64-encoded, others left out."""
        payload: dict[str, Any] = {"assistantName": assistant_name}
        for field in ("domain", "flows", "config", "endpoints", "nlu"):
            if parts.get(field) is not None:
                payload[field] = base64.b64encode(parts[field].encode("utf-8")).decode("ascii")
        if prompts:
            payload["prompts"] = prompts
        self.graphql(documents.UPLOAD_MODERN_ASSISTANT, {"input": payload})

    def export(self, assistant_name: str) -> dict[str, Any]:
        """`exportAsEncodedYaml`, its file fields decoded to text (None when absent)."""
        data = self.graphql(
            documents.EXPORT_AS_ENCODED_YAML, {"input": {"assistantName": assistant_name}}
        )
        exported = data.get("exportAsEncodedYaml")
        if not isinstance(exported, dict):
            raise CliError(f"Studio has no assistant named {assistant_name!r}.", ExitCode.NOT_FOUND)
        files: dict[str, Any] = {f: _decode(exported.get(f), f) for f in _EXPORT_FIELDS}
        if not files["nlu"] and not files["flows"]:
            raise CliError(
                f"Studio exported neither flows nor NLU data for {assistant_name!r}.",
                ExitCode.NOT_FOUND,
            )
        prompts = exported.get("prompts") or {}
        files["prompts"] = {key: value for key, value in prompts.items() if value}
        return files

    def get_json(self, path: str) -> Any:
        """A REST read under Studio's root URL, with the same credential."""
        url = self.config.base_url + path.lstrip("/")
        response = http.request(
            "GET",
            url,
            headers={"Authorization": self.token.authorization},
            verify=self.config.verify,
        )
        _check_download(response, url)
        return http.json_body(response)

    # -- REST downloads --------------------------------------------------------------------

    def download(
        self, url: str, target: Path, report: Callable[[int, int | None], None] | None = None
    ) -> int:
        """Stream `url` into `target` (through a temporary file); returns the bytes written."""
        response = http.request(
            "GET",
            url,
            headers={"Authorization": self.token.authorization},
            verify=self.config.verify,
            stream=True,
        )
        with response:
            _check_download(response, url)
            total = response.headers.get("Content-Length")
            return progress.stream_to_file(
                response.iter_content(chunk_size=64 * 1024),
                target,
                int(total) if total and total.isdigit() else None,
                report,
            )


_EXPORT_FIELDS = ("nlu", "flows", "domain", "endpoints", "config")


def _decode(value: object, field: str) -> str | None:
    if value is None or value == "":
        return None
    try:
        return base64.b64decode(str(value), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError) as exc:
        raise CliError(f"Studio sent a '{field}' that is not base64 UTF-8 text.") from exc


def _graphql_error(errors: object) -> CliError:
    first = errors[0] if isinstance(errors, list) and errors else {}
    if not isinstance(first, dict):
        first = {}
    messages = [
        str(error.get("message", error)) if isinstance(error, dict) else str(error)
        for error in (errors if isinstance(errors, list) else [errors])
    ]
    code = (first.get("extensions") or {}).get("code")
    return CliError("Studio: " + "; ".join(messages), exit_code_for(code))


def _check_download(response: Any, url: str) -> None:
    if response.ok:
        return
    status = response.status_code
    if status in (401,):
        raise CliError(f"{url}: the sign-in was refused (HTTP 401).", ExitCode.AUTH)
    if status in (403, 404):
        raise CliError(f"{url}: not found or not allowed (HTTP {status}).", ExitCode.NOT_FOUND)
    raise CliError(f"{url}: HTTP {status}.", ExitCode.CONNECTION)
