"""The exit codes scripts can rely on, and the one exception that carries them.

Every failure the user can cause ends as a `CliError`: `main` prints its message on stderr and
exits with its code, so no command ever ends in a traceback.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    #: Bad arguments, no configuration, a project that is not linked, a missing file.
    USAGE = 1
    #: Not signed in, a refused sign-in, a credential Studio no longer accepts.
    AUTH = 2
    #: The assistant (or version, or file) does not exist, or the account may not use it.
    NOT_FOUND = 3
    #: The project's files are invalid, or Studio refused what was sent.
    REFUSED = 4
    #: Studio or its sign-in server could not be reached, or answered with garbage.
    CONNECTION = 5


class CliError(Exception):
    def __init__(self, message: str, code: ExitCode = ExitCode.USAGE):
        super().__init__(message)
        self.message = message
        self.code = code


#: How the `extensions.code` of a GraphQL error maps to an exit code.
_GRAPHQL_CODES = {
    "UNAUTHENTICATED": ExitCode.AUTH,
    "INVALID_TOKEN": ExitCode.AUTH,
    "EXPIRED_TOKEN": ExitCode.AUTH,
    "LOCKED_OUT": ExitCode.AUTH,
    "PROVIDER_UNAVAILABLE": ExitCode.CONNECTION,
    "NOT_FOUND": ExitCode.NOT_FOUND,
    "FORBIDDEN": ExitCode.NOT_FOUND,
}


def exit_code_for(graphql_code: str | None) -> ExitCode:
    """Unknown codes (BAD_REQUEST, validation failures, ...) mean Studio refused the request."""
    return _GRAPHQL_CODES.get((graphql_code or "").upper(), ExitCode.REFUSED)
