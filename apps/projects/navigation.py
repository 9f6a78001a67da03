"""The assistant's left navigation and where each role lands.

Each app that adds a page to an assistant registers it here with the capability it needs; the
navigation shows only pages the user's roles allow, and `landing_url` sends each role to its
page (see `apps.accounts.roles.LANDING_PAGES`), falling back to the overview.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse

from apps.accounts.roles import LANDING_PAGES, Cap
from apps.projects.access import assistant_caps, assistant_roles


@dataclass(frozen=True)
class Page:
    key: str
    label: str
    url_name: str
    capability: Cap
    modes: tuple[str, ...] = ("modern", "classic")


PAGES: list[Page] = [
    Page("overview", "Overview", "projects:overview", Cap.VIEW_ASSISTANT),
    Page("members", "Members", "projects:members", Cap.MANAGE_USERS),
    Page("files", "config.yml / endpoints.yml", "projects:files", Cap.MANAGE_SETTINGS),
    Page("settings", "Settings", "projects:settings", Cap.MANAGE_SETTINGS),
]


#: Pages registered to follow a page that is not registered yet, by that page's key.
_WAITING: dict[str, Page] = {}


def register(page: Page, *, before: str | None = None, after: str | None = None) -> None:
    """Add a page to the navigation (apps call this from AppConfig.ready), before the page
    `before` or after the page `after` (which may be registered later by another app)."""
    if any(p.key == page.key for p in PAGES):
        return
    if after is not None:
        index = next((i + 1 for i, p in enumerate(PAGES) if p.key == after), None)
        if index is None:
            _WAITING[after] = page
            return
    else:
        index = next((i for i, p in enumerate(PAGES) if p.key == before), len(PAGES))
    PAGES.insert(index, page)
    waiting = _WAITING.pop(page.key, None)
    if waiting is not None:
        register(waiting, after=page.key)


def pages_for(user, assistant) -> list[dict]:
    caps = assistant_caps(user, assistant)
    return [
        {"key": p.key, "label": p.label, "url": reverse(p.url_name, args=[assistant.name])}
        for p in PAGES
        if p.capability in caps and assistant.mode in p.modes
    ]


def landing_url(user, assistant) -> str:
    pages = {p["key"]: p["url"] for p in pages_for(user, assistant)}
    for role in sorted(assistant_roles(user, assistant)):
        for key in LANDING_PAGES[role]:
            if key in pages:
                return pages[key]
    return reverse("projects:overview", args=[assistant.name])
