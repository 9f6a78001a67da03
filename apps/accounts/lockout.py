"""Brute-force protection for password logins and API tokens.

django-axes records failed password logins in its AccessAttempt table (in the database, so
every web replica counts the same failures) and refuses logins while an account or an address
is locked. Studio adds, here:

- what is counted: password logins (per account, from any address, and per address, for any
  account) and failed API tokens (per address only). Single sign-on failures are the
  provider's business and are not counted;
- the client address (REMOTE_ADDR, or X-Forwarded-For behind STUDIO_TRUSTED_PROXY_COUNT
  proxies);
- the lockout page, the API's 429, and the list and unlock that SuperUsers use.

An account or an address is locked once it has LOGIN_FAILURE_LIMIT failures within the last
LOGIN_COOLOFF_MINUTES, until that long after its last failure. Failures while locked are not
recorded, so a lockout ends on time however long someone keeps trying.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from axes.handlers.proxy import AxesProxyHandler
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.db import transaction
from django.db.models import F, Max, Sum
from django.http import JsonResponse
from django.shortcuts import render
from django.utils import timezone

API_TOKEN = "api_token"  # the credentials key that marks a failed API token


def cool_off() -> timedelta:
    return timedelta(minutes=settings.LOGIN_COOLOFF_MINUTES)


def _valid_address(value: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address((value or "").strip()))
    except ValueError:
        return None


def client_address(request) -> str | None:
    """The client's address: the connection's, or, behind STUDIO_TRUSTED_PROXY_COUNT proxies
    that each append to X-Forwarded-For, the entry that many places from the right (entries
    further left are whatever the client sent and cannot be trusted)."""
    remote = _valid_address(request.META.get("REMOTE_ADDR"))
    proxies = settings.TRUSTED_PROXY_COUNT
    if not proxies:
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
    if len(forwarded) < proxies:
        return remote
    return _valid_address(forwarded[-proxies]) or remote


def lockout_parameters(request, credentials) -> list[str]:
    """A password login is limited per account and per address; an API token per address."""
    if credentials and credentials.get("username"):
        return ["username", "ip_address"]
    return ["ip_address"]


def not_counted(request, credentials) -> bool:
    """Only password logins and API tokens count (a single sign-on callback has neither)."""
    return not (credentials and (credentials.get("username") or credentials.get(API_TOKEN)))


def _recent(**filters):
    return AccessAttempt.objects.filter(attempt_time__gte=timezone.now() - cool_off(), **filters)


def _locked_until(attempts) -> datetime | None:
    found = attempts.aggregate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
    if (found["failures"] or 0) >= settings.LOGIN_FAILURE_LIMIT:
        return found["last"] + cool_off()
    return None


def locked_until(*, username: str | None = None, address: str | None = None) -> datetime | None:
    """When the lockout of the account or the address (whichever ends later) ends; None when
    neither is locked."""
    ends = []
    if username:
        ends.append(_locked_until(_recent(username=username)))
    if address:
        ends.append(_locked_until(_recent(ip_address=address)))
    ends = [end for end in ends if end is not None]
    return max(ends) if ends else None


def seconds_left(until: datetime) -> int:
    return max(1, math.ceil((until - timezone.now()).total_seconds()))


def lockout_message(until: datetime) -> str:
    minutes = math.ceil(seconds_left(until) / 60)
    return (
        f"Too many failed logins for this account or from your address: logging in is locked "
        f"for {minutes} more minute{'s' if minutes != 1 else ''}. Try again later, or ask a "
        "SuperUser to unlock it on the Users page."
    )


#: Set on a request to the sign-in realm's token endpoint: its lockout answer is Keycloak's JSON.
TOKEN_ENDPOINT = "studio_token_endpoint"


def lockout_response(request, original_response=None, credentials=None):
    """The login page, with the lockout message instead of the form's error (429); for the
    token endpoint, Keycloak's error JSON (400 invalid_grant) with the same message."""
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    until = locked_until(username=username, address=request.axes_ip_address) or (
        timezone.now() + cool_off()
    )
    if getattr(request, TOKEN_ENDPOINT, False):
        refusal = JsonResponse(
            {"error": "invalid_grant", "error_description": lockout_message(until)}, status=400
        )
        refusal["Retry-After"] = str(seconds_left(until))
        refusal["Cache-Control"] = "no-store"
        return refusal
    form = AuthenticationForm(request, initial={"username": username})
    response = render(
        request,
        "accounts/login.html",
        {
            "form": form,
            "lockout": lockout_message(until),
            "next": request.POST.get("next", ""),
            "oidc_enabled": settings.OIDC_ENABLED,
            "local_login": settings.OIDC_LOCAL_LOGIN,
        },
        status=429,
    )
    response["Retry-After"] = str(seconds_left(until))
    return response


# -- API tokens -----------------------------------------------------------------------------


def record_api_token_failure(request) -> datetime | None:
    """Count a wrong API token against the request's address (unless the address is already
    locked); returns when the address's lockout ends if it is now locked."""
    AxesProxyHandler.update_request(request)
    address = request.axes_ip_address
    until = locked_until(address=address)
    if until is not None:
        return until
    user_agent = request.META.get("HTTP_USER_AGENT", "")[:255]
    with transaction.atomic():
        AccessAttempt.objects.filter(attempt_time__lt=timezone.now() - cool_off()).delete()
        attempt, created = AccessAttempt.objects.select_for_update().get_or_create(
            username=None,
            ip_address=address,
            user_agent=user_agent,
            defaults={
                "get_data": "",
                "post_data": "",
                "http_accept": request.META.get("HTTP_ACCEPT", "")[:1025],
                "path_info": request.path[:255],
                "failures_since_start": 1,
            },
        )
        if not created:
            AccessAttempt.objects.filter(pk=attempt.pk).update(
                failures_since_start=F("failures_since_start") + 1, attempt_time=timezone.now()
            )
    return locked_until(address=address)


# -- what SuperUsers see and undo -----------------------------------------------------------


@dataclass
class Lockout:
    kind: str  # "account" or "address"
    value: str
    failures: int
    until: datetime


def current_lockouts() -> list[Lockout]:
    """Every account and address locked right now, the longest lockout first."""
    found = []
    for kind, field in (("account", "username"), ("address", "ip_address")):
        rows = (
            _recent()
            .exclude(**{f"{field}__isnull": True})
            .values(field)
            .annotate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
            .filter(failures__gte=settings.LOGIN_FAILURE_LIMIT)
        )
        found += [
            Lockout(kind, row[field], row["failures"], row["last"] + cool_off()) for row in rows
        ]
    return sorted(found, key=lambda lockout: lockout.until, reverse=True)


def unlock(*, username: str | None = None, address: str | None = None) -> int:
    """Forget the failures of an account (from every address) or of an address."""
    if username:
        return AxesProxyHandler.reset_attempts(username=username)
    if address:
        return AxesProxyHandler.reset_attempts(ip_address=address)
    return 0
