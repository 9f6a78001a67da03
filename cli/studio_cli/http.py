"""The HTTP calls, with transport failures turned into exit code 5.

One place decides what "cannot reach Studio" looks like, so every command says it the same
way and scripts can retry on exit code 5 alone.
"""

from __future__ import annotations

from typing import Any

import requests

from studio_cli.errors import CliError, ExitCode

#: Seconds to wait for a connection; answers (an upload's, a model's) may take much longer.
CONNECT_TIMEOUT = 15
READ_TIMEOUT = 600


def request(method: str, url: str, *, verify: bool = True, **kwargs: Any) -> requests.Response:
    kwargs.setdefault("timeout", (CONNECT_TIMEOUT, READ_TIMEOUT))
    try:
        return requests.request(method, url, verify=verify, **kwargs)
    except requests.exceptions.SSLError as exc:
        raise CliError(
            f"TLS verification of {url} failed ({exc}); if the certificate is self-signed, run "
            "`studio config --disable-verify`.",
            ExitCode.CONNECTION,
        ) from exc
    except requests.exceptions.RequestException as exc:
        raise CliError(
            f"Cannot reach {url} ({type(exc).__name__}). Check the address with `studio config`.",
            ExitCode.CONNECTION,
        ) from exc


def json_body(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise CliError(
            f"{response.url} answered HTTP {response.status_code} with something that is not "
            "JSON: is this the address of a Studio?",
            ExitCode.CONNECTION,
        ) from exc
