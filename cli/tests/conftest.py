"""The CLI's tests run with HOME in a temporary directory, so the configuration and token files
they read and write are their own."""

from __future__ import annotations

import pytest

from studio_cli import settings


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for variable in [*settings.ENVIRONMENT.values(), settings.DISABLE_VERIFY_VARIABLE]:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.delenv("STUDIO_PASSWORD", raising=False)
    return home
