"""The one way into an assistant, and the declarations every view makes.

Each view or API endpoint says what it needs with one of the decorators below (or, for DRF
views, the `access` attribute of `AssistantAPIView`/`GlobalAPIView`). The declaration is what
the role-matrix test (tests/test_role_matrix.py) reads, and the decorator is what enforces it:
removing one removes the other, and the test fails.

Answers: no access to the assistant at all -> 404 (its existence is not revealed); access but
not the capability -> 403.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.urls import get_resolver, get_urlconf
from rest_framework.views import APIView

from apps.accounts.roles import GLOBAL_CAPS, Cap, Role, caps_of
from apps.projects.models import Assistant

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class AssistantNotFound(Http404):
    """No assistant of that name that the user has a role on (whether it exists stays hidden)."""

    def __init__(self, name: str):
        super().__init__("No such assistant.")
        self.name = name


class AssistantDenied(PermissionDenied):
    """A role on the assistant, but not one with the capability."""

    def __init__(self, assistant: Assistant, capability: Cap, roles: frozenset[Role]):
        super().__init__(f"Your role on {assistant.name} does not allow this.")
        self.assistant = assistant
        self.capability = capability
        self.roles = roles


class GlobalDenied(PermissionDenied):
    """The user's global roles lack a global capability."""

    def __init__(self, capability: Cap):
        super().__init__("Your role does not allow this.")
        self.capability = capability


@dataclass(frozen=True)
class Access:
    """What a view requires.

    scope: "public" (anyone), "authenticated" (any signed-in user), "global" (a global
    capability) or "assistant" (a capability on the assistant named in the URL).
    capability applies to every method; write_capability is needed as well for the others
    (POST, PUT, PATCH, DELETE): a write never needs less than a look.
    """

    scope: str
    capability: Cap | None = None
    write_capability: Cap | None = None

    def required(self, method: str) -> tuple[Cap, ...]:
        """The capabilities a request with this method needs, all of them."""
        needed = [self.capability]
        if method not in SAFE_METHODS and self.write_capability != self.capability:
            needed.append(self.write_capability)
        return tuple(cap for cap in needed if cap is not None)


def assistant_roles(user, assistant: Assistant) -> frozenset[Role]:
    """Roles the user holds on this assistant: global roles plus grants on it."""
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    cache = user.__dict__.setdefault("_studio_assistant_roles", {})
    if assistant.pk not in cache:
        granted = {
            Role(r) for r in assistant.role_grants.filter(user=user).values_list("role", flat=True)
        }
        cache[assistant.pk] = frozenset(granted | user.global_roles())
    return cache[assistant.pk]


class Caps(frozenset):
    """What the user may do on the request's assistant (`request.caps`, `caps` in templates).

    A set of `Cap` for views (``Cap.EDIT_FLOWS in request.caps``); templates ask by name
    (``{% if caps.edit_flows %}``)."""

    def __getitem__(self, name: str) -> bool:
        return name in self


def assistant_caps(user, assistant: Assistant) -> Caps:
    return Caps(caps_of(assistant_roles(user, assistant)))


def global_caps(user) -> frozenset[Cap]:
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    return caps_of(user.global_roles()) & GLOBAL_CAPS


def _as_caps(capability: Cap | Iterable[Cap] | None) -> tuple[Cap, ...]:
    if capability is None:
        return ()
    if isinstance(capability, str):
        return (Cap(capability),)
    return tuple(capability)


def get_assistant_for(user, name: str, capability: Cap | Iterable[Cap]) -> Assistant:
    """The assistant called `name` if `user` may do `capability` on it (every one of them,
    when given several).

    Raises Http404 when the user has no role on it (or it does not exist) and PermissionDenied
    when the user has a role on it that lacks a capability.
    """
    assistant = Assistant.objects.filter(name=name).first()
    if assistant is None:
        raise AssistantNotFound(name)
    roles = assistant_roles(user, assistant)
    if not roles:
        raise AssistantNotFound(name)
    missing = [cap for cap in _as_caps(capability) if cap not in caps_of(roles)]
    if missing:
        raise AssistantDenied(assistant, missing[0], roles)
    return assistant


def require_global(user, capability: Cap | Iterable[Cap]) -> None:
    missing = [cap for cap in _as_caps(capability) if cap not in global_caps(user)]
    if missing:
        raise GlobalDenied(missing[0])


def _declare(view, access: Access):
    view.access = access
    return view


def _login_first(request):
    return redirect_to_login(request.get_full_path())


def public_view(view):
    return _declare(view, Access("public"))


def authenticated_view(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return _login_first(request)
        return view(request, *args, **kwargs)

    return _declare(wrapper, Access("authenticated"))


def global_view(capability: Cap):
    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return _login_first(request)
            require_global(request.user, capability)
            return view(request, *args, **kwargs)

        return _declare(wrapper, Access("global", capability))

    return decorator


def assistant_view(capability: Cap, *, write: Cap | None = None):
    """For views under /a/<name>/...: resolves the assistant through `get_assistant_for` and
    passes it to the view in place of the name. `write` is what POST and the other unsafe
    methods need on top of `capability`: whoever may not look may not write either."""
    access = Access("assistant", capability, write)

    def decorator(view):
        @wraps(view)
        def wrapper(request, name, *args, **kwargs):
            if not request.user.is_authenticated:
                return _login_first(request)
            try:
                assistant = get_assistant_for(request.user, name, access.required(request.method))
            except AssistantNotFound as exc:
                # The URL configuration's handler404 answers here, with DEBUG too: Django's
                # DEBUG 404 page would list every URL pattern instead of saying what is missing.
                handler = get_resolver(get_urlconf()).resolve_error_handler(404)
                return handler(request, exc)
            request.assistant = assistant
            request.caps = assistant_caps(request.user, assistant)
            return view(request, assistant, *args, **kwargs)

        return _declare(wrapper, access)

    return decorator


def can_cancel_training(user, job) -> bool:
    """Whether `user` may cancel the training `job`: whoever asked for it, or a user manager
    (a SuperUser)."""
    return job.requested_by_id == user.pk or Cap.MANAGE_USERS in global_caps(user)


def declared_access(callback) -> Access | None:
    """The Access a URL's view declares (function views and DRF class-based views)."""
    access = getattr(callback, "access", None)
    if access is None:
        view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
        access = getattr(view_class, "access", None)
    return access if isinstance(access, Access) else None


# DRF: API endpoints derive from these and set `access`; `initial()` enforces it after DRF's
# authentication, so an anonymous caller gets 401 and the rest get the answers above.


class GlobalAPIView(APIView):
    access = Access("authenticated")

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        capabilities = self.access.required(request.method)
        if capabilities:
            require_global(request.user, capabilities)


class AssistantAPIView(APIView):
    """`self.assistant` is resolved from the URL's `name` through `get_assistant_for`."""

    access = Access("assistant", Cap.VIEW_ASSISTANT)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.assistant = get_assistant_for(
            request.user, kwargs["name"], self.access.required(request.method)
        )
        request.caps = assistant_caps(request.user, self.assistant)
