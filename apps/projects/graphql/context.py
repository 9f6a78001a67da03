"""What a resolver knows about the request, and its one way to an assistant."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse
from strawberry.types import Info

from apps.accounts.models import User
from apps.accounts.roles import Cap
from apps.projects.access import (
    AssistantDenied,
    AssistantNotFound,
    GlobalDenied,
    get_assistant_for,
    require_global,
)
from apps.projects.models import Assistant


class Problem(Exception):
    """An error the caller is meant to read: its message goes out as is, with `code` in the
    error's `extensions`. Any other exception is answered with "Unexpected error." (and
    logged), so nothing internal reaches the caller."""

    def __init__(self, message: str, code: str = "BAD_REQUEST"):
        super().__init__(message)
        self.message = message
        self.code = code
        # graphql-core copies an original error's `extensions` into the answer.
        self.extensions = {"code": code}


@dataclass
class StudioContext:
    request: HttpRequest
    response: HttpResponse
    #: The user the bearer credential names; None when the request carries none.
    user: User | None


def signed_in_user(info: Info) -> User:
    user = info.context.user
    if user is None:
        raise Problem(
            "Not signed in: send 'Authorization: Bearer <token>' (run `rasa studio login` or "
            "`studio login`).",
            code="UNAUTHENTICATED",
        )
    return user


def assistant_for(info: Info, name: str, capability: Cap | Iterable[Cap]) -> Assistant:
    """The assistant called `name`, if the signed-in user may do `capability` on it; else a
    Problem that says so (an assistant the user has no role on is "not found")."""
    user = signed_in_user(info)
    try:
        return get_assistant_for(user, name, capability)
    except AssistantNotFound as exc:
        raise Problem(f"No assistant named {name!r}.", code="NOT_FOUND") from exc
    except AssistantDenied as exc:
        raise Problem(
            f"Your role on {name} does not allow this (it needs {exc.capability.value}).",
            code="FORBIDDEN",
        ) from exc


def assistant_or_none(info: Info, name: str, capability: Cap | Iterable[Cap]) -> Assistant | None:
    """As `assistant_for`, but None where it would answer "not found" (a lacking capability
    is still a Problem): for the operations whose answer says "not found" themselves."""
    try:
        return assistant_for(info, name, capability)
    except Problem as exc:
        if exc.code != "NOT_FOUND":
            raise
        return None


def assistant_name_of(assistant_id: str | None, assistant_name: str | None) -> str:
    """The assistant an input names: Rasa Studio's documents call it `assistantId` (which is
    what `assistantByName` answers: the name) or, in newer ones, `assistantName`."""
    if assistant_id and assistant_name and assistant_id != assistant_name:
        raise Problem(
            f"assistantId {assistant_id!r} and assistantName {assistant_name!r} differ: give one.",
            code="BAD_USER_INPUT",
        )
    name = assistant_id or assistant_name
    if not name:
        raise Problem("Give the assistant: assistantId (or assistantName).", code="BAD_USER_INPUT")
    return str(name)


def require(info: Info, capability: Cap) -> User:
    """The signed-in user, if their global roles give `capability`."""
    user = signed_in_user(info)
    try:
        require_global(user, capability)
    except GlobalDenied as exc:
        raise Problem(
            f"Your role does not allow this (it needs {capability.value}).", code="FORBIDDEN"
        ) from exc
    return user
