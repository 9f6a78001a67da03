"""What the browser tests share."""

from __future__ import annotations

from typing import Any

# Every test user's password (the `make_user` fixture's).
PASSWORD = "pw"


def log_in(page: Any, username: str = "fiona", *, list_view: bool = False) -> None:
    """Sign in on the login page. `list_view`: flow canvases open as their list of cards (for
    the journeys that drive the cards; the graph view has its own tests)."""
    page.goto("/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/")
    if list_view:
        page.evaluate("localStorage.setItem('studio.canvas.view', 'list')")
